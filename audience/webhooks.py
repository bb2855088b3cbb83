"""The `messages` field of Meta's webhooks: Flow completions (nfm_reply) become events on profiles."""

from __future__ import annotations

from wabas.models import Waba
from wabas.webhooks import Refused

from .services import record_completion


def handle_messages_change(waba: Waba, value: dict) -> str:
    """Record each Flow completion in the change; other messages and statuses are not ours."""
    contacts, messages = value.get("contacts") or [], value.get("messages") or []
    if not isinstance(contacts, list) or not isinstance(messages, list):
        raise Refused("contacts or messages is not a list")
    names = {}
    for contact in contacts:
        profile = contact.get("profile") if isinstance(contact, dict) else None
        name = profile.get("name") if isinstance(profile, dict) else None
        if isinstance(name, str):
            names[str(contact.get("wa_id"))] = name
    results = []
    for message in messages:
        interactive = message.get("interactive") if isinstance(message, dict) else None
        if (
            not isinstance(interactive, dict)
            or message.get("type") != "interactive"
            or interactive.get("type") != "nfm_reply"
        ):
            continue
        reply = interactive.get("nfm_reply")
        if not isinstance(reply, dict):
            results.append("a flow reply whose nfm_reply is not an object, refused.")
            continue
        # nfm_reply also carries other native-flow features; only "flow" is a Flow completion.
        if reply.get("name", "flow") != "flow":
            continue
        contact_name = names.get(str(message.get("from")), "")
        results.append(record_completion(waba, message, contact_name=contact_name))
    # "" tells the webhook log the change was not ours (statuses are the campaigns app's).
    return " ".join(results)
