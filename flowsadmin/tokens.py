"""Flow tokens we issue: signed, so the endpoint and the completion webhook know who and which campaign.

The token is the `flow_token` of a Flow message or template button. Meta passes it back on every
endpoint request and in the completion's response_json, so ours carry the recipient's WhatsApp id,
the campaign and the flow. Tokens issued by someone else (a business sending Flows from its own
systems) are accepted as opaque strings; only a token that claims to be ours must prove it.
"""

from __future__ import annotations

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


def read_flow_token(token: object) -> dict | None:
    """{"whatsapp_id", "campaign_id", "flow"} from one of our tokens; None if foreign or forged."""
    if not looks_like_ours(token):
        return None
    try:
        payload = signing.loads(token[len(PREFIX) :], salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("w"), str):
        return None
    return {
        "whatsapp_id": payload["w"],
        "campaign_id": payload.get("c"),
        "flow": payload.get("f"),
    }
