"""A campaign's "flow opened" and "completed", from the flow tokens that come back (audience's signal)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce

from .models import Recipient


def record_flow_token_seen(
    sender: object, *, token: dict, kind: str, at: datetime, **_: object
) -> int:
    """Set the recipient's opened_at / completed_at the first time; returns the rows changed.

    The token names the campaign and the person it was sent to, so a forwarded or shared message
    still counts for the recipient it was meant for. A conditional UPDATE: repeats change nothing.
    """
    try:
        campaign_id = int(token["campaign_id"])
    except (KeyError, TypeError, ValueError):
        return 0
    recipients = Recipient.objects.filter(
        campaign_id=campaign_id, whatsapp_id=str(token.get("whatsapp_id") or "")
    )
    if kind == "opened":
        return recipients.filter(opened_at__isnull=True).update(opened_at=at)
    if kind == "completed":
        # A flow without an endpoint never calls us before its completion: completing it is opening it.
        return recipients.filter(completed_at__isnull=True).update(
            completed_at=at,
            opened_at=Coalesce("opened_at", Value(at, output_field=DateTimeField())),
        )
    return 0
