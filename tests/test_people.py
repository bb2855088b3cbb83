"""Completions from the webhook become events on profiles; Find People shows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from audience.models import Event, Profile
from flowsadmin.models import Flow
from flowsadmin.tokens import issue_flow_token, read_flow_token
from wabas.crypto import hub_signature
from wabas.models import WebhookDelivery

from .conftest import client_for, send_to_endpoint
from .meta_client import MetaPhone

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"
BUS = (EXAMPLES / "bus-booking.clevertap-endpoint.flow.json").read_text()
HOTEL = (EXAMPLES / "hotel-feedback.static.flow.json").read_text()
ANA = "15551234567"


def completion(
    waba_id: str, answers: dict, *, wamid: str = "wamid.COMPLETION_123", sender: str = ANA
) -> bytes:
    """A Flow completion webhook (an nfm_reply message) carrying the flow's final payload."""
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550001111",
                                    "phone_number_id": "106540352242922",
                                },
                                "contacts": [{"profile": {"name": "Ana R."}, "wa_id": sender}],
                                "messages": [
                                    {
                                        "context": {"from": "15550001111", "id": "wamid.FLOW_1"},
                                        "from": sender,
                                        "id": wamid,
                                        "timestamp": "1767000123",
                                        "type": "interactive",
                                        "interactive": {
                                            "type": "nfm_reply",
                                            "nfm_reply": {
                                                "name": "flow",
                                                "body": "Sent",
                                                "response_json": json.dumps(answers),
                                            },
                                        },
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


@pytest.fixture
def deliver(client, waba, django_capture_on_commit_callbacks):
    """POST a signed webhook like Meta; its processing task runs (eagerly) on commit."""

    def send(body: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/meta/webhook/",
                body,
                content_type="application/json",
                HTTP_X_HUB_SIGNATURE_256=hub_signature(body, waba.app_secret),
            )
        assert response.status_code == 200
        return response

    return send


@pytest.fixture
def hotel_flow(waba) -> Flow:
    return Flow.objects.create(
        waba=waba, name="Hotel feedback", flow_json=HOTEL, status="PUBLISHED", meta_flow_id="771"
    )


@pytest.fixture
def bus_flow(waba) -> Flow:
    return Flow.objects.create(waba=waba, name="Bus booking", flow_json=BUS, status="PUBLISHED")


HOTEL_ANSWERS = {
    "recommend": "0_Yes",
    "comment": "Room was spotless",
    "ct-evt": {
        "evtName": "Stay Feedback",
        "evtData": {"stay_experience": "0_★★★★★_•_Excellent_(5/5)", "recommend": "0_Yes"},
    },
    "ct-up": {"Email": "ana@example.org", "Loyalty tier": "gold"},
}


def test_a_completion_records_the_submitted_event_its_ct_evt_and_ct_up(deliver, waba, hotel_flow):
    token = issue_flow_token(whatsapp_id=ANA, campaign_id=3, flow=hotel_flow)
    deliver(completion(waba.meta_waba_id, {**HOTEL_ANSWERS, "flow_token": token}))
    profile = Profile.objects.get(whatsapp_id=ANA)
    assert (profile.name, profile.phone, profile.email) == (
        "Ana R.",
        "+15551234567",
        "ana@example.org",
    )
    assert profile.properties == {"Loyalty tier": "gold"}
    events = {e.name: e for e in profile.events.all()}
    assert set(events) == {"WAF_HotelFeedback_Submitted", "Stay Feedback", "WAF_ProfileUpdated"}
    submitted = events["WAF_HotelFeedback_Submitted"]
    # The plain answers, then those carried inside ct-evt (the hotel example keeps them there).
    assert submitted.properties == {
        "recommend": "0_Yes",
        "comment": "Room was spotless",
        "stay_experience": "0_★★★★★_•_Excellent_(5/5)",
        "flow_id": "771",
        "campaign_id": 3,  # the token's campaign: the completion names it
    }
    assert (submitted.flow, submitted.source, submitted.flow_token) == (
        hotel_flow,
        "completion",
        token,
    )
    assert submitted.occurred_at.timestamp() == 1767000123
    assert events["Stay Feedback"].properties["stay_experience"] == "0_★★★★★_•_Excellent_(5/5)"
    assert events["WAF_ProfileUpdated"].properties == {
        "Email": "ana@example.org",
        "Loyalty tier": "gold",
    }
    delivery = WebhookDelivery.objects.get()
    assert delivery.result == f"messages: WAF_HotelFeedback_Submitted recorded for {ANA}."


def test_no_profile_update_event_when_nothing_changed(deliver, waba, hotel_flow):
    Profile.objects.create(
        whatsapp_id=ANA, email="ana@example.org", properties={"Loyalty tier": "gold"}
    )
    token = issue_flow_token(whatsapp_id=ANA, flow=hotel_flow)
    deliver(completion(waba.meta_waba_id, {**HOTEL_ANSWERS, "flow_token": token}))
    names = set(Event.objects.values_list("name", flat=True))
    assert names == {"WAF_HotelFeedback_Submitted", "Stay Feedback"}


def test_an_empty_answer_does_not_erase_what_we_know(deliver, waba, hotel_flow):
    Profile.objects.create(whatsapp_id=ANA, email="ana@example.org")
    answers = {"flow_token": "x", "ct-up": {"Email": "", "Gender": "F"}}
    deliver(completion(waba.meta_waba_id, answers))
    profile = Profile.objects.get()
    assert (profile.email, profile.gender) == ("ana@example.org", "F")


def test_a_redelivered_completion_changes_nothing(deliver, waba, hotel_flow):
    body = completion(waba.meta_waba_id, {**HOTEL_ANSWERS, "flow_token": "tok-1"})
    deliver(body)
    before = list(Event.objects.values_list("pk", flat=True))
    deliver(body)  # the very same body: the webhook store recognises it
    # The same message in a new envelope (Meta retries to every subscribed app): the message id does.
    deliver(body.replace(b'"messaging_product"', b'"messaging_product" '))
    assert list(Event.objects.values_list("pk", flat=True)) == before
    last = WebhookDelivery.objects.order_by("-pk").first()
    assert last.result == f"messages: WAF_Flow_Submitted from {ANA} was already recorded."


def test_earlier_endpoint_events_with_the_same_token_are_stitched(deliver, client, waba, bus_flow):
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    request = {
        "version": "3.0",
        "action": "data_exchange",
        "screen": "welcome_screen",
        "flow_token": "tok-7f3a",
        "data": {
            "next_screen": "seat_selection",
            "ct-evt": {"evtName": "Date Selected", "evtData": {"depart_from": "Pune"}},
            "ct-up": {"City": "Pune", "Seat pref": "window"},
        },
    }
    assert send_to_endpoint(phone, bus_flow, request, client)[0] == 200
    assert Event.objects.filter(profile=None).count() == 2  # the event and the pending update

    deliver(completion(waba.meta_waba_id, {"flow_token": "tok-7f3a", "seat": "1A"}))
    profile = Profile.objects.get(whatsapp_id=ANA)
    assert not Event.objects.filter(profile=None).exists()
    assert (profile.city, profile.properties) == ("Pune", {"Seat pref": "window"})
    submitted = profile.events.get(source="completion")
    # Not named by our token, the flow is found through the stitched endpoint events.
    assert (submitted.name, submitted.flow) == ("WAF_BusBooking_Submitted", bus_flow)
    assert submitted.properties == {"seat": "1A", "flow_id": str(bus_flow.public_id)}
    assert "2 earlier event(s) stitched" in WebhookDelivery.objects.get().result


def test_an_overlong_foreign_token_still_keeps_and_stitches_its_events(deliver, waba, bus_flow):
    token = "t" * 5000
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    request = {
        "version": "3.0",
        "action": "data_exchange",
        "screen": "welcome_screen",
        "flow_token": token,
        "data": {"next_screen": "seat_selection", "ct-evt": {"evtName": "Date Selected"}},
    }
    assert send_to_endpoint(phone, bus_flow, request)[1]["screen"] == "seat_selection"
    deliver(completion(waba.meta_waba_id, {"flow_token": token}))
    assert Event.objects.get(name="Date Selected").profile.whatsapp_id == ANA


def test_a_token_shared_by_several_people_is_not_stitched(deliver, waba, bus_flow):
    deliver(
        completion(waba.meta_waba_id, {"flow_token": "unused"}, wamid="wamid.A", sender="111111")
    )
    Event.objects.create(
        name="Date Selected", source="endpoint", flow=bus_flow, flow_token="unused"
    )
    deliver(
        completion(waba.meta_waba_id, {"flow_token": "unused"}, wamid="wamid.B", sender="222222")
    )
    assert Event.objects.get(name="Date Selected").profile is None


def test_other_messages_and_statuses_are_left_alone(deliver, waba):
    body = completion(waba.meta_waba_id, {"flow_token": "x"})
    payload = json.loads(body)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"type": "text", "text": {"body": "hi"}})
    del message["interactive"]
    deliver(json.dumps(payload).encode())
    assert not Event.objects.exists() and not Profile.objects.exists()


