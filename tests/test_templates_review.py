"""Meta's review reaching our templates: the status, quality and category webhooks (as Meta sends
them, signed), the refresh of templates under review, and deprecation detaching flows both ways."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from flowsadmin.models import Flow
from templates_app.models import MessageTemplate

from .conftest import client_for
from .test_template_and_message_webhooks import deliver


@pytest.fixture
def template(waba, published_flow) -> MessageTemplate:
    return MessageTemplate.objects.create(
        waba=waba,
        name="stay_feedback",
        language="en_US",
        category="UTILITY",
        meta_template_id="1209876543210987",
        status="APPROVED",
        body="Hi {{user.name}}, how was your stay with us?",
        variables=[{"variable": "user.name", "param": "user_name", "example": "Ana"}],
        button_text="Rate your stay",
        flow=published_flow,
        flow_label="Hotel feedback (Flow ID 771023498811223)",
        navigate_screen="RECOMMEND",
    )


@pytest.fixture
def hook(client, waba, django_capture_on_commit_callbacks):
    def send(field: str, **value: object):
        base = {
            "message_template_id": 1209876543210987,
            "message_template_name": "stay_feedback",
            "message_template_language": "en-US",  # Meta writes both en_US and en-US
        }
        return deliver(client, waba, field, base | value, django_capture_on_commit_callbacks)

    return send


def page(user, template) -> str:
    """The template page's text as a person reads it (tags gone, spaces collapsed)."""
    html = client_for(user).get(reverse("templates:detail", args=[template.pk])).content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_approved_by_webhook(hook, template, marketer):
    MessageTemplate.objects.filter(pk=template.pk).update(status="PENDING")
    delivery = hook("message_template_status_update", event="APPROVED", reason="NONE")
    template.refresh_from_db()
    assert template.status == "APPROVED" and template.status_reason == ""
    assert (
        delivery.result == "message_template_status_update: template stay_feedback is now APPROVED."
    )
    assert "stay_feedback Approved" in page(marketer, template)


def test_rejected_with_metas_reason_and_recommendation_on_the_page(hook, template, marketer):
    hook(
        "message_template_status_update",
        event="REJECTED",
        reason="INVALID_FORMAT",
        rejection_info={
            "reason": "The variables' example values don't match the text around them.",
            "recommendation": "Give realistic example values, then submit it again.",
        },
    )
    template.refresh_from_db()
    assert (template.status, template.status_reason) == ("REJECTED", "INVALID_FORMAT")
    html = page(marketer, template)
    assert "Rejected by Meta (INVALID_FORMAT)" in html
    assert "Reason: The variables' example values don't match the text around them." in html
    assert "Give realistic example values, then submit it again." in html


def test_paused_with_metas_note(hook, template, marketer):
    hook(
        "message_template_status_update",
        event="PAUSED",
        reason="NONE",
        other_info={"title": "FIRST_PAUSE", "description": "Paused for 3 hours: low quality."},
    )
    template.refresh_from_db()
    assert template.status == "PAUSED"
    html = page(marketer, template)
    assert "Paused for 3 hours: low quality." in html
    assert not template.can("send_test") and template.can("edit")


def test_quality_by_its_own_field_and_by_metas_mislabelled_example(hook, template, marketer):
    hook(
        "message_template_quality_update",
        previous_quality_score="UNKNOWN",
        new_quality_score="YELLOW",
    )
    template.refresh_from_db()
    assert template.quality == "YELLOW"
    hook("message_template_status_update", previous_quality_score="YELLOW", new_quality_score="RED")
    template.refresh_from_db()
    assert template.quality == "RED" and template.status == "APPROVED"
    assert "Quality Low since" in page(marketer, template)


def test_category_change_announced_then_made(hook, template, marketer):
    hook(
        "template_category_update",
        correct_category="MARKETING",
        category_update_timestamp=1767312000,
    )
    template.refresh_from_db()
    assert (template.category, template.announced_category) == ("UTILITY", "MARKETING")
    assert "Meta will move this template to Marketing on 2 Jan 2026, 00:00" in page(
        marketer, template
    )
    hook("template_category_update", previous_category="UTILITY", new_category="MARKETING")
    template.refresh_from_db()
    assert (template.category, template.previous_category, template.announced_category) == (
        "MARKETING",
        "UTILITY",
        "",
    )
    assert "Marketing (Meta moved it from Utility)" in page(marketer, template)


