"""Sending templates through the sandbox Meta, over real HTTP: what a send must carry (above all the
Flow button's component), Meta's code for each thing missing or wrong, and what the sandbox keeps for
its phone to show and play. The templates' own rules are in test_sandbox_templates.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.models import Message, Template
from sandbox.services import disable_template, pause_template
from tests.test_sandbox import Recorder
from wabas.graph import GraphClient, HeaderParameter

from .test_sandbox_templates import (
    PHONE_ID,
    TOKEN,
    Meta,
    body,
    flow_button,
    sandbox_meta,
    start_recorder,
    template,
)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield from start_recorder()


@pytest.fixture
def meta(live_server: object, recorder: Recorder, transactional_db: None) -> Meta:
    meta = sandbox_meta(live_server.url, recorder.url)
    # stay_feedback: image header, "Hi {{1}}, ... {{2}} ...", footer, FLOW button at index 1.
    image = {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [meta.upload()]}}
    payload = template(meta)
    payload["components"] = [
        image,
        body("Hi {{1}}, how was room {{2}} during your stay with us?", "Ana", "204"),
        {"type": "FOOTER", "text": "Hotel Azul"},
        {
            "type": "BUTTONS",
            "buttons": [{"type": "QUICK_REPLY", "text": "Not now"}, flow_button(meta)],
        },
    ]
    assert meta.create(payload)["status"] == "PENDING"
    return meta


def button(index: object = "1", **action: object) -> dict:
    action = {"flow_token": "tok-7f3a"} | action
    return {
        "type": "button",
        "sub_type": "flow",
        "index": index,
        "parameters": [{"type": "action", "action": action}],
    }


def message(*components: dict, name: str = "stay_feedback", **changes: object) -> dict:
    if not components:
        components = (
            {
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": "https://x.org/a.png"}}],
            },
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "204"}],
            },
            button(flow_action_data={"room": "204"}),
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+1 555 123 4567",
        "type": "template",
        "template": {"name": name, "language": {"code": "en_US"}, "components": list(components)},
    } | changes


def refused(meta: Meta, payload: dict, code: int, status: int = 400) -> dict:
    response = meta.post(f"{PHONE_ID}/messages", json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"].startswith(f"(#{code}) ")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    return error


# --- a good send ------------------------------------------------------------------------------------


def test_a_good_send_keeps_what_the_phone_shows_and_echoes_the_callback_data(meta, recorder):
    response = meta.post(
        f"{PHONE_ID}/messages", json=message(biz_opaque_callback_data="camp-7:r-31")
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["contacts"] == [{"input": "+1 555 123 4567", "wa_id": "15551234567"}]
    assert answer["messages"][0]["message_status"] == "accepted"
    sent = Message.objects.get(wamid=answer["messages"][0]["id"])
    assert {
        "header_format": sent.header_format,
        "header_media": sent.header_media,
        "body_text": sent.body_text,
        "footer_text": sent.footer_text,
        "button_text": sent.button_text,
        "button_flow_id": sent.button_flow_id,
        "flow_action": sent.flow_action,
        "navigate_screen": sent.navigate_screen,
        "flow_token": sent.flow_token,
        "flow_action_data": sent.flow_action_data,
    } == {
        "header_format": "IMAGE",
        "header_media": {"link": "https://x.org/a.png"},
        "body_text": "Hi Ana, how was room 204 during your stay with us?",
        "footer_text": "Hotel Azul",
        "button_text": "Rate your stay",
        "button_flow_id": meta.flow_id,
        "flow_action": "navigate",
        "navigate_screen": "WELCOME",
        "flow_token": "tok-7f3a",
        "flow_action_data": {"room": "204"},
    }
    statuses = [v["statuses"][0] for v in recorder.values("messages")]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert {s["biz_opaque_callback_data"] for s in statuses} == {"camp-7:r-31"}


def test_the_clients_send_is_what_the_sandbox_takes(meta):
    client = GraphClient(
        base_url=meta.base.removesuffix("/v23.0"), api_version="v23.0", access_token=TOKEN
    )
    try:
        sent = client.send_template_message(
            PHONE_ID,
            to="15551234567",
            template_name="stay_feedback",
            language="en_US",
            header=HeaderParameter("image", media_id="1122334455"),
            body=["Bo", "12"],
            flow_token="tok-9",
            button_index=1,
        )
    finally:
        client.session.close()
    assert (sent.message_status, sent.wa_id) == ("accepted", "15551234567")
    shown = Message.objects.get(wamid=sent.wamid)
    assert (shown.body_text, shown.header_media, shown.flow_token) == (
        "Hi Bo, how was room 12 during your stay with us?",
        {"id": "1122334455"},
        "tok-9",
    )


def test_named_parameters_fill_a_named_template_and_data_exchange_opens_no_screen(meta):
    named = body("Thanks {{first_name}}, how was room {{room}} for you?")
    named["example"] = {
        "body_text_named_params": [
            {"param_name": "first_name", "example": "Ana"},
            {"param_name": "room", "example": "204"},
        ]
    }
    exchange = {
        "type": "BUTTONS",
        "buttons": [flow_button(meta, flow_action="data_exchange", navigate_screen=None)],
    }
    payload = template(meta, "stay_named", parameter_format="NAMED")
    payload["components"] = [named, exchange]
    meta.create(payload)
    values = [
        {"type": "text", "parameter_name": "room", "text": "7"},
        {"type": "text", "parameter_name": "first_name", "text": "Bo"},
    ]
    sent = meta.post(
        f"{PHONE_ID}/messages",
        json=message({"type": "body", "parameters": values}, button("0"), name="stay_named"),
    )
    shown = Message.objects.get(wamid=sent.json()["messages"][0]["id"])
    assert shown.body_text == "Thanks Bo, how was room 7 for you?"
    assert (shown.flow_action, shown.navigate_screen, shown.header_format) == (
        "data_exchange",
        "",
        "",
    )

    positional = [{"type": "text", "text": "Bo"}, {"type": "text", "text": "7"}]
    error = refused(
        meta,
        message({"type": "body", "parameters": positional}, button("0"), name="stay_named"),
        100,
    )
    assert error["error_data"]["details"] == "Parameter name is missing or empty"


def test_without_navigate_screen_the_flow_opens_at_its_first_screen(meta):
    payload = template(meta, "no_screen")
    payload["components"][3] = {
        "type": "BUTTONS",
        "buttons": [flow_button(meta, navigate_screen=None)],
    }
    meta.create(payload)
    components = ({"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}, button("0"))
    sent = meta.post(f"{PHONE_ID}/messages", json=message(*components, name="no_screen")).json()
    assert Message.objects.get(wamid=sent["messages"][0]["id"]).navigate_screen == "WELCOME"


# --- the template's status ------------------------------------------------------------------------


def test_only_approved_templates_are_sent(meta):
    template_id = Template.objects.get(name="stay_feedback").template_id
    pause_template(template_id)
    assert refused(meta, message(), 132015)["message"] == "(#132015) Template is Paused"
    Template.objects.filter(template_id=template_id).update(status="APPROVED")
    disable_template(template_id)
    assert refused(meta, message(), 132016)["message"] == "(#132016) Template is Disabled"
    for status in ("PENDING", "REJECTED"):
        Template.objects.filter(template_id=template_id).update(status=status)
        error = refused(meta, message(), 132001, status=404)
        assert f"is {status}, not APPROVED" in error["error_data"]["details"]
    error = refused(meta, message(name="nope"), 132001, status=404)
    assert error["error_data"]["details"] == "template name (nope) does not exist in en_US"
    assert Message.objects.count() == 0


# --- the Flow button's component ----------------------------------------------------------------------


BODY = {
    "type": "body",
    "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "204"}],
}
HEADER = {"type": "header", "parameters": [{"type": "image", "image": {"id": "1"}}]}


@pytest.mark.parametrize(
    ("flow", "words"),
    [
        (None, 'add a button component with sub_type flow, index "1"'),
        (button("0"), "the FLOW button is at index 1, not 0"),
        (button(flow_token=""), "flow_token can't be empty"),
        (button(flow_action_data={}), "flow_action_data must be a non-empty object"),
        (
            button() | {"parameters": [{"type": "text", "text": "x"}]},
            "one parameter of type action",
        ),
    ],
    ids=["no-button", "wrong-index", "empty-token", "empty-data", "not-an-action"],
)
def test_the_flow_button_component_is_required_with_its_index_and_a_token(meta, flow, words):
    components = [HEADER, BODY] + ([flow] if flow else [])
    error = refused(meta, message(*components), 131009)
    assert error["message"] == "(#131009) Parameter value is not valid"
    assert words in error["error_data"]["details"]


def test_an_integer_index_and_a_token_left_out_are_taken(meta):
    flow = button(1)
    del flow["parameters"][0]["action"]["flow_token"]
    sent = meta.post(f"{PHONE_ID}/messages", json=message(HEADER, BODY, flow)).json()
    assert Message.objects.get(wamid=sent["messages"][0]["id"]).flow_token == "unused"


# --- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "code", "details"),
    [
        (
            [HEADER, {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}, button()],
            132000,
            "body: number of localizable_params (1) does not match the expected number of params (2)",
        ),
        ([BODY, button()], 132012, "header: Format mismatch, expected IMAGE, received UNKNOWN"),
        (
            [
                {"type": "header", "parameters": [{"type": "video", "video": {"id": "1"}}]},
                BODY,
                button(),
            ],
            132012,
            "header: Format mismatch, expected IMAGE, received VIDEO",
        ),
        (
            [HEADER, {"type": "body", "parameters": [{"type": "text", "text": ""}] * 2}, button()],
            131008,
            "body: parameter 1 has no text.",
        ),
    ],
    ids=["too-few", "no-header", "wrong-header", "empty-text"],
)
def test_parameters_must_match_the_template(meta, components, code, details):
    assert refused(meta, message(*components), code)["error_data"]["details"] == details


@pytest.mark.parametrize(
    ("changes", "code"),
    [({"to": "call me"}, 100), ({"to": "12"}, 100), ({"to": ""}, 131008)],
)
def test_to_must_be_a_phone_number(meta, changes, code):
    error = refused(meta, message(**changes), code)
    if code == 100:
        assert error["message"] == "(#100) Invalid parameter"
        assert "is not a phone number" in error["error_data"]["details"]
