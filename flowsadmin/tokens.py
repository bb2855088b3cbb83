"""Flow tokens we issue: signed, so the endpoint and the completion webhook know who and which campaign.

The token is the `flow_token` of a Flow message or template button. Meta passes it back on every
endpoint request and in the completion's response_json, so ours carry the recipient's WhatsApp id,
the campaign and the flow. Tokens issued by someone else (a business sending Flows from its own
systems) are accepted as opaque strings; only a token that claims to be ours must prove it.

Each token carries the time it was issued (django.core.signing's timestamp) and expires after
FLOW_TOKEN_MAX_AGE_DAYS: the endpoint refuses an expired one on a flow that accepts only our tokens,
with Meta's invalid-token answer. A completion that arrives with an expired token is still recorded:
the person did answer.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

PREFIX = "wft1."  # marks a token as ours; bumped if the payload ever changes shape
SALT = "flow-token"


def issue_flow_token(
    *, whatsapp_id: str, campaign_id: int | None = None, flow: object | None = None
) -> str:
    """A signed token naming the recipient, and optionally the campaign and the flow (its public id)."""
    payload: dict = {"w": str(whatsapp_id)}
    if campaign_id is not None:
        payload["c"] = campaign_id
    if flow is not None:
        payload["f"] = str(getattr(flow, "public_id", flow))
    return PREFIX + signing.dumps(payload, salt=SALT, compress=True)


def looks_like_ours(token: object) -> bool:
    return isinstance(token, str) and token.startswith(PREFIX)


def max_age() -> timedelta:
    return timedelta(days=settings.FLOW_TOKEN_MAX_AGE_DAYS)


def read_flow_token(token: object) -> dict | None:
    """{"whatsapp_id", "campaign_id", "flow", "expired"} from one of our tokens; None if foreign or
    forged. "expired" is true when it was issued longer than FLOW_TOKEN_MAX_AGE_DAYS ago."""
    if not looks_like_ours(token):
        return None
    signed, expired = token[len(PREFIX) :], False
    try:
        payload = signing.loads(signed, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        # Genuine but old: read again without the age limit, for the callers that still want it.
        payload, expired = signing.loads(signed, salt=SALT), True
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("w"), str):
        return None
    return {
        "whatsapp_id": payload["w"],
        "campaign_id": payload.get("c"),
        "flow": payload.get("f"),
        "expired": expired,
    }
