"""Progress and results: counts in constant queries, attribution from a flow token to opened and
completed, the control group, the chart, the recipients table and its CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audience.models import Event, Profile
from audience.services import record_completion
from audience.signals import forget_announced
from campaigns.models import Recipient
from campaigns.results import results_of
from flowsadmin.tokens import issue_flow_token

from .campaign_support import add_recipients, make_campaign
from .conftest import client_for, send_to_endpoint

MIX = ["queued", "sent", "delivered", "read", "failed", "suppressed", "control", "skipped"]


@pytest.fixture(autouse=True)
def _fresh_announcements():
    forget_announced()
    yield
    forget_announced()


def sending(sendable, **overrides):
    fields = {"status": "SENDING", "started_at": timezone.now() - timedelta(minutes=10)}
    return make_campaign(sendable, **(fields | overrides))


def test_the_campaign_page_counts_each_state(campaign_manager, sendable):
    campaign = sending(sendable)
    add_recipients(campaign, MIX)
    soon = timezone.now() + timedelta(hours=3)
    add_recipients(campaign, ["queued"], start=100)
    campaign.recipients.filter(whatsapp_id="447700900100").update(next_attempt_at=soon)
    campaign.recipients.filter(status="failed").update(
        error_code="131026", error="Message undeliverable"
    )
    campaign.recipients.filter(status="read").update(
        opened_at=timezone.now(), completed_at=timezone.now()
    )
    page = client_for(campaign_manager).get(reverse("campaigns:detail", args=[campaign.pk]))
    text = page.content.decode()
    for label, n in [
        ("Queued", 1),
        ("Held by quiet hours or a retry", 1),
        ("Sent (not yet delivered)", 1),
        ("Delivered (not yet read)", 1),
        ("Read", 1),
        ("Failed", 1),
        ("Suppressed by Meta (not a failure)", 1),
        ("Skipped (frequency cap)", 1),
        ("Control group (not sent on purpose)", 1),
    ]:
        assert f'<td>{label}</td><td class="num">{n}</td>' in text, label
    assert "<td>131026</td><td>Message undeliverable</td>" in text
    assert "<span>Sent</span><strong>3</strong>" in text
    assert "<span>Completed</span><strong>1</strong>" in text
    assert "<strong>78 %</strong> · 7 of 9 recipients decided" in text
    # Still sending: the progress polls every 2 s.
    assert 'hx-trigger="every 2s"' in text


def test_a_finished_campaigns_progress_stops_polling(campaign_manager, sendable):
    campaign = sending(sendable, status="COMPLETED", finished_at=timezone.now())
    add_recipients(campaign, ["read", "delivered"])
    client = client_for(campaign_manager)
    url = reverse("campaigns:detail", args=[campaign.pk])
    partial = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-progress")
    text = partial.content.decode()
    assert text.lstrip().startswith('<section id="campaign-progress"')
    assert "every 2s" not in text and "<html" not in text
    assert "<strong>100 %</strong>" in text


@pytest.mark.parametrize("audience", [10, 1000])
def test_the_campaign_page_needs_the_same_queries_for_10_or_1000_recipients(
    campaign_manager, sendable, audience, django_assert_max_num_queries
):
    campaign = sending(sendable, control_percent=10)
    add_recipients(campaign, [MIX[i % len(MIX)] for i in range(audience)])
    campaign.recipients.filter(status="read").update(completed_at=timezone.now())
    client = client_for(campaign_manager)
    url = reverse("campaigns:detail", args=[campaign.pk])
    # Session, user, permissions, WABA switcher: 6; the page's own work: campaign, counts, control
    # group, chart (3), recipients page (2).
    with django_assert_max_num_queries(16):
        page = client.get(url)
    assert f"of {audience} recipients decided" in page.content.decode()
    with django_assert_max_num_queries(11):
        client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="campaign-progress")


def test_queries_do_not_grow_between_10_and_1000_recipients(campaign_manager, sendable):
    small, large = sending(sendable, name="small"), sending(sendable, name="large")
    add_recipients(small, [MIX[i % len(MIX)] for i in range(10)])
    add_recipients(large, [MIX[i % len(MIX)] for i in range(1000)])
    client = client_for(campaign_manager)
    counts = []
    for campaign in (small, large):
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("campaigns:detail", args=[campaign.pk]))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_endpoint_request_with_a_campaign_token_marks_the_flow_opened(
    phone, bus_flow, sendable, fresh_endpoint_caches
):
    campaign = sending(sendable)
    (recipient,) = add_recipients(campaign, ["delivered"])
    token = issue_flow_token(
        whatsapp_id=recipient.whatsapp_id, campaign_id=campaign.pk, flow=bus_flow
    )
    status, _ = send_to_endpoint(
        phone, bus_flow, {"version": "3.0", "action": "INIT", "flow_token": token}
    )
    assert status == 200
    recipient.refresh_from_db()
    first = recipient.opened_at
    assert first is not None and recipient.completed_at is None
    # A second request of the same flow keeps the first time, and costs no write.
    with CaptureQueriesContext(connection) as queries:
        send_to_endpoint(phone, bus_flow, {"version": "3.0", "action": "INIT", "flow_token": token})
    assert not [q for q in queries if "campaigns_recipient" in q["sql"]]
    recipient.refresh_from_db()
    assert recipient.opened_at == first


def test_a_token_without_a_campaign_or_not_ours_marks_nothing(
    phone, bus_flow, sendable, fresh_endpoint_caches
):
    campaign = sending(sendable)
    (recipient,) = add_recipients(campaign, ["delivered"])
    for token in ("a-business-own-token", issue_flow_token(whatsapp_id=recipient.whatsapp_id)):
        with CaptureQueriesContext(connection) as queries:
            send_to_endpoint(
                phone, bus_flow, {"version": "3.0", "action": "INIT", "flow_token": token}
            )
        assert not [q for q in queries if "campaigns_recipient" in q["sql"]]
    recipient.refresh_from_db()
    assert recipient.opened_at is None


def nfm_reply(whatsapp_id: str, token: str, message_id: str = "wamid.reply.1") -> dict:
    return {
        "from": whatsapp_id,
        "id": message_id,
        "timestamp": str(int(timezone.now().timestamp())),
        "type": "interactive",
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {
                "name": "flow",
                "response_json": json.dumps({"flow_token": token, "rating": "5"}),
            },
        },
    }


def test_a_completion_with_a_campaign_token_is_attributed_and_names_the_campaign(
    sendable, hotel_flow
):
    campaign = sending(sendable)
    recipient, other = add_recipients(campaign, ["read", "read"])
    token = issue_flow_token(
        whatsapp_id=recipient.whatsapp_id, campaign_id=campaign.pk, flow=hotel_flow
    )
    record_completion(sendable.waba, nfm_reply(recipient.whatsapp_id, token))
    recipient.refresh_from_db()
    other.refresh_from_db()
    assert recipient.completed_at is not None
    # A static flow never calls the endpoint: completing it counts as opening it.
    assert recipient.opened_at == recipient.completed_at
    assert other.completed_at is None
    event = Event.objects.get(name="WAF_HotelFeedback_Submitted")
    assert event.properties["campaign_id"] == campaign.pk
    assert event.profile.whatsapp_id == recipient.whatsapp_id
    # The same reply delivered again changes nothing.
    first = recipient.completed_at
    record_completion(sendable.waba, nfm_reply(recipient.whatsapp_id, token))
    recipient.refresh_from_db()
    assert recipient.completed_at == first
    assert results_of(campaign).completed == 1


def test_the_control_group_is_compared_with_people_who_completed_without_a_message(
    campaign_manager, sendable, hotel_flow
):
    campaign = sending(sendable, control_percent=50)
    messaged = add_recipients(campaign, ["read"] * 4)
    control = add_recipients(campaign, ["control"] * 4, start=10)
    Recipient.objects.filter(pk__in=[r.pk for r in messaged[:2]]).update(
        completed_at=timezone.now()
    )
    # One control person completed the flow on their own during the campaign; one did before it.
    for recipient, when in [
        (control[0], timezone.now() - timedelta(minutes=5)),
        (control[1], timezone.now() - timedelta(days=2)),
    ]:
        profile = Profile.objects.create(whatsapp_id=recipient.whatsapp_id)
        Event.objects.create(
            profile=profile,
            flow=hotel_flow,
            name="WAF_HotelFeedback_Submitted",
            source=Event.Source.COMPLETION,
            occurred_at=when,
        )
    results = results_of(campaign)
    assert (results.completed, results.messaged) == (2, 4)
    assert (results.control_completed, results.control_size) == (1, 4)
    text = client_for(campaign_manager).get(reverse("campaigns:detail", args=[campaign.pk]))
    text = text.content.decode()
    assert "2 of 4 completed (50 %)" in text
    assert "1 of 4 completed without a message (25 %)" in text


def test_the_chart_draws_sends_and_completions_over_time(campaign_manager, sendable):
    campaign = sending(sendable)
    add_recipients(campaign, ["read", "read", "delivered", "failed"])
    campaign.recipients.filter(status="read").update(completed_at=timezone.now())
    # One that left and then failed (Meta's status webhook): not sent, as the "Sent" count says.
    campaign.recipients.filter(status="failed").update(sent_at=timezone.now())
    text = client_for(campaign_manager).get(reverse("campaigns:detail", args=[campaign.pk]))
    text = text.content.decode()
    assert "<span>Sent</span><strong>3</strong>" in text
    svg = text.split('<svg class="cp-chart"')[1].split("</svg>")[0]
    assert 'aria-label="3 sent and 2 completed' in svg
    assert svg.count("<polyline") == 2


def test_pages_show_times_in_the_accounts_time_zone(campaign_manager, sendable):
    """Stored in UTC, shown in the account's zone with its name (UTC when it has none set)."""
    started = datetime(2026, 12, 1, 10, 41, tzinfo=UTC)
    campaign = sending(sendable, started_at=started)
    add_recipients(campaign, ["read"])
    campaign.recipients.update(sent_at=started)
    url = reverse("campaigns:detail", args=[campaign.pk])
    client = client_for(campaign_manager)
    assert "started 1 Dec 2026, 10:41 UTC" in client.get(url).content.decode()

    sendable.waba.time_zone = "Europe/Madrid"
    sendable.waba.save(update_fields=["time_zone"])
    page = client.get(url).content.decode()
    assert "started 1 Dec 2026, 11:41 CET" in page
    svg = page.split('<svg class="cp-chart"')[1].split("</svg>")[0]
    assert 'aria-label="1 sent and 0 completed from 11:41 to' in svg and " CET</text>" in svg


