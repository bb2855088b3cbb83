"""A WhatsApp number typed by a person (a test send, a flow sent as a message), as Meta's `to` takes it."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError


def whatsapp_id(typed: str) -> str:
    """The number in E.164 without the +; a ValidationError in words when it is not one."""
    text = typed.strip()
    candidate = text if text.startswith("+") else "+" + text
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        number = None
    # "Possible" (right length for its country) rather than "valid": test numbers such as
    # +1 555 01xx are fictional yet must be reachable on the sandbox.
    if number is None or not phonenumbers.is_possible_number(number) or re.search("[A-Za-z]", text):
        raise ValidationError(
            f"{text} is not a phone number: write it with its country code, e.g. +44 7700 900123."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
