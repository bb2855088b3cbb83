"""The Graph API stand-in: the WABA node, its phone numbers, app subscriptions and the Flows public key."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.urls import reverse

from ..models import Account, PhoneNumber
from .core import Call, invalid, page, required, route, select

# --- WABA -----------------------------------------------------------------------------------------


def waba_summary(account: Account) -> dict:
    return {
        "id": account.waba_id,
        "name": account.name,
        "timezone_id": "1",
        "message_template_namespace": account.template_namespace,
    }


@route("waba", "", "GET")
def get_waba(call: Call, account: Account) -> dict:
    summary = waba_summary(account)
    getters = {name: (lambda m, v=value: v) for name, value in summary.items()}
    return select(call, "waba", getters, list(summary))


@route("waba", "phone_numbers", "GET")
def list_phone_numbers(call: Call, account: Account) -> dict:
    return page(call, account.phone_numbers.all(), lambda phone: _phone_fields(call, phone))


def _phone_fields(call: Call, phone: PhoneNumber) -> dict:
    full = {
        "id": phone.phone_number_id,
        "display_phone_number": phone.display_phone_number,
        "verified_name": phone.verified_name,
        "code_verification_status": "VERIFIED",
        "quality_rating": phone.quality_rating,
        "platform_type": "CLOUD_API",
        "throughput": {"level": phone.throughput_level},
    }
    getters = {name: (lambda m, v=value: v) for name, value in full.items()}
    return select(call, "phone", getters, list(full))


@route("waba", "subscribed_apps", "GET")
def list_subscribed_apps(call: Call, account: Account) -> dict:
    if not account.subscribed:
        return {"data": []}
    app = {
        "id": account.app_id or "0",
        "name": "Sandbox app",
        "link": call.absolute(reverse("sandbox:home")),
    }
    return {"data": [{"whatsapp_business_api_data": app}]}


@route("waba", "subscribed_apps", "POST")
def subscribe_app(call: Call, account: Account) -> dict:
    """POST /{waba-id}/subscribed_apps: from now on the account's webhooks are delivered."""
    account.subscribed = True
    account.save(update_fields=["subscribed"])
    return {"success": True}


@route("waba", "subscribed_apps", "DELETE")
def unsubscribe_app(call: Call, account: Account) -> dict:
    account.subscribed = False
    account.save(update_fields=["subscribed"])
    return {"success": True}


# --- Encryption key -------------------------------------------------------------------------------


@route("phone", "", "GET")
def get_phone(call: Call, phone: PhoneNumber) -> dict:
    return _phone_fields(call, phone)


@route("phone", "whatsapp_business_encryption", "POST")
def set_public_key(call: Call, phone: PhoneNumber) -> dict:
    """POST /{phone-number-id}/whatsapp_business_encryption with business_public_key (PEM, RSA-2048)."""
    required(call, "business_public_key")
    pem = call.params["business_public_key"]
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise invalid("Param business_public_key is an invalid 2048-bit PEM key.")
    phone.store_public_key(pem)
    return {"success": True}


@route("phone", "whatsapp_business_encryption", "GET")
def get_public_key(call: Call, phone: PhoneNumber) -> dict:
    if not phone.business_public_key:
        return {"data": []}
    return {
        "data": [
            {
                "business_public_key": phone.business_public_key,
                "business_public_key_signature_status": "VALID",
            }
        ]
    }
