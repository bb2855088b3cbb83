from __future__ import annotations

from collections.abc import Callable, Iterable

from celery import Task, shared_task

from .graph import GraphClient, MetaTransientError
from .models import PhoneNumber, Waba, WebhookDelivery
from .services import connect_waba, register_public_key
from .webhooks import process_delivery


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


@shared_task(acks_late=True)
def process_webhook_task(delivery_id: int) -> None:
    """Apply a stored webhook delivery, once: a second run finds it already claimed."""
    if not WebhookDelivery.objects.claim(delivery_id):
        return
    process_delivery(WebhookDelivery.objects.get(pk=delivery_id))


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
