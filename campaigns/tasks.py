"""Celery entry points of the send pipeline: a few lines each, ids not objects."""

from __future__ import annotations

import logging

from celery import shared_task

from .sending import dispatch

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_campaign_task(campaign_id: int) -> None:
    """Send to the campaign's due recipients for one slice, then queue the next slice if any is due
    within a minute (later ones are the beat's, so no long countdown ever sits in Redis)."""
    dispatch.send_slice(campaign_id, requeue=send_campaign_task)


@shared_task
def dispatch_due_campaigns_task() -> None:
    """Every minute: start campaigns whose send_at has come, keep sending ones moving, settle the
    sends Meta never answered."""
    dispatch.dispatch_due_campaigns(send=send_campaign_task)
