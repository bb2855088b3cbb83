"""Shared setup for the campaign tests: a sendable template, people, and campaigns in each state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audience.models import Event, Profile
from campaigns.models import Campaign, Recipient
from flowsadmin.models import Flow
from flowsadmin.tokens import issue_flow_token
from templates_app.models import MessageTemplate
from wabas.models import Waba

from .template_helpers import HOTEL_JSON


def make_template(waba: Waba, flow: Flow, **overrides: object) -> MessageTemplate:
    fields = {
        "waba": waba,
        "name": "stay_feedback",
        "status": MessageTemplate.Status.APPROVED,
        "meta_template_id": "880000000000001",
        "body": "Hi {{user.name}}, how was your stay in {{user.city}}? Tell us in two minutes.",
        "footer": "Hotel Azul",
        "button_text": "Rate your stay",
        "flow": flow,
        "flow_action": "navigate",
        "navigate_screen": "RATE",
        "variables": [
            {"variable": "user.name", "param": "user_name", "example": "Ana"},
            {"variable": "user.city", "param": "user_city", "example": "Lisbon"},
        ],
    } | overrides
    return MessageTemplate.objects.create(**fields)


@pytest.fixture
def hotel_flow(waba: Waba) -> Flow:
    return Flow.objects.create(
        waba=waba,
        name="Hotel feedback",
        status=Flow.Status.PUBLISHED,
        meta_flow_id="771023498811223",
        flow_json=HOTEL_JSON,
    )


@pytest.fixture
def sendable(waba: Waba, hotel_flow: Flow) -> MessageTemplate:
    return make_template(waba, hotel_flow)


@pytest.fixture
def people(db: None) -> list[Profile]:
    """Three Londoners (one did Stay Feedback last week) and one Parisian."""
    cast = [
        Profile.objects.create(whatsapp_id="447700900001", name="Ana", city="London"),
        Profile.objects.create(whatsapp_id="447700900002", name="Ben", city="london"),
        Profile.objects.create(whatsapp_id="447700900003", name="", city="London"),
        Profile.objects.create(whatsapp_id="33612345678", name="Chloé", city="Paris"),
    ]
    Event.objects.create(
        profile=cast[0],
        name="Stay Feedback",
        source=Event.Source.COMPLETION,
        occurred_at=timezone.now() - timedelta(days=7),
    )
    return cast


def make_campaign(template: MessageTemplate, **overrides: object) -> Campaign:
    fields = {
        "waba": template.waba,
        "name": "Spring stays",
        "template": template,
        "phone_number": template.waba.phone_numbers.first(),
        "variables": {
            "user_name": {"field": "name", "fallback": "there"},
            "user_city": {"field": "city", "fallback": "town"},
        },
    } | overrides
    return Campaign.objects.create(**fields)


def add_recipients(campaign: Campaign, statuses: list[str], *, start: int = 0) -> list[Recipient]:
    """Recipients with these statuses; sent ones get a sent time, each its own flow token."""
    now = timezone.now()
    rows = []
    for i, status in enumerate(statuses, start=start):
        whatsapp_id = f"4477009{i:05d}"
        sent = status in ("sent", "delivered", "read")
        rows.append(
            Recipient(
                campaign=campaign,
                whatsapp_id=whatsapp_id,
                status=status,
                flow_token=issue_flow_token(whatsapp_id=whatsapp_id, campaign_id=campaign.pk),
                wamid=f"wamid.{campaign.pk}.{i}" if sent else None,
                sent_at=now - timedelta(minutes=5) if sent else None,
            )
        )
    return Recipient.objects.bulk_create(rows)
