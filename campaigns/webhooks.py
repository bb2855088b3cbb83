"""Message statuses from Meta's webhook onto the campaign's delivery records."""

from __future__ import annotations

from wabas.models import Waba

from .models import Recipient


def handle_message_statuses(waba: Waba, value: dict) -> str:
    """`messages` field, statuses[] part: sent / delivered / read / failed per wamid."""
    statuses = [s for s in value.get("statuses") or [] if isinstance(s, dict)]
    if not statuses:
        return ""  # a message from a user, not a status: another handler's business
    recipients = {
        r.wamid: r
        for r in Recipient.objects.filter(
            campaign__waba=waba, wamid__in=[str(s.get("id")) for s in statuses]
        )
    }
    said = []
    for status in statuses:
        recipient = recipients.get(str(status.get("id")))
        if recipient is None:
            said.append(
                f"status {status.get('status')!r} for unknown message {status.get('id')!r}, kept."
            )
            continue
        errors = status.get("errors") or [{}]
        error = f"{errors[0].get('code', '')} {errors[0].get('title', '')}".strip()
        if recipient.apply_status(str(status.get("status", "")), error=error):
            said.append(f"message to {recipient.whatsapp_id} is {recipient.status}.")
        else:
            said.append(
                f"status {status.get('status')!r} for {recipient.whatsapp_id} ignored (not newer)."
            )
    return " ".join(said)
