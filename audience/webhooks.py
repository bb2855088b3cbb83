"""The `messages` field of Meta's webhooks: Flow completions (nfm_reply) become events on profiles."""

from __future__ import annotations

from wabas.models import Waba

from .services import record_completion


def handle_messages_change(waba: Waba, value: dict) -> str:
    """Record each Flow completion in the change; other messages and statuses are not ours."""
    names = {
        str(contact.get("wa_id")): (contact.get("profile") or {}).get("name") or ""
        for contact in value.get("contacts") or []
        if isinstance(contact, dict)
    }
    results = []
    for message in value.get("messages") or []:
        interactive = message.get("interactive") if isinstance(message, dict) else None
        if (
            not isinstance(interactive, dict)
            or message.get("type") != "interactive"
            or interactive.get("type") != "nfm_reply"
            # nfm_reply also carries other native-flow features; only "flow" is a Flow completion.
            or (interactive.get("nfm_reply") or {}).get("name", "flow") != "flow"
        ):
            continue
        contact_name = names.get(str(message.get("from")), "")
        results.append(record_completion(waba, message, contact_name=contact_name))
    # "" tells the webhook log the change was not ours (statuses are the campaigns app's).
    return " ".join(results)
