"""Send a flow as an interactive Flow message from its page (issue 13): a DRAFT goes in draft mode with
our signed token, the sandbox phone receives it and plays it to the end; bad input gets a clear error."""

from __future__ import annotations

import json

from django.urls import reverse

from flowsadmin.models import Flow
from flowsadmin.tokens import read_flow_token
from sandbox import validation as meta_validation
from sandbox.models import Account, Message
from sandbox.models import Flow as MetaFlow
from sandbox.services import move_flow, save_new_flow

from .conftest import client_for
from .test_sandbox_inbox import WA_ID, completions, inbox, play_hotel_to_the_end
from .test_sandbox_phone import HOTEL

SEND = "flows:send_message"


def draft_on_sandbox_meta(waba, name: str = "Hotel feedback", text: str = HOTEL) -> Flow:
    """A DRAFT flow saved from the dashboard: ours, and the sandbox Meta's copy with its JSON."""
    flow = Flow.objects.create(
        waba=waba, name=name, flow_json=text, status="DRAFT", meta_flow_id="5550007"
    )
    checked = meta_validation.validate(text)
    meta = MetaFlow(
        account=Account.objects.get(waba_id=waba.meta_waba_id),
        flow_id=flow.meta_flow_id,
        name=name,
        categories=["SURVEY"],
    )
    meta.set_json(text, errors=checked.errors, version=checked.version, data_api_version="")
    save_new_flow(meta, notify=False)
    return flow


def test_a_marketer_sends_a_draft_and_the_sandbox_phone_plays_it(
    sandbox_waba, marketer, admin_user
):
    flow = draft_on_sandbox_meta(sandbox_waba)
    client = client_for(marketer)
    response = client.post(
        reverse(SEND, args=[flow.pk]), {"to": "+1 555 123 4567", "cta": "Give feedback"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert f"Sent to +{WA_ID} in draft mode" in page

    message = Message.objects.get(to=WA_ID)
    interactive = message.payload["interactive"]
    parameters = interactive["action"]["parameters"]
    assert (message.payload["type"], interactive["type"], interactive["action"]["name"]) == (
        "interactive",
        "flow",
        "flow",
    )
    assert parameters["flow_message_version"] == "3" and parameters["mode"] == "draft"
    assert parameters["flow_id"] == "5550007" and parameters["flow_cta"] == "Give feedback"
    token = parameters["flow_token"]
    assert read_flow_token(token)["whatsapp_id"] == WA_ID  # signed by us, naming the number
    assert flow.changes.get(action="send_message").user == marketer

    # The person's phone shows it and plays the draft to the end; the answers come back.
    admin = client_for(admin_user)
    assert "Give feedback" in inbox(admin)
    text = play_hotel_to_the_end(admin, message)
    assert "Flow finished, answers sent to the business" in text
    [done] = completions()
    answers = json.loads(done["message"]["interactive"]["nfm_reply"]["response_json"])
    assert answers["flow_token"] == token


def test_a_published_flow_goes_in_published_mode(sandbox_waba, marketer):
    flow = draft_on_sandbox_meta(sandbox_waba)
    move_flow(
        MetaFlow.objects.get(flow_id=flow.meta_flow_id), MetaFlow.Status.PUBLISHED, notify=False
    )
    Flow.objects.filter(pk=flow.pk).update(status="PUBLISHED")
    client_for(marketer).post(reverse(SEND, args=[flow.pk]), {"to": WA_ID, "cta": "Open"})
    parameters = Message.objects.get(to=WA_ID).payload["interactive"]["action"]["parameters"]
    assert parameters["mode"] == "published"


def test_a_number_that_is_not_one_is_refused_and_kept(sandbox_waba, marketer):
    flow = draft_on_sandbox_meta(sandbox_waba)
    client = client_for(marketer)
    response = client.post(reverse(SEND, args=[flow.pk]), {"to": "call me", "cta": "Open"})
    page = client.get(response["Location"]).content.decode()
    assert "call me is not a phone number" in page
    assert 'value="call me"' in page  # the user's input is kept
    response = client.post(
        reverse(SEND, args=[flow.pk]),
        {"to": WA_ID, "cta": "A button text far too long"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200  # htmx swaps the partial, error and input in place
    assert "at most 20 characters" in response.content.decode()
    assert f'value="{WA_ID}"' in response.content.decode()
    assert not Message.objects.exists()


def test_metas_refusal_is_shown_not_a_500(sandbox_waba, marketer):
    flow = draft_on_sandbox_meta(sandbox_waba)
    # Deprecated on Meta behind our back: Meta refuses with 132068.
    MetaFlow.objects.filter(flow_id=flow.meta_flow_id).update(status="DEPRECATED")
    response = client_for(marketer).post(
        reverse(SEND, args=[flow.pk]), {"to": WA_ID, "cta": "Open"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Not sent:" in response.content.decode() and "blocked" in response.content.decode()


def test_a_flow_not_on_meta_yet_is_not_sent(sandbox_waba, marketer):
    flow = Flow.objects.create(waba=sandbox_waba, name="Local only", flow_json=HOTEL)
    response = client_for(marketer).post(
        reverse(SEND, args=[flow.pk]), {"to": WA_ID, "cta": "Open"}, HTTP_HX_REQUEST="true"
    )
    assert "not on Meta yet" in response.content.decode()


def test_a_campaign_manager_may_not_send(sandbox_waba, campaign_manager):
    flow = draft_on_sandbox_meta(sandbox_waba)
    response = client_for(campaign_manager).post(reverse(SEND, args=[flow.pk]), {"to": WA_ID})
    assert response.status_code == 403
    page = (
        client_for(campaign_manager).get(reverse("flows:detail", args=[flow.pk])).content.decode()
    )
    assert "Send as a message" not in page
