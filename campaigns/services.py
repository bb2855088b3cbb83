"""PLACEHOLDER state services, replaced by the send pipeline's at merge.

Only the simplest state change, so the campaign pages' buttons can be tested on this branch: the
real services freeze the audience, create the recipients and queue the sends.
"""

from __future__ import annotations

from django.utils import timezone

from .models import Campaign


def publish_campaign(campaign: Campaign, *, by: object) -> Campaign:
    campaign.require("publish")
    campaign.status = Campaign.Status.SCHEDULED if campaign.send_at else Campaign.Status.SENDING
    campaign.published_at = timezone.now()
    campaign.save(update_fields=["status", "published_at"])
    return campaign


def pause_campaign(campaign: Campaign, *, by: object) -> Campaign:
    campaign.require("pause")
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status"])
    return campaign


def resume_campaign(campaign: Campaign, *, by: object) -> Campaign:
    campaign.require("resume")
    campaign.status = Campaign.Status.SENDING
    campaign.save(update_fields=["status"])
    return campaign


def cancel_campaign(campaign: Campaign, *, by: object) -> Campaign:
    campaign.require("cancel")
    campaign.status = Campaign.Status.CANCELLED
    campaign.save(update_fields=["status"])
    return campaign
