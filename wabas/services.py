"""Writes that touch several WABA models at once."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from .graph import GraphClient, MetaError, MetaTransientError
from .models import KeyAccessLog, KeyPair, PhoneNumber, Waba


def create_waba(waba: Waba) -> Waba:
    """Save a new WABA together with its key pair, which is made once and never changes."""
    with transaction.atomic():
        waba.save()
        KeyPair.generate_for(waba)
    return waba


def record_key_access(
    waba: Waba, *, request: HttpRequest, action: str, succeeded: bool, refusal: str = ""
) -> KeyAccessLog:
    """Write the audit row for one attempt to reveal or download a private key (`refusal`: why a
    refused one was refused, a KeyAccessLog.Refusal)."""
    return KeyAccessLog.objects.create(
        waba=waba,
        user=request.user,
        username=request.user.get_username(),
        action=action,
        succeeded=succeeded,
        refusal="" if succeeded else refusal,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", "")[:300],
    )


def register_public_key(phone: PhoneNumber, *, client: GraphClient) -> PhoneNumber:
    """Upload the WABA's public key for this number and record Meta's answer on it.

    Transient failures propagate (the task retries them); anything else Meta says is shown to admins.
    """
    try:
        client.set_business_public_key(phone.meta_phone_number_id, phone.waba.key_pair.public_pem)
    except MetaTransientError:
        raise
    except MetaError as exc:
        phone.mark_key_failed(str(exc))
        return phone
    phone.mark_key_registered()
    return phone


# Meta's throughput levels in messages per second: 80 by default, up to 1,000 once upgraded
# (https://developers.facebook.com/docs/whatsapp/throughput).
THROUGHPUT_LEVELS = {"STANDARD": 80, "HIGH": 1000}


def subscribe_waba(waba: Waba, *, client: GraphClient) -> bool:
    """Subscribe our app to the WABA's webhooks (POST /{waba-id}/subscribed_apps); record the outcome.

    Returns whether Meta agreed. Transient failures propagate for the caller to retry.
    """
    try:
        client.subscribe_app(waba.meta_waba_id)
    except MetaTransientError:
        raise
    except MetaError as exc:
        waba.mark_subscription_failed(str(exc))
        return False
    waba.mark_subscribed()
    return True


def connect_waba(waba: Waba, *, client: GraphClient) -> bool:
    """Check the credentials by importing the WABA's phone numbers from Meta, then subscribe our app
    to the WABA's webhooks; record both outcomes.

    Returns whether Meta answered. Transient failures propagate for the caller to retry.
    """
    try:
        numbers = client.list_phone_numbers(waba.meta_waba_id)
    except MetaTransientError:
        raise
    except MetaError as exc:
        waba.mark_connection_failed(str(exc))
        return False
    with transaction.atomic():
        for item in numbers:
            quality = item.get("quality_rating")
            level = (item.get("throughput") or {}).get("level")
            PhoneNumber.objects.update_or_create(
                waba=waba,
                meta_phone_number_id=str(item["id"]),
                defaults={
                    "display_phone_number": item.get("display_phone_number", ""),
                    "verified_name": item.get("verified_name", ""),
                    "quality_rating": quality
                    if quality in PhoneNumber.Quality.values
                    else PhoneNumber.Quality.UNKNOWN,
                    "throughput_mps": THROUGHPUT_LEVELS.get(level, 80),
                },
            )
        waba.mark_connected()
    # Outside the transaction: a network call must not hold the numbers' row locks.
    subscribe_waba(waba, client=client)
    return True
