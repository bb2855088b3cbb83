"""Celery entry points of the sandbox: webhook delivery, template review, message statuses."""

from __future__ import annotations

from celery import shared_task

from . import services
from .models import Message, SentWebhook, Template

# Meta retries failed webhooks for days; the sandbox tries a few times, 10 s, 40 s and 160 s apart.
WEBHOOK_RETRIES = 3
WEBHOOK_BACKOFF = 10


@shared_task(bind=True, acks_late=True, max_retries=WEBHOOK_RETRIES)
def deliver_webhook_task(self: object, delivery_id: int) -> None:
    """POST one recorded webhook; a delivered one is never sent again."""
    delivery = SentWebhook.objects.select_related("account").filter(pk=delivery_id).first()
    if delivery is None or delivery.delivered:
        return
    if self.request.is_eager:
        # An in-process run cannot be rescheduled, and with eager propagation a Retry would be raised
        # into the request that queued it: try again at once instead, as many times.
        for _ in range(1 + WEBHOOK_RETRIES):
            if services.deliver_webhook(delivery):
                return
        return
    if not services.deliver_webhook(delivery) and self.request.retries < WEBHOOK_RETRIES:
        raise self.retry(countdown=WEBHOOK_BACKOFF * 4**self.request.retries)


@shared_task(acks_late=True)
def review_template_task(template_id: int) -> None:
    """Finish Meta's review of a pending template (approve, or reject by the sandbox's rule)."""
    template = Template.objects.select_related("account").filter(pk=template_id).first()
    if template is None:
        return
    services.review_template(template)


@shared_task(acks_late=True)
def advance_message_task(message_id: int) -> None:
    """Move a sent message to its next status (sent, delivered, read) and report it by webhook."""
    message = (
        Message.objects.select_related("phone__account", "template").filter(pk=message_id).first()
    )
    if message is None:
        return
    services.advance_message(message)
