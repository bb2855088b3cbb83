"""What the campaign pages' buttons call: publish, pause, resume, cancel and delete a draft.

Each checks the status table first (CampaignActionNotAllowed, worded for the page), changes the
campaign with its model transition, and queues sending after the commit where there is any to do.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from .models import Campaign, CampaignActionNotAllowed, Recipient
from .sending import start_campaign

__all__ = [
    "cancel_campaign",
    "delete_campaign",
    "pause_campaign",
    "publish_campaign",
    "resume_campaign",
    "start_campaign",
]


def _kick(campaign: Campaign) -> None:
    """Don't wait for the beat's next minute when there is something to do now (after the commit,
    so the worker sees the new status)."""
    from .tasks import dispatch_due_campaigns_task, send_campaign_task

    if campaign.status == Campaign.Status.SENDING:
        send_campaign_task.delay_on_commit(campaign.pk)
    else:
        dispatch_due_campaigns_task.delay_on_commit()


def publish_campaign(
    campaign: Campaign, *, by: object, send_at: datetime | None = None
) -> Campaign:
    """DRAFT -> SCHEDULED for send_at (default: the time chosen on the campaign, else now); the beat
    freezes its audience when it is due."""
    with transaction.atomic():
        campaign.mark_published(send_at or campaign.send_at)
        _kick(campaign)
    return campaign


def pause_campaign(campaign: Campaign, *, by: object) -> Campaign:
    """Stop sending; sends already on their way to Meta finish."""
    campaign.mark_paused(f"Paused by {by}." if by else "Paused.")
    return campaign


def resume_campaign(campaign: Campaign, *, by: object) -> Campaign:
    """Carry on from where it stopped (or wait for send_at, if it never started)."""
    with transaction.atomic():
        campaign.mark_resumed()
        _kick(campaign)
    return campaign


def cancel_campaign(campaign: Campaign, *, by: object) -> Campaign:
    """Stop for good: nobody still queued is sent to."""
    with transaction.atomic():
        campaign.mark_cancelled()
        Recipient.objects.filter(campaign=campaign).cancel_queued()
    return campaign


def delete_campaign(campaign: Campaign, *, by: object) -> None:
    """A draft goes, with its uploaded numbers; a campaign that was ever published stays, for its
    results."""
    if not campaign.can("delete"):
        raise CampaignActionNotAllowed("delete", campaign.status)
    campaign.delete()