def test_a_reply_whose_response_json_is_broken_is_kept_not_applied(deliver, waba):
    body = completion(waba.meta_waba_id, {}).replace(
        b'"response_json": "{}"', b'"response_json": "{oops"'
    )
    deliver(body)
    assert not Event.objects.exists()
    assert "not JSON" in WebhookDelivery.objects.get().result


def test_flow_tokens_carry_who_which_campaign_and_which_flow(hotel_flow):
    token = issue_flow_token(whatsapp_id=ANA, campaign_id=12, flow=hotel_flow)
    assert read_flow_token(token) == {
        "whatsapp_id": ANA,
        "campaign_id": 12,
        "flow": str(hotel_flow.public_id),
        "expired": False,
    }
    assert read_flow_token(token[:-2] + "zz") is None
    assert read_flow_token("tok-7f3a") is None


# Find People


@pytest.fixture
def people(db) -> list[Profile]:
    ana = Profile.objects.create(
        whatsapp_id=ANA, phone="+1 555 123 4567", name="Ana Ruiz", email="ana@example.org"
    )
    bo = Profile.objects.create(whatsapp_id="447700900123", name="Bo Chen", email="bo@example.com")
    Event.objects.create(profile=ana, name="Older event", source="endpoint", properties={"a": "1"})
    Event.objects.create(
        profile=ana,
        name="WAF_HotelFeedback_Submitted",
        source="completion",
        properties={"comment": "Room was spotless", "rating": {"stars": "5"}},
    )
    return [ana, bo]


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("marketer", 200), ("campaigns", 200), ("norole", 403), ("anon", 302)],
)
def test_people_pages_answer_each_role(
    people, admin_user, marketer, campaign_manager, no_role_user, role, expected
):
    user = {
        "admin": admin_user,
        "marketer": marketer,
        "campaigns": campaign_manager,
        "norole": no_role_user,
        "anon": None,
    }[role]
    client = client_for(user)
    for url in (reverse("people:list"), reverse("people:detail", args=[people[0].pk])):
        response = client.get(url)
        assert response.status_code == expected, url
        if expected == 302:
            assert response["Location"].startswith(reverse("login"))


