"""Writes that touch several WABA models at once."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from .models import KeyAccessLog, KeyPair, Waba


def create_waba(waba: Waba) -> Waba:
    """Save a new WABA together with its key pair, which is made once and never changes."""
    with transaction.atomic():
        waba.save()
        KeyPair.generate_for(waba)
    return waba


def record_key_access(
    waba: Waba, *, request: HttpRequest, action: str, succeeded: bool
) -> KeyAccessLog:
    """Write the audit row for one attempt to reveal or download a private key."""
    return KeyAccessLog.objects.create(
        waba=waba,
        user=request.user,
        username=request.user.get_username(),
        action=action,
        succeeded=succeeded,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", "")[:300],
    )