def test_the_recipients_table_filters_by_status_and_exports_csv(campaign_manager, sendable):
    campaign = sending(sendable)
    add_recipients(campaign, ["read", "failed", "failed"])
    Profile.objects.create(whatsapp_id="447700900001", name='=HYPERLINK("x")')
    campaign.recipients.filter(whatsapp_id="447700900001").update(
        profile=Profile.objects.get(whatsapp_id="447700900001"),
        error_code="131026",
        error="Message undeliverable",
    )
    client = client_for(campaign_manager)
    url = reverse("campaigns:detail", args=[campaign.pk])
    table = client.get(
        url, {"status": "failed"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="recipient-table"
    ).content.decode()
    assert table.count("<tr>") == 3  # header and two failed
    assert "+447700900000" not in table
    response = client.get(reverse("campaigns:recipients_csv", args=[campaign.pk]))
    assert response["Content-Disposition"] == (
        f'attachment; filename="campaign-{campaign.pk}-recipients.csv"'
    )
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeffwhatsapp_id,name,status,error_code,error,")
    lines = body.strip().splitlines()
    assert len(lines) == 4
    # A name that would run as a formula in a spreadsheet is defused.
    assert '447700900001,"\'=HYPERLINK(""x"")",failed,131026,Message undeliverable' in body
    only_failed = client.get(
        reverse("campaigns:recipients_csv", args=[campaign.pk]), {"status": "failed"}
    )
    assert len(b"".join(only_failed.streaming_content).decode().strip().splitlines()) == 3
