from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def as_text(value: object) -> str:
    """A property value as given: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
