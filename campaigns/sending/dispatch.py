"""What the tasks call: one slice of sending, and the minute-by-minute dispatch of due campaigns.

Time lives in the database (send_at, next_attempt_at), never in long Celery countdowns: on Redis a
countdown longer than the visibility timeout is delivered again and again.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from ..models import Campaign, CampaignActionNotAllowed
from .freeze import start_campaign
from .sender import finish_if_done, give_up_stuck, next_due_in, send_due, sender_alive

logger = logging.getLogger(__name__)

REQUEUE_WITHIN = 60  # seconds: anything due later waits for the beat


def send_slice(campaign_id: int, *, requeue: Any) -> int:
    """send_due, then queue the next slice when someone is due within REQUEUE_WITHIN seconds."""
    sent = send_due(campaign_id)
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is not None and campaign.status == Campaign.Status.SENDING:
        due_in = next_due_in(campaign)
        if due_in is not None and due_in <= REQUEUE_WITHIN:
            requeue.apply_async((campaign_id,), countdown=due_in)
    return sent


def dispatch_due_campaigns(*, send: Any) -> None:
    """Start due SCHEDULED campaigns; give every SENDING one a sender if none is alive."""
    now = timezone.now()
    for campaign in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, send_at__lte=now):
        try:
            start_campaign(campaign)
        except CampaignActionNotAllowed:
            continue  # paused or cancelled meanwhile, or another dispatcher started it
        logger.info("Campaign %s started: %d people", campaign.pk, campaign.audience_size)
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING):
        give_up_stuck(campaign)
        if finish_if_done(campaign):
            continue
        due_in = next_due_in(campaign)
        if due_in is not None and due_in <= REQUEUE_WITHIN and not sender_alive(campaign.pk):
            send.delay(campaign.pk)
