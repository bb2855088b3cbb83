"""Template reviews and message statuses from Meta's webhooks, and what deprecation does to templates."""

from __future__ import annotations

import json

import pytest

from campaigns.models import Campaign, Recipient
from templates_app.models import MessageTemplate
from templates_app.tasks import refresh_pending_templates_task
from wabas.crypto import hub_signature
from wabas.graph import GraphClient, TemplateContent
from wabas.models import WebhookDelivery


def deliver(client, waba, field: str, value: dict, capture) -> WebhookDelivery:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": waba.meta_waba_id,
                    "time": 1767225600,
                    "changes": [{"field": field, "value": value}],
                }
            ],
        }
    ).encode()
    with capture(execute=True):
        response = client.post(
            "/meta/webhook/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=hub_signature(body, waba.app_secret),
        )
    assert response.status_code == 200
    return WebhookDelivery.objects.latest("received_at")


@pytest.fixture
def template(waba) -> MessageTemplate:
    return MessageTemplate.objects.create(
        waba=waba, name="hotel_feedback_v1", meta_template_id="1209876543210987"
    )


def review(event: str, **extra: object) -> dict:
    return {
        "event": event,
        "message_template_id": 1209876543210987,  # a number in this webhook
        "message_template_name": "hotel_feedback_v1",
        "message_template_language": "en_US",
        "reason": "NONE",
    } | extra


def test_a_review_webhook_approves_the_template(
    client, waba, template, django_capture_on_commit_callbacks
):
    delivery = deliver(
        client,
        waba,
        "message_template_status_update",
        review("APPROVED"),
        django_capture_on_commit_callbacks,
    )
    template.refresh_from_db()
    assert template.status == "APPROVED" and template.status_reason == ""
    assert (
        delivery.result
        == "message_template_status_update: template hotel_feedback_v1 is now APPROVED."
    )


def test_a_rejection_keeps_metas_reason(client, waba, template, django_capture_on_commit_callbacks):
    deliver(
        client,
        waba,
        "message_template_status_update",
        review("REJECTED", reason="INVALID_FORMAT"),
        django_capture_on_commit_callbacks,
    )
    template.refresh_from_db()
    assert (template.status, template.status_reason) == ("REJECTED", "INVALID_FORMAT")


def test_an_unknown_template_or_status_is_kept_not_applied(
    client, waba, template, django_capture_on_commit_callbacks
):
    deliver(
        client,
        waba,
        "message_template_status_update",
        review("APPROVED", message_template_id=5, message_template_name="other"),
        django_capture_on_commit_callbacks,
    )
    delivery = deliver(
        client,
        waba,
        "message_template_status_update",
        review("SHINY"),
        django_capture_on_commit_callbacks,
    )
    assert "unknown template status 'SHINY'" in delivery.result
    template.refresh_from_db()
    assert template.status == "PENDING"


@pytest.fixture
def recipient(waba, template) -> Recipient:
    campaign = Campaign.objects.create(waba=waba, name="Stay feedback", template=template)
    return Recipient.objects.create(
        campaign=campaign, whatsapp_id="15551234567", wamid="wamid.FLOW_MESSAGE_1", status="sending"
    )


def statuses(*items: dict) -> dict:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "statuses": list(items),
    }


def test_message_statuses_move_the_delivery_record_forward_only(
    client, waba, recipient, django_capture_on_commit_callbacks
):
    deliver(
        client,
        waba,
        "messages",
        statuses({"id": "wamid.FLOW_MESSAGE_1", "status": "sent", "recipient_id": "15551234567"}),
        django_capture_on_commit_callbacks,
    )
    recipient.refresh_from_db()
    assert recipient.status == "sent"
    deliver(
        client,
        waba,
        "messages",
        statuses({"id": "wamid.FLOW_MESSAGE_1", "status": "read", "recipient_id": "15551234567"}),
        django_capture_on_commit_callbacks,
    )
    late = deliver(
        client,
        waba,
        "messages",
        statuses(
            {
                "id": "wamid.FLOW_MESSAGE_1",
                "status": "delivered",
                "timestamp": "2",
                "recipient_id": "15551234567",
            }
        ),
        django_capture_on_commit_callbacks,
    )
    recipient.refresh_from_db()
    assert recipient.status == "read"
    assert "ignored (not newer)" in late.result


def test_a_failed_message_records_metas_error(
    client, waba, recipient, django_capture_on_commit_callbacks
):
    failed = {
        "id": "wamid.FLOW_MESSAGE_1",
        "status": "failed",
        "errors": [{"code": 132069, "title": "Flow is in throttled state"}],
    }
    deliver(client, waba, "messages", statuses(failed), django_capture_on_commit_callbacks)
    recipient.refresh_from_db()
    assert recipient.status == "failed"
    # Kept apart, as the results' "Failed, by reason" table shows them: code, then Meta's words.
    assert (recipient.error_code, recipient.error) == ("132069", "Flow is in throttled state")


def test_a_status_for_an_unknown_message_is_kept(
    client, waba, recipient, django_capture_on_commit_callbacks
):
    delivery = deliver(
        client,
        waba,
        "messages",
        statuses({"id": "wamid.SOMEONE_ELSE", "status": "read"}),
        django_capture_on_commit_callbacks,
    )
    assert "unknown message 'wamid.SOMEONE_ELSE'" in delivery.result
    recipient.refresh_from_db()
    assert recipient.status == "sending"


def test_the_sandboxs_review_reaches_the_template_and_the_schedule_catches_missed_ones(
    sandbox_waba,
):
    client = GraphClient.for_waba(sandbox_waba)
    content = TemplateContent(body="How was your stay?")
    try:
        approved, rejected = (
            client.create_template(
                sandbox_waba.meta_waba_id,
                name=name,
                language="en_US",
                category="MARKETING",
                content=content,
            )
            for name in ("stay_survey", "please_reject_me")
        )
    finally:
        client.session.close()
    # The sandbox reviewed both at once (tasks run in-process) before our rows existed: the webhooks
    # found nothing to update, which is exactly the case the scheduled refresh is for.
    ours = [
        MessageTemplate.objects.create(waba=sandbox_waba, name=name, meta_template_id=created["id"])
        for name, created in (("stay_survey", approved), ("please_reject_me", rejected))
    ]
    assert refresh_pending_templates_task.delay().get() == 2
    for template in ours:
        template.refresh_from_db()
    assert [t.status for t in ours] == ["APPROVED", "REJECTED"]
    assert refresh_pending_templates_task.delay().get() == 0
