"""Meta's webhooks: signature checks, durable storage, and dispatch of each change to the app that owns it.

Apps register a handler per webhook `field` (flowsadmin handles "flows"); a field nobody handles is
kept and shown to admins, never crashed on. Handlers must be idempotent (a delivery may run again after
a killed worker, or when an admin replays it) and may raise Refused for a shape they can't apply.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from .crypto import valid_hub_signature
from .models import Waba, WebhookDelivery
from .safe_text import loads_clean

logger = logging.getLogger(__name__)

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


def store_delivery(body: bytes, *, signature: str, waba: Waba) -> tuple[WebhookDelivery, bool]:
    """Save the raw delivery; (the stored delivery, False) when the very same body came before."""
    sha = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                waba=waba, body=body, body_sha256=sha, signature=signature
            )
            return delivery, True
    except IntegrityError:
        return WebhookDelivery.objects.defer("body").get(body_sha256=sha), False


class Refused(ValueError):
    """A change (or part of one) whose shape we can't apply: recorded with its reason, the rest goes on."""


def changes_of(payload: object) -> list[tuple[str, str, dict | None, str]]:
    """(WABA id, field, value, why refused or "") per change of Meta's envelope.

    Raises Refused when the body has no entry list at all; an odd entry or change is refused alone.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise Refused("no entry list in the body")
    found = []
    for number, entry in enumerate(payload["entry"], start=1):
        if not isinstance(entry, dict):
            found.append(("", "?", None, f"entry {number} is not an object"))
            continue
        waba_id = entry.get("id")
        waba_id = str(waba_id) if isinstance(waba_id, str | int) else ""
        changes = entry.get("changes")
        if changes is None:
            continue
        if not isinstance(changes, list):
            found.append((waba_id, "?", None, f"entry {number}: changes is not a list"))
            continue
        for change in changes:
            if not isinstance(change, dict):
                found.append((waba_id, "?", None, f"entry {number}: a change is not an object"))
                continue
            field = change.get("field")
            field = field[:100] if isinstance(field, str) else "?"
            value = change.get("value")
            if not isinstance(value, dict):
                found.append((waba_id, field, None, "its value is not an object"))
                continue
            found.append((waba_id, field, value, ""))
    return found


def process_delivery(delivery_id: int) -> bool:
    """Apply every change of a stored, unfinished delivery; False when there was nothing to do.

    All of it happens in one transaction that starts by locking the row: a worker killed mid-way, or a
    database that drops the connection, rolls everything back and leaves the delivery RECEIVED for the
    next try (Celery's redelivery, or the beat's sweep), never half-applied and never stuck. A second
    task for the same delivery skips the locked row, or finds it finished. A handler's error marks the
    delivery FAILED with the reason, for an admin to replay; a lost connection is left to the retries.
    """
    try:
        with transaction.atomic():
            delivery = (
                WebhookDelivery.objects.unfinished()
                .select_for_update(skip_locked=True)
                .filter(pk=delivery_id)
                .first()
            )
            if delivery is None:
                return False
            _apply(delivery)
            return True
    except (OperationalError, InterfaceError):
        raise  # the database went away: nothing was kept, the delivery is still RECEIVED
    except Exception as exc:
        # Outside any one change (a bug of ours): rolled back, then recorded in a fresh transaction.
        logger.exception("Webhook delivery %s failed", delivery_id)
        WebhookDelivery.objects.unfinished().filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED,
            result=f"Failed: {_reason(exc)}",
            processed_at=timezone.now(),
        )
        return True


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _apply(delivery: WebhookDelivery) -> None:
    try:
        # Where a webhook body enters: NUL and lone surrogates are replaced here, once.
        changes = changes_of(loads_clean(bytes(delivery.body)))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and Refused are ValueErrors
        delivery.finish(WebhookDelivery.Status.FAILED, f"Not a Meta webhook: {exc}.")
        return
    delivery.fields = sorted({field for _, field, _, _ in changes})
    wabas = {
        w.meta_waba_id: w for w in Waba.objects.filter(meta_waba_id__in={c[0] for c in changes})
    }
    results, failed = [], False
    for waba_id, field, value, refusal in changes:
        waba = wabas.get(waba_id)
        handlers = HANDLERS.get(field)
        if refusal:
            results.append(f"{field}: refused, {refusal}.")
        elif waba is None:
            results.append(f"{field}: unknown WABA id {waba_id!r}, kept and not applied.")
        elif not handlers:
            results.append(f"{field}: no handler for this field yet, kept as received.")
        else:
            said = []
            for handler in handlers:
                text, error = _run(handler, waba, value, delivery.pk)
                failed = failed or error
                if text:
                    said.append(text)
            results.append(f"{field}: {' '.join(said) or 'nothing to apply, kept as received.'}")
    status = WebhookDelivery.Status.FAILED if failed else WebhookDelivery.Status.PROCESSED
    delivery.finish(status, "\n".join(results) or "No changes in the body.")


def _run(handler: Handler, waba: Waba, value: dict, delivery_id: int) -> tuple[str, bool]:
    """(what the handler said, whether it failed), each handler in a savepoint of its own, so that
    one handler's error undoes only its own writes and the rest of the body is still applied."""
    try:
        with transaction.atomic():
            return handler(waba, value), False
    except (OperationalError, InterfaceError):
        raise
    except Refused as exc:
        return f"refused, {exc}.", False
    except Exception as exc:
        logger.exception("Webhook handler %r failed on delivery %s", handler, delivery_id)
        return f"failed, {_reason(exc)}.", True
