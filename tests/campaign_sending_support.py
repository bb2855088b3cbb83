"""Shared setup for the campaign sending tests: an approved Flow template on the sandbox Meta, people,
and a campaign of them ready to send."""

from __future__ import annotations

import pytest
from celery._state import _set_task_join_will_block
from django.urls import reverse

from audience.models import Profile
from campaigns.limiter import connection as redis_connection
from campaigns.models import Campaign
from campaigns.sending import start_campaign
from sandbox.models import Message
from templates_app.models import MessageTemplate

from .conftest import client_for
from .template_helpers import form_data


@pytest.fixture
def fresh_limiter() -> None:
    """The number's schedule and slow-down live in Redis: each test starts without them."""
    redis = redis_connection()
    for key in redis.scan_iter("campaigns:*"):
        redis.delete(key)
    yield
    # Celery's eager mode keeps "inside a task" in one process-wide flag, set and restored around
    # each eager task: sends from two threads run the sandbox's eager tasks at once, and their
    # restores can interleave so the flag stays set, which later tests' .get() would trip on.
    _set_task_join_will_block(False)


@pytest.fixture
def campaign_template(campaign_manager, meta_flow) -> MessageTemplate:
    """An approved MARKETING template, "Hi {{user.name}}...", whose Flow button opens the hotel flow."""
    response = client_for(campaign_manager).post(
        reverse("templates:create"),
        form_data(meta_flow, header_format="", header_sample=""),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = MessageTemplate.objects.get()
    assert template.status == "APPROVED"
    return template


def wa(n: int) -> str:
    """The nth test person's WhatsApp id (never ending in 0000: the sandbox can't deliver to those)."""
    return f"447700{n:05d}7"


def make_people(count: int, *, start: int = 0, **fields: object) -> list[Profile]:
    return Profile.objects.bulk_create(
        Profile(**{"whatsapp_id": wa(start + n), "name": f"Guest {start + n}"} | fields)
        for n in range(count)
    )


def sending_campaign(template: MessageTemplate, **fields: object) -> Campaign:
    """A campaign of every profile, published and started: its audience frozen, SENDING."""
    campaign = Campaign.objects.create(
        waba=template.waba,
        name=fields.pop("name", "Spring stays"),
        template=template,
        phone_number=template.waba.phone_numbers.first(),
        variables=fields.pop("variables", {"user_name": {"field": "name", "fallback": "there"}}),
        **fields,
    )
    campaign.mark_published()
    return start_campaign(campaign)


def messages_per_person() -> dict[str, int]:
    counts: dict[str, int] = {}
    for to in Message.objects.values_list("to", flat=True):
        counts[to] = counts.get(to, 0) + 1
    return counts
