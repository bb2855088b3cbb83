"""Template reviews from Meta's webhook, and the Flow lifecycle's effect on templates."""

from __future__ import annotations

from wabas.models import Waba

from .models import MessageTemplate


def handle_template_status(waba: Waba, value: dict) -> str:
    """message_template_status_update: find the template by Meta's id (a number here), else by name."""
    event = str(value.get("event", ""))
    template_id = str(value.get("message_template_id", ""))
    templates = waba.templates.all()
    template = templates.filter(meta_template_id=template_id).first() if template_id else None
    if template is None:
        template = templates.filter(
            name=value.get("message_template_name", ""),
            language=value.get("message_template_language", ""),
        ).first()
    if template is None:
        return f"{event} for unknown template {template_id or value.get('message_template_name')!r}, kept and not applied."
    if not template.apply_review(event, reason=value.get("reason") or ""):
        return f"unknown template status {event!r} for {template.name}, kept and not applied."
    return f"template {template.name} is now {event}."


def detach_deprecated_flow(sender: object, *, flow: object, **kwargs: object) -> None:
    """A deprecated flow can't be opened any more: no template may keep offering it."""
    MessageTemplate.objects.filter(flow=flow).update(flow=None)
