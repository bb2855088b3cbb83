"""NUL and lone UTF-16 surrogates, which PostgreSQL (NUL) and UTF-8 (surrogates) refuse, through the
endpoint and the webhook: replaced by U+FFFD where they enter, so the answer encodes, the event is
stored and nothing fails on a retry."""

from __future__ import annotations

import json

import pytest

from audience.models import Event, Profile
from exchange.models import EndpointError
from flowsadmin.tokens import issue_flow_token
from wabas.models import WebhookDelivery
from wabas.safe_text import clean, loads_clean

from .conftest import post_webhook, send_to_endpoint
from .endpoint_support import exchange_request

pytestmark = pytest.mark.usefixtures("fresh_endpoint_caches")

SURROGATE, NUL, R = "\ud800", "\x00", "\ufffd"
ANA = "15551234567"


def test_clean_replaces_nul_and_lone_surrogates_but_keeps_emoji():
    text = '{"a\\u0000": ["x\\ud800y", "\\uDC00", "\\ud83d\\ude00"], "ok": "\\u00e9"}'
    assert loads_clean(text) == {"a" + R: ["x" + R + "y", R, "😀"], "ok": "é"}
    assert loads_clean(text.encode()) == loads_clean(text)
    # An escaped backslash before "u0000" is plain text, and kept.
    assert loads_clean('"\\\\u0000"') == "\\u0000"
    assert clean({"k": [1, None, True]}) == {"k": [1, None, True]}


def test_a_lone_surrogate_echoed_back_by_static_navigation_is_answered(phone, bus_flow):
    payload = {"next_screen": "seat_selection", "depart_from": "Pune" + SURROGATE}
    status, answer = send_to_endpoint(phone, bus_flow, exchange_request("welcome_screen", payload))
    assert status == 200
    assert answer["data"] == {"depart_from": "Pune" + R}


def test_a_lone_surrogate_in_version_is_answered(phone, bus_flow):
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"})
    status, answer = send_to_endpoint(phone, bus_flow, request | {"version": SURROGATE})
    assert (status, answer["screen"], answer["version"]) == (200, "seat_selection", R)


@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_ct_evt_data_and_a_foreign_flow_token_with_refused_characters_are_stored(
    phone, bus_flow, bad
):
    payload = {
        "next_screen": "seat_selection",
        "ct-evt": {"evtName": "Seat" + bad, "evtData": {"seat" + bad: "12A" + bad}},
        "ct-up": {"Loyalty" + bad: "gold" + bad},
    }
    request = exchange_request("welcome_screen", payload, token="tok" + bad)
    status, answer = send_to_endpoint(phone, bus_flow, request)
    assert (status, answer["screen"]) == (200, "seat_selection")
    event = Event.objects.get(name="Seat" + R)
    assert event.properties == {"seat" + R: "12A" + R}
    assert event.flow_token == "tok" + R
    pending = Event.objects.get(name="WAF_ProfileUpdated")
    assert pending.properties == {"Loyalty" + R: "gold" + R}


def test_a_ct_up_key_with_a_surrogate_updates_the_profile_our_token_names(phone, bus_flow):
    token = issue_flow_token(whatsapp_id=ANA, flow=bus_flow)
    payload = {"next_screen": "seat_selection", "ct-up": {"Seat" + SURROGATE: "12A", "City": NUL}}
    status, _ = send_to_endpoint(
        phone, bus_flow, exchange_request("welcome_screen", payload, token)
    )
    assert status == 200
    profile = Profile.objects.get(whatsapp_id=ANA)
    assert profile.properties == {"Seat" + R: "12A"}
    assert profile.city == R


@pytest.mark.parametrize("field", ["screen", "action"])
def test_a_nul_in_screen_or_action_still_leaves_a_problem_record(phone, bus_flow, field):
    # No next_screen: a navigation problem is recorded naming the screen (or an unknown action).
    request = exchange_request("welcome_screen", {}) | {field: "welcome" + NUL}
    status, answer = send_to_endpoint(phone, bus_flow, request)
    assert status == 200 and "error_message" in answer["data"]
    problem = EndpointError.objects.get(flow=bus_flow)
    assert problem.detail[field] == "welcome" + R


def completion_body(waba_id: str, answers_text: str, *, name: str = "Ana") -> bytes:
    """A completion whose response_json is given as text (escapes and all), with the contact name."""
    message = {
        "from": ANA,
        "id": "wamid.HOSTILE",
        "timestamp": "1767000123",
        "type": "interactive",
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": answers_text},
        },
    }
    value = {
        "messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": name}, "wa_id": ANA}],
        "messages": [message],
    }
    entry = {"id": waba_id, "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


@pytest.mark.parametrize("bad", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_a_completion_with_refused_characters_everywhere_is_recorded(client, waba, bad):
    answers = {
        "comment": "Great" + bad,
        "flow_token": "tok" + bad,
        "ct-evt": {"evtName": "Stay" + bad, "evtData": {"k" + bad: "v" + bad}},
        "ct-up": {"Tier" + bad: "gold" + bad},
    }
    body = completion_body(waba.meta_waba_id, json.dumps(answers), name="Ana" + bad)
    response = post_webhook(client, waba, body)
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "PROCESSED", delivery.result
    submitted = Event.objects.get(name="WAF_Flow_Submitted")
    assert submitted.properties["comment"] == "Great" + R
    assert submitted.flow_token == "tok" + R
    assert Event.objects.get(name="Stay" + R).properties == {"k" + R: "v" + R}
    profile = Profile.objects.get(whatsapp_id=ANA)
    assert profile.name == "Ana" + R
    assert profile.properties == {"Tier" + R: "gold" + R}
