"""Starting a campaign: its audience frozen into recipients in the database, the frequency cap and the
control group set aside, and the beat that starts campaigns when their send_at comes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import (
    AudienceUpload,
    Campaign,
    CampaignActionNotAllowed,
    Recipient,
    UploadedNumber,
)
from campaigns.sending import start_campaign
from campaigns.services import publish_campaign
from templates_app.models import MessageTemplate

from .campaign_sending_support import make_people, wa


@pytest.fixture
def template(waba, published_flow) -> MessageTemplate:
    return MessageTemplate.objects.create(
        waba=waba,
        name="stay_feedback",
        status="APPROVED",
        meta_template_id="9001",
        body="Hi {{user.name}}, how was your stay?",
        button_text="Rate your stay",
        flow=published_flow,
        variables=[{"variable": "user.name", "param": "user_name", "example": "Ana"}],
    )


def scheduled(template: MessageTemplate, **fields: object) -> Campaign:
    fields = {"name": "Spring"} | fields
    campaign = Campaign.objects.create(waba=template.waba, template=template, **fields)
    campaign.mark_published()
    return campaign


def test_starting_freezes_the_segment_and_people_added_later_are_not_sent_to(db, template):
    make_people(3, city="London")
    make_people(2, start=3, city="Paris")
    campaign = scheduled(
        template,
        segment={
            "match": "all",
            "rules": [{"kind": "property", "field": "city", "value": "London"}],
        },
    )

    start_campaign(campaign)
    make_people(1, start=9, city="London")

    assert campaign.status == "SENDING" and campaign.audience_size == 3 and campaign.started_at
    assert set(campaign.recipients.values_list("whatsapp_id", flat=True)) == {wa(0), wa(1), wa(2)}
    assert set(campaign.recipients.values_list("status", flat=True)) == {"queued"}
    assert all(r.profile_id for r in campaign.recipients.all())


def test_an_uploaded_list_becomes_recipients_linked_to_known_profiles(db, template):
    make_people(1)
    campaign = scheduled(template, audience_kind="UPLOAD")
    upload = AudienceUpload.objects.create(campaign=campaign, file_name="list.csv")
    UploadedNumber.objects.bulk_create(
        [UploadedNumber(upload=upload, whatsapp_id=wa(n), line=n + 2) for n in range(3)]
    )

    start_campaign(campaign)

    recipients = {r.whatsapp_id: r for r in campaign.recipients.all()}
    assert campaign.audience_size == 3 and set(recipients) == {wa(0), wa(1), wa(2)}
    assert recipients[wa(0)].profile_id and recipients[wa(1)].profile_id is None


def test_an_empty_audience_starts_and_completes_with_nobody_sent_to(db, template):
    from campaigns.sending import finish_if_done

    campaign = start_campaign(scheduled(template))
    assert campaign.audience_size == 0
    assert finish_if_done(campaign) and campaign.status == "COMPLETED"


def test_the_control_group_is_a_random_share_held_out(db, template):
    make_people(200)
    campaign = start_campaign(scheduled(template, control_percent=10))

    held = campaign.recipients.filter(status="control")
    assert held.count() == 20 and campaign.recipients.filter(status="queued").count() == 180
    other = start_campaign(scheduled(template, control_percent=10, name="Again"))
    # Random: another campaign holds out other people.
    assert set(held.values_list("whatsapp_id", flat=True)) != set(
        other.recipients.filter(status="control").values_list("whatsapp_id", flat=True)
    )


def test_the_frequency_cap_skips_people_messaged_by_any_campaign_recently(db, template):
    make_people(3)
    earlier = start_campaign(scheduled(template, name="Earlier"))
    earlier.recipients.filter(whatsapp_id=wa(0)).update(
        status="read", sent_at=timezone.now() - timedelta(hours=2)
    )
    earlier.recipients.filter(whatsapp_id=wa(1)).update(
        status="read", sent_at=timezone.now() - timedelta(hours=30)
    )

    campaign = start_campaign(scheduled(template, frequency_cap_hours=24))

    assert dict(campaign.recipients.values_list("whatsapp_id", "status")) == {
        wa(0): "skipped",
        wa(1): "queued",
        wa(2): "queued",
    }


def test_a_campaign_is_started_only_once(db, template):
    make_people(2)
    campaign = scheduled(template)
    start_campaign(campaign)
    with pytest.raises(CampaignActionNotAllowed, match="A sending campaign can't be started"):
        start_campaign(Campaign.objects.get(pk=campaign.pk))
    assert Recipient.objects.count() == 2


def test_the_beat_starts_a_campaign_when_its_send_at_has_come(db, template, campaign_manager):
    from campaigns.sending.dispatch import dispatch_due_campaigns

    class Queue:
        sent: list[int] = []

        @classmethod
        def delay(cls, pk: int) -> None:
            cls.sent.append(pk)

    make_people(2)
    later = Campaign.objects.create(waba=template.waba, name="Later", template=template)
    publish_campaign(later, by=campaign_manager, send_at=timezone.now() + timedelta(hours=1))
    due = Campaign.objects.create(waba=template.waba, name="Now", template=template)
    publish_campaign(due, by=campaign_manager)

    dispatch_due_campaigns(send=Queue)

    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == "SENDING" and due.audience_size == 2 and Queue.sent == [due.pk]
    assert later.status == "SCHEDULED" and not later.recipients.exists()


def test_the_beat_schedule_runs_the_dispatcher_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["dispatch-due-campaigns"]
    assert entry == {"task": "campaigns.tasks.dispatch_due_campaigns_task", "schedule": 60}
    from flowsadmin.celery import app

    app.loader.import_default_modules()
    assert entry["task"] in app.tasks


def test_the_orm_path_for_sqlite_freezes_claims_and_records_like_the_postgresql_one(db, template):
    """`make run` keeps SQLite by default: the ORM path it takes gives what the SQL path gives."""
    from campaigns.sending import freeze

    make_people(4, city="London")
    make_people(1, start=5, city="Paris")
    campaign = scheduled(
        template,
        control_percent=25,
        frequency_cap_hours=24,
        segment={"rules": [{"kind": "property", "field": "city", "value": "London"}]},
    )
    earlier = scheduled(template, name="Earlier")
    Recipient.objects.create(
        campaign=earlier, whatsapp_id=wa(0), status="sent", sent_at=timezone.now()
    )
    freeze._insert_audience_portably(campaign)
    freeze._insert_audience_portably(campaign)  # a second copy adds nobody
    freeze._set_aside_portably(campaign)
    statuses = sorted(campaign.recipients.values_list("status", flat=True))
    assert statuses == ["control", "queued", "queued", "skipped"]
    assert campaign.recipients.get(whatsapp_id=wa(0)).status == "skipped"

    first_two = list(
        campaign.recipients.filter(status="queued").order_by("id").values_list("id", flat=True)[:2]
    )
    claimed = Recipient.objects.claim_next_portably(campaign.pk)
    second = Recipient.objects.claim_next(campaign.pk)  # the SQL path, for the same shape
    assert set(claimed) == set(second)
    assert [claimed["id"], second["id"]] == first_two  # in order, never the same person twice
    assert claimed["city"] == "London" and claimed["attempts"] == 1

    assert Recipient.objects.record_sent_portably([(claimed["id"], "wamid.A", "tok-A")]) == 1
    sent = Recipient.objects.get(pk=claimed["id"])
    assert (sent.status, sent.wamid, sent.flow_token) == ("sent", "wamid.A", "tok-A")
    assert sent.sent_at is not None