def test_people_is_in_the_navigation(marketer):
    assert 'href="/people/"' in client_for(marketer).get(reverse("flows:list")).content.decode()


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ana@example", ["Ana Ruiz"]),
        ("bo chen", ["Bo Chen"]),
        ("447700900123", ["Bo Chen"]),
        ("+1 (555) 123-4567", ["Ana Ruiz"]),
        ("1234567", ["Ana Ruiz"]),
        ("", ["Ana Ruiz", "Bo Chen"]),
        ("nobody", []),
    ],
)
def test_find_people_by_phone_whatsapp_id_email_or_name(people, marketer, query, found):
    response = client_for(marketer).get(reverse("people:list"), {"q": query})
    page = response.content.decode()
    shown = [p.name for p in people if p.name in page]
    assert sorted(shown) == sorted(found)
    if not found:
        assert "Nobody matches" in page


def test_htmx_search_returns_only_the_results(people, marketer):
    response = client_for(marketer).get(reverse("people:list"), {"q": "bo"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="profile-table">')
    assert "Bo Chen" in page and "<html" not in page


def test_the_profile_page_shows_properties_and_the_timeline_newest_first(people, marketer):
    ana = people[0]
    ana.properties = {"Loyalty tier": "gold"}
    ana.save()
    page = client_for(marketer).get(reverse("people:detail", args=[ana.pk])).content.decode()
    assert "ana@example.org" in page and "Loyalty tier" in page and "gold" in page
    assert page.index("WAF_HotelFeedback_Submitted") < page.index("Older event")
    assert "Room was spotless" in page
    assert '{"stars": "5"}' in page.replace("&quot;", '"')


def test_an_unknown_profile_is_404(marketer, db):
    assert client_for(marketer).get(reverse("people:detail", args=[999999])).status_code == 404
