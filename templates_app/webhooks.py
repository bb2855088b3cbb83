"""Template reviews, quality and category changes from Meta's webhooks, and the Flow lifecycle's effect
on templates."""

from __future__ import annotations

from datetime import UTC, datetime

from wabas.models import Waba

from .models import MessageTemplate


def find_template(waba: Waba, value: dict) -> MessageTemplate | None:
    """By Meta's id (a number in these webhooks), else by name and language (en_US or en-US)."""
    template_id = str(value.get("message_template_id", "") or "")
    templates = waba.templates.all()
    template = templates.filter(meta_template_id=template_id).first() if template_id else None
    if template is None:
        language = str(value.get("message_template_language", "") or "")
        template = templates.filter(
            name=value.get("message_template_name", ""),
            language__in={language, language.replace("-", "_")},
        ).first()
    return template


def _unknown(value: dict, what: str) -> str:
    name = value.get("message_template_id") or value.get("message_template_name")
    return f"{what} for unknown template {str(name)!r}, kept and not applied."


def handle_template_status(waba: Waba, value: dict) -> str:
    """message_template_status_update: Meta's review, pauses and their reasons."""
    if "new_quality_score" in value:
        # One of Meta's own examples labels a quality change with this field.
        return handle_template_quality(waba, value)
    event = str(value.get("event", ""))
    template = find_template(waba, value)
    if template is None:
        return _unknown(value, event)
    if not template.apply_review(
        event,
        reason=value.get("reason") or "",
        rejection_info=value.get("rejection_info"),
        other_info=value.get("other_info"),
    ):
        return f"unknown template status {event!r} for {template.name}, kept and not applied."
    return f"template {template.name} is now {event}."


def handle_template_quality(waba: Waba, value: dict) -> str:
    """message_template_quality_update: GREEN, YELLOW, RED or UNKNOWN."""
    score = str(value.get("new_quality_score", ""))
    template = find_template(waba, value)
    if template is None:
        return _unknown(value, f"quality {score}")
    if not template.apply_quality(score):
        return f"unknown quality score {score!r} for {template.name}, kept and not applied."
    return f"template {template.name} quality is now {score}."


def handle_template_category(waba: Waba, value: dict) -> str:
    """template_category_update: the day-ahead notice, or the move itself."""
    template = find_template(waba, value)
    if template is None:
        return _unknown(value, "category update")
    if value.get("new_category"):
        template.apply_category(
            str(value["new_category"]), previous=str(value.get("previous_category") or "")
        )
        return f"template {template.name} moved to {template.category}."
    if value.get("correct_category"):
        stamp = value.get("category_update_timestamp")
        at = datetime.fromtimestamp(int(stamp), tz=UTC) if str(stamp or "").isdigit() else None
        template.announce_category(str(value["correct_category"]), at)
        return f"template {template.name} will move to {template.announced_category}."
    return "no category in the change, kept and not applied."


def detach_deprecated_flow(sender: object, *, flow: object, **kwargs: object) -> None:
    """A deprecated flow can't be opened any more: no template may keep offering it."""
    MessageTemplate.objects.filter(flow=flow).update(flow=None)
