"""Template filters of the flow pages."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def soft_breaks(value: object) -> SafeString:
    """Let a long field name wrap after its underscores ("customer_service_experience"), never
    one letter per line."""
    return mark_safe(conditional_escape(str(value)).replace("_", "_<wbr>"))  # noqa: S308 - escaped first
