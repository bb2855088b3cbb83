"""Sending a test of an approved template from its page, through the sandbox Meta: the request Meta
receives (the Flow button with a token issued for this one send), the record on the page, refusals."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from flowsadmin.tokens import read_flow_token
from sandbox.models import Message
from sandbox.models import Template as MetaTemplate
from templates_app.models import MessageTemplate, TestSend

from .conftest import client_for
from .template_helpers import form_data


@pytest.fixture
def manager(campaign_manager):
    return client_for(campaign_manager)


@pytest.fixture
def approved(manager, meta_flow) -> MessageTemplate:
    manager.post(reverse("templates:create"), form_data(meta_flow))
    template = MessageTemplate.objects.get()
    assert template.status == "APPROVED"
    return template


def send(manager, template, **changes):
    phone = template.waba.phone_numbers.get()
    data = {"to": "+1 555 123 4567", "phone_number": phone.pk, "example_user_name": "Bea"} | changes
    return manager.post(reverse("templates:send_test", args=[template.pk]), data, follow=True)


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_test_send_carries_the_flow_button_with_a_token_for_this_one_send(
    manager, approved, meta_flow
):
    form = manager.get(reverse("templates:send_test", args=[approved.pk])).content.decode()
    assert 'value="Ana"' in form  # the example value, to keep or change
    response = send(manager, approved)
    record = TestSend.objects.get()
    message = Message.objects.get()
    assert record.wamid == message.wamid and record.message_status == "accepted"
    assert (record.to, record.sent_by.username) == ("15551234567", "charlie")
    assert message.to == "15551234567" and message.body_text.startswith("Hi Bea, how was your stay")
    assert (message.button_flow_id, message.flow_action, message.navigate_screen) == (
        meta_flow.meta_flow_id,
        "navigate",
        "RECOMMEND",
    )
    assert message.flow_token == record.flow_token
    assert read_flow_token(record.flow_token) == {
        "whatsapp_id": "15551234567",
        "campaign_id": None,
        "flow": str(meta_flow.public_id),
        "expired": False,
    }
    # The image header points Meta at a signed link to the sample, which answers without a login.
    link = message.header_media["link"]
    assert link.startswith("http://") and "/templates/media/" in link
    sample = client_for(None).get(link[link.index("/templates/") :])
    assert sample.status_code == 200 and sample["Content-Type"] == "image/png"
    page = text(response)
    assert f"Sent to +15551234567: Meta's message id {record.wamid} (accepted)." in page
    assert f"charlie +15551234567 +1 555 0100 {record.wamid} accepted" in page


def test_a_test_send_to_a_text_that_is_not_a_phone_number_is_refused_at_the_field(
    manager, approved
):
    response = send(manager, approved, to="call me maybe")
    assert response.context["form"].errors["to"] == [
        "call me maybe is not a phone number: write it with its country code, e.g. +44 7700 900123."
    ]
    assert not TestSend.objects.exists() and not Message.objects.exists()


def test_a_number_too_short_for_its_country_is_refused(manager, approved):
    response = send(manager, approved, to="+44 12")
    assert response.context["form"].errors["to"][0].startswith("+44 12 is not a phone number")


def test_flow_action_data_must_be_a_json_object(manager, approved):
    response = send(manager, approved, flow_action_data="[1, 2]")
    assert (
        response.context["form"]
        .errors["flow_action_data"][0]
        .startswith("Write a JSON object with at least one value")
    )


def test_flow_action_data_reaches_the_first_screen(manager, approved):
    send(manager, approved, flow_action_data='{"room": "204"}')
    assert Message.objects.get().flow_action_data == {"room": "204"}


def test_metas_refusal_is_shown_and_recorded(manager, approved):
    # Meta paused it and its webhook hasn't reached us: Meta refuses the send (132015).
    MetaTemplate.objects.update(status="PAUSED")
    response = send(manager, approved)
    page = text(response)
    assert (
        "Meta refused the message. (#132015) Template is Paused: Template stay_feedback is paused "
        "due to low quality" in page
    )
    record = TestSend.objects.get()
    assert record.wamid == "" and record.error.startswith("(#132015) Template is Paused")
    detail = text(manager.get(reverse("templates:detail", args=[approved.pk])))
    assert "Template stay_feedback is paused due to low quality" in detail


def test_a_template_that_is_not_approved_cant_be_sent(manager, approved):
    MessageTemplate.objects.filter(pk=approved.pk).update(status="PAUSED")
    response = send(manager, approved)
    assert "Only an approved template can be sent; this one is paused." in text(response)
    assert not Message.objects.exists()