def test_a_flow_deprecated_by_metas_webhook_leaves_its_templates(
    client, waba, template, published_flow, marketer, django_capture_on_commit_callbacks
):
    delivery = deliver(
        client,
        waba,
        "flows",
        {
            "event": "FLOW_STATUS_CHANGE",
            "flow_id": published_flow.meta_flow_id,
            "old_status": "PUBLISHED",
            "new_status": "DEPRECATED",
        },
        django_capture_on_commit_callbacks,
    )
    assert delivery.result == (
        "flows: Hotel feedback is now DEPRECATED and was removed from its templates."
    )
    template.refresh_from_db()
    assert template.flow is None and template.flow_gone
    assert template.refusal("send_test") == (
        "It can no longer be sent: its flow is gone. Edit it to choose a published flow."
    )
    html = page(marketer, template)
    assert "It can no longer be sent" in html
    assert "Hotel feedback (Flow ID 771023498811223)" in html


def test_a_flow_deprecated_here_leaves_its_templates(meta_flow, campaign_manager, marketer):
    from flowsadmin.services import deprecate_flow
    from wabas.graph import GraphClient

    template = MessageTemplate.objects.create(
        waba=meta_flow.waba, name="stay_feedback", flow=meta_flow, button_text="Rate"
    )
    deprecate_flow(meta_flow, by=marketer, client=GraphClient.for_waba(meta_flow.waba))
    template.refresh_from_db()
    assert template.flow is None
    listing = client_for(campaign_manager).get(reverse("templates:list")).content.decode()
    assert "Flow gone: can no longer be sent" in listing


def test_the_schedule_refreshes_quality_and_category_too(meta_waba):
    from sandbox.models import Template as MetaTemplate
    from sandbox.services import recategorize_template, set_template_quality
    from templates_app.tasks import refresh_template_task
    from wabas.graph import GraphClient, TemplateContent

    client = GraphClient.for_waba(meta_waba)
    made = client.create_template(
        meta_waba.meta_waba_id,
        name="checkout_reminder",
        language="en_US",
        category="UTILITY",
        content=TemplateContent(body="Your checkout is at 11 tomorrow."),
    )
    client.session.close()
    ours = MessageTemplate.objects.create(
        waba=meta_waba, name="checkout_reminder", category="UTILITY", meta_template_id=made["id"]
    )
    # Meta's webhooks reached us before the row existed: only a refresh brings these.
    set_template_quality(made["id"], "GREEN")
    recategorize_template(made["id"])
    refresh_template_task.delay(ours.pk)
    ours.refresh_from_db()
    assert (ours.status, ours.quality, ours.category, ours.previous_category) == (
        "APPROVED",
        "GREEN",
        "MARKETING",
        "UTILITY",
    )
    assert MetaTemplate.objects.get().category == "MARKETING"


def test_the_status_table(template):
    now_status = {
        "NOT_SUBMITTED": {"edit", "delete", "submit"},
        "PENDING": {"delete", "refresh"},
        "APPROVED": {"edit", "delete", "send_test", "refresh"},
        "REJECTED": {"edit", "delete", "refresh"},
        "PAUSED": {"edit", "delete", "refresh"},
        "DISABLED": {"refresh"},
        "IN_APPEAL": {"delete", "refresh"},
    }
    for status, allowed in now_status.items():
        template.status = status
        assert template.allowed_actions() == allowed, status


def test_an_approved_template_is_edited_at_most_once_a_day_and_ten_times_a_month(template):
    from datetime import timedelta

    from django.utils import timezone

    template.status = "APPROVED"
    now = timezone.now()
    template.approved_edits = [(now - timedelta(hours=23)).isoformat()]
    assert template.refusal("edit", now=now).endswith("at most once in 24 hours: try again later.")
    template.approved_edits = [(now - timedelta(days=d + 1)).isoformat() for d in range(10)]
    assert "at most 10 times in 30 days" in template.refusal("edit", now=now)
    template.approved_edits = [(now - timedelta(days=31)).isoformat()] * 10
    assert template.can("edit")


def test_a_deprecated_flow_makes_the_template_unsendable(template):
    template.status = "APPROVED"
    assert template.can("send_test")
    Flow.objects.filter(pk=template.flow_id).update(status="DEPRECATED")
    template.refresh_from_db()
    template.status = "APPROVED"
    assert not template.can("send_test")
