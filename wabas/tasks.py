from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from .graph import GraphClient, MetaTransientError
from .models import PhoneNumber, Waba, WebhookDelivery
from .services import connect_waba, register_public_key
from .webhooks import process_delivery

logger = logging.getLogger(__name__)


def meta_task(func: Callable) -> Task:
    """A task that calls Meta: transient failures retry with backoff and jitter, a few times; anything
    else Meta says is the service's to record, not the queue's to repeat."""
    return shared_task(
        autoretry_for=(MetaTransientError,),
        retry_backoff=True,
        retry_jitter=True,
        max_retries=5,
        acks_late=True,
    )(func)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    # The database went away mid-way: everything rolled back, so trying again soon is safe (the
    # beat's sweep is the backstop once these retries are spent).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def process_webhook_task(delivery_id: int) -> None:
    """Apply a stored webhook delivery, once: a second run finds it locked or finished."""
    process_delivery(delivery_id)


def queue_delivery(delivery: WebhookDelivery) -> bool:
    """Queue the processing of a stored (committed) delivery; False when the broker can't take it.

    Called outside any transaction: the view must know whether the task reached Redis, to tell Meta to
    deliver again (Meta retries a non-200) rather than lose the delivery's only prompt.
    """
    WebhookDelivery.objects.mark_queued([delivery.pk])
    try:
        process_webhook_task.delay(delivery.pk)
    except Exception:  # kombu's OperationalError, redis' ConnectionError...: the broker is away
        logger.warning(
            "Could not queue webhook delivery %s; it waits for a retry", delivery.pk, exc_info=True
        )
        return False
    return True


@shared_task
def retake_stuck_webhooks_task() -> int:
    """Beat: queue again every delivery left unfinished (its task lost with a worker or with Redis)."""
    stuck = list(WebhookDelivery.objects.stuck().values_list("pk", flat=True)[:1000])
    WebhookDelivery.objects.mark_queued(stuck)
    for pk in stuck:
        process_webhook_task.delay(pk)
    if stuck:
        logger.warning("Queued %s unfinished webhook deliveries again", len(stuck))
    return len(stuck)


@meta_task
def register_public_key_task(phone_id: int) -> None:
    """Upload the WABA's public key for one phone number; Meta's refusals are recorded on the number."""
    phone = PhoneNumber.objects.select_related("waba__key_pair").filter(pk=phone_id).first()
    if phone is None:
        return
    register_public_key(phone, client=GraphClient.for_waba(phone.waba))


def register_public_keys(phones: Iterable[PhoneNumber]) -> None:
    """Mark the numbers pending and queue a key registration for each, after the transaction commits."""
    for phone in phones:
        phone.mark_key_pending()
        register_public_key_task.delay_on_commit(phone.pk)


@meta_task
def connect_waba_task(waba_id: int) -> None:
    """For a new WABA: import its phone numbers from Meta, then register the public key for each."""
    waba = Waba.objects.filter(pk=waba_id).first()
    if waba is None:
        return
    if connect_waba(waba, client=GraphClient.for_waba(waba)):
        register_public_keys(waba.phone_numbers.all())
