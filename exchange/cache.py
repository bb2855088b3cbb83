"""What each process keeps for the endpoint: hosted flows for a few seconds, parsed private keys for good.

The receivers that forget a saved or deleted flow or WABA are connected in ExchangeConfig.ready().
"""

from __future__ import annotations

import time
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from flowsadmin.models import Flow
from wabas.models import KeyPair

from .crypto import load_private_key


@lru_cache(maxsize=64)
def private_key(key_pair_id: int) -> rsa.RSAPrivateKey:
    """The parsed private key of a key pair. Parsing PEM costs tens of milliseconds, so it is done
    once per process; key pairs never change after creation (KeyPair refuses updates), so the id is
    a safe cache key."""
    pem = KeyPair.objects.values_list("private_pem", flat=True).get(pk=key_pair_id)
    return load_private_key(pem)


def _load_hosted_flow(public_id: str) -> Flow | None:
    """The flow with the fields the endpoint needs, its WABA's secret and key pair id, in one query."""
    return (
        Flow.objects.filter(public_id=public_id, endpoint=Flow.Endpoint.HOSTED)
        .select_related("waba__key_pair")
        .only(
            "id",
            "public_id",
            "name",
            "meta_flow_id",
            "flow_json",
            "customer_endpoint_url",
            "requires_our_token",
            "waba__id",
            "waba__app_secret",
            "waba__key_pair__id",
        )
        .first()
    )


# public id -> (expiry on the monotonic clock, flow). The ORM query costs more than all the
# cryptography of a request, and Meta calls a flow many times a minute, so each process keeps what
# it loaded for a few seconds. Saving a flow or a WABA forgets it here at once (the receivers
# below); other processes see the change when their copy expires: a new customer endpoint URL or app
# secret takes effect within FLOW_ENDPOINT_CACHE_SECONDS. The Flow JSON of a published flow can't
# change, and key pairs never do.
_flows: dict[str, tuple[float, Flow]] = {}
MAX_CACHED_FLOWS = 1024


def hosted_flow(public_id: str) -> Flow | None:
    """The hosted flow with this public id (a lower-case UUID string), or None."""
    now = time.monotonic()
    cached = _flows.get(public_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    flow = _load_hosted_flow(public_id)
    if flow is None:
        _flows.pop(public_id, None)
        return None
    if len(_flows) >= MAX_CACHED_FLOWS:
        _flows.clear()
    _flows[public_id] = (now + getattr(settings, "FLOW_ENDPOINT_CACHE_SECONDS", 10), flow)
    return flow


def forget_flow(instance: Flow, **kwargs: object) -> None:
    """Receiver: a flow was saved or deleted."""
    _flows.pop(str(instance.public_id), None)


def forget_hosted_flows(**kwargs: object) -> None:
    """Forget every flow; the receiver for a saved or deleted WABA, whose app secret may have
    changed (WABA edits are rare)."""
    _flows.clear()
