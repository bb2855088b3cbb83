"""Meta's webhooks: signature checks, durable storage, and dispatch of each change to the app that owns it.

Apps register a handler per webhook `field` (flowsadmin handles "flows"); a field nobody handles is
kept and shown to admins, never crashed on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction

from .crypto import valid_hub_signature
from .models import Waba, WebhookDelivery

# field -> handlers(waba, value), each returning a short sentence for the delivery's result, or ""
# when the change is not theirs (the "messages" field carries both statuses and flow completions).
Handler = Callable[[Waba, dict], str]
HANDLERS: dict[str, list[Handler]] = {}


def register_handler(field: str, handler: Handler) -> None:
    handlers = HANDLERS.setdefault(field, [])
    if handler not in handlers:
        handlers.append(handler)


def waba_signed_by(body: bytes, header: str) -> Waba | None:
    """The WABA whose app secret made this X-Hub-Signature-256, or None when none did.

    WABAs of one Meta app share its secret; WABAs of different apps have their own, so each is tried.
    """
    if not header.startswith("sha256="):
        return None
    # Only the app secret is decrypted, not every WABA's token and keys on every delivery.
    for waba in Waba.objects.only("id", "app_secret"):
        if valid_hub_signature(body, waba.app_secret, header):
            return waba
    return None


def store_delivery(body: bytes, *, signature: str, waba: Waba) -> WebhookDelivery | None:
    """Save the raw delivery; None when the very same body was stored before (a re-delivery)."""
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                waba=waba,
                body=body,
                body_sha256=hashlib.sha256(body).hexdigest(),
                signature=signature,
            )
    except IntegrityError:
        return None


def changes_of(payload: object) -> list[tuple[str, str, dict]]:
    """(WABA id, field, value) for each change in Meta's envelope; raises ValueError on another shape."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("no entry list in the body")
    found = []
    for entry in payload["entry"]:
        for change in entry.get("changes") or []:
            value = change.get("value")
            found.append(
                (
                    str(entry.get("id", "")),
                    str(change.get("field", "")),
                    value if isinstance(value, dict) else {},
                )
            )
    return found


def process_delivery(delivery: WebhookDelivery) -> None:
    """Apply every change of a stored delivery and record what happened to each."""
    try:
        changes = changes_of(json.loads(delivery.body_text()))
    except ValueError as exc:  # JSONDecodeError is a ValueError
        delivery.finish(WebhookDelivery.Status.FAILED, f"Not a Meta webhook: {exc}.")
        return
    delivery.fields = sorted({field for _, field, _ in changes})
    wabas = {
        w.meta_waba_id: w for w in Waba.objects.filter(meta_waba_id__in={c[0] for c in changes})
    }
    results = []
    for waba_id, field, value in changes:
        waba = wabas.get(waba_id)
        handlers = HANDLERS.get(field)
        if waba is None:
            results.append(f"{field}: unknown WABA id {waba_id!r}, kept and not applied.")
        elif not handlers:
            results.append(f"{field}: no handler for this field yet, kept as received.")
        else:
            said = [text for handler in handlers if (text := handler(waba, value))]
            results.append(f"{field}: {' '.join(said) or 'nothing to apply, kept as received.'}")
    delivery.finish(
        WebhookDelivery.Status.PROCESSED, "\n".join(results) or "No changes in the body."
    )
