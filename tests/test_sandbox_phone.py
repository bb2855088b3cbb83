"""The sandbox phone plays our flows through the test client: navigate locally, data_exchange over real
HTTP to our hosted endpoint (encrypted as Meta does), complete as a signed nfm_reply webhook."""

from __future__ import annotations

import ast
import html
import json
from pathlib import Path

import pytest
from django.urls import reverse

from audience.models import Event, Profile
from exchange import cache
from exchange.models import EndpointError
from flowsadmin.models import Flow
from flowsadmin.tokens import read_flow_token
from sandbox import meta_crypto
from sandbox import validation as meta_validation
from sandbox.models import Account, SentWebhook
from sandbox.models import Flow as MetaFlow
from sandbox.services import publish_flow, save_new_flow

from .conftest import client_for

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"
HOTEL = (EXAMPLES / "hotel-feedback.static.flow.json").read_text()
BUS = (EXAMPLES / "bus-booking.clevertap-endpoint.flow.json").read_text()
WA_ID = "15551234567"


@pytest.fixture(autouse=True)
def public_base_url(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    cache.private_key.cache_clear()
    cache.forget_hosted_flows()
    yield
    cache.forget_hosted_flows()


def on_sandbox_meta(flow: Flow) -> MetaFlow:
    """Put a published flow on the sandbox Meta as saving and publishing it from the dashboard would:
    its JSON as the flow asset and, when it uses an endpoint, our data-exchange URL as endpoint_uri.
    The phone plays that copy. No status webhooks: these tests look at what the phone sends."""
    checked = meta_validation.validate(flow.flow_json)
    meta = MetaFlow(
        account=Account.objects.get(waba_id=flow.waba.meta_waba_id),
        flow_id=flow.meta_flow_id,
        name=flow.name,
        categories=flow.categories,
        endpoint_uri=flow.data_exchange_url() if checked.data_api_version else "",
    )
    meta.set_json(
        flow.flow_json,
        errors=checked.errors,
        version=checked.version,
        data_api_version=checked.data_api_version,
    )
    save_new_flow(meta, notify=False)
    return publish_flow(meta, notify=False)


def published(waba, name: str, text: str) -> Flow:
    flow = Flow.objects.create(
        waba=waba, name=name, flow_json=text, status="PUBLISHED", meta_flow_id="5550001"
    )
    on_sandbox_meta(flow)
    return flow


def page(client, flow: Flow) -> str:
    response = client.get(reverse("sandbox:phone", args=[flow.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def act(client, flow: Flow, **fields: object) -> str:
    response = client.post(reverse("sandbox:phone", args=[flow.pk]), fields)
    assert response.status_code == 302
    return page(client, flow)


def footer(client, flow: Flow, **answers: object) -> str:
    return act(client, flow, op="footer", **{f"f.{k}": v for k, v in answers.items()})


def test_the_hotel_feedback_flow_plays_to_completion_and_lands_on_the_profile(
    sandbox_waba, admin_user
):
    flow = published(sandbox_waba, "Hotel feedback", HOTEL)
    client = client_for(admin_user)
    text = page(client, flow)
    assert "Open the flow" in text

    text = act(client, flow, op="start", whatsapp_id=WA_ID)
    assert "Feedback 1 of 2" in text and "Would you recommend us to a friend?" in text
    assert 'name="f.recommend"' in text

    # A required answer left empty stays on the screen with a message; nothing is sent.
    text = footer(client, flow, comment="Lovely")
    assert "Fill in: Choose one." in text and "Feedback 1 of 2" in text

    text = footer(client, flow, recommend="0_Yes", comment="Lovely pool")
    assert "Feedback 2 of 2" in text and "Stay Experience" in text
    assert not SentWebhook.objects.exists()  # navigate is local: no endpoint, no webhook

    text = footer(
        client,
        flow,
        Stay_Experience_f2b4e8="0_★★★★★_•_Excellent_(5/5)",
        Food_Experience_bf1842="1_★★★★☆_•_Good_(4/5)",
        Customer_service="0_Excellent",
    )
    assert "Flow finished, answers sent to the business" in text
    assert "HTTP 200" in text

    webhook = SentWebhook.objects.get(field="messages")
    assert webhook.delivered
    value = json.loads(webhook.body)["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    assert value["contacts"][0]["wa_id"] == WA_ID
    assert (message["from"], message["type"]) == (WA_ID, "interactive")
    assert message["interactive"]["type"] == "nfm_reply"
    assert message["interactive"]["nfm_reply"]["name"] == "flow"
    answers = json.loads(message["interactive"]["nfm_reply"]["response_json"])
    assert read_flow_token(answers["flow_token"])["whatsapp_id"] == WA_ID
    assert answers["ct-evt"]["evtData"]["recommend"] == "0_Yes"

    profile = Profile.objects.get(whatsapp_id=WA_ID)
    names = set(profile.events.values_list("name", flat=True))
    assert {"WAF_HotelFeedback_Submitted", "Stay Feedback"} <= names
    submitted = profile.events.get(name="WAF_HotelFeedback_Submitted")
    assert submitted.flow == flow
    answered = {
        "stay_experience": "0_★★★★★_•_Excellent_(5/5)",
        "food_experience": "1_★★★★☆_•_Good_(4/5)",
        "customer_service_experience": "0_Excellent",
        "recommend": "0_Yes",
        "comment": "Lovely pool",
    }
    assert profile.events.get(name="Stay Feedback").properties == answered
    # The submitted event carries every answered field and the flow id too.
    assert submitted.properties == answered | {"flow_id": flow.meta_flow_id or str(flow.public_id)}


def test_the_bus_booking_moves_screens_through_the_real_endpoint_and_ingests(
    sandbox_waba, admin_user
):
    flow = published(sandbox_waba, "Bus booking", BUS)
    client = client_for(admin_user)
    text = act(client, flow, op="start", whatsapp_id=WA_ID)
    assert "Book your journey" in text

    text = footer(
        client,
        flow,
        depart_from="Pune",
        arrive_in="Goa",
        depart_date="2025-06-01",
        return_date="",
    )
    assert "Select your seats" in text
    assert "data_exchange" in text and ">200<" in text  # the call is listed under the phone
    profile = Profile.objects.get(whatsapp_id=WA_ID)
    date_selected = profile.events.get(name="Date Selected")
    assert date_selected.properties["depart_from"] == "Pune"

    text = footer(client, flow, left_seats="2A", right_seats="3C")
    assert "Booking Confirmed!" in text
    assert "Pune" in text and "Goa" in text and "2A" in text  # the endpoint's data is drawn
    seat = profile.events.get(name="Seat Selected").properties
    assert (seat["selected_left_seat"], seat["arrive_in"]) == ("2A", "Goa")

    # Back goes to the previous screen locally, with its answers.
    text = act(client, flow, op="back")
    assert "Select your seats" in text
    text = footer(client, flow, left_seats="2A", right_seats="3C")
    text = footer(client, flow)
    assert "Flow finished, answers sent to the business" in text
    names = set(profile.events.values_list("name", flat=True))
    assert {"WAF_BusBooking_Submitted", "Bus booking Done"} <= names


def test_init_opens_the_first_screen_through_the_endpoint(sandbox_waba, admin_user):
    flow = published(sandbox_waba, "Bus booking", BUS)
    client = client_for(admin_user)
    text = act(client, flow, op="start", whatsapp_id=WA_ID, init="on")
    assert "Book your journey" in text and "INIT" in text


def test_a_data_api_4_flow_is_played_with_a_flow_token_signature(
    sandbox_waba, admin_user, monkeypatch
):
    """Data API 4.0: the phone signs the flow token as Meta does, and our endpoint checks it."""
    bus = json.loads(BUS) | {"data_api_version": "4.0"}
    flow = published(sandbox_waba, "Bus booking", json.dumps(bus))
    client = client_for(admin_user)
    assert "Book your journey" in act(client, flow, op="start", whatsapp_id=WA_ID, init="on")

    monkeypatch.setattr(
        meta_crypto, "flow_token_signature", lambda token, secret: "forged.jwt.value"
    )
    text = act(client, flow, op="start", whatsapp_id=WA_ID, init="on")
    assert "This form is no longer available." in text
    assert EndpointError.objects.get(flow=flow).kind == "invalid_token"


def test_an_endpoint_error_is_shown_on_the_phone(sandbox_waba, admin_user):
    broken = json.loads(BUS)
    footer_action = broken["screens"][0]["layout"]["children"][2]["children"][-1]
    footer_action["on-click-action"]["payload"]["next_screen"] = "nowhere"
    flow = published(sandbox_waba, "Bus booking", json.dumps(broken))
    client = client_for(admin_user)
    act(client, flow, op="start", whatsapp_id=WA_ID)
    text = footer(client, flow, depart_from="Pune", arrive_in="Goa", depart_date="2025-06-01")
    assert "This step isn't available right now" in text
    assert "Book your journey" in text and 'value="Pune"' in text  # same screen, answers kept
    assert EndpointError.objects.filter(flow=flow).exists()


def test_http_errors_are_readable_on_the_phone(sandbox_waba, admin_user):
    flow = published(sandbox_waba, "Bus booking", BUS)
    sandbox_waba.app_secret = "not-the-secret-meta-signs-with"
    sandbox_waba.save()
    client = client_for(admin_user)
    act(client, flow, op="start", whatsapp_id=WA_ID)
    text = footer(client, flow, depart_from="Pune", arrive_in="Goa", depart_date="2025-06-01")
    assert "did not accept the request signature (HTTP 432)" in text
    assert not Event.objects.exists()


def test_the_sandbox_page_links_published_flows_to_the_phone(sandbox_waba, admin_user):
    flow = published(sandbox_waba, "Hotel feedback", HOTEL)
    meta = MetaFlow.objects.get(flow_id="5550001")
    client = client_for(admin_user)
    home = client.get(reverse("sandbox:home")).content.decode()
    link = reverse("sandbox:phone_by_meta_id", args=[meta.flow_id])
    assert link in home and "Play on the sandbox phone" in home
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox:phone", args=[flow.pk])


@pytest.mark.parametrize("role", ["marketer", "campaign_manager"])
def test_marketers_and_campaign_managers_try_a_flow_on_the_phone(sandbox_waba, role, request):
    """Issue 15: whoever may see a flow may try it; the sandbox's own pages stay admin-only."""
    flow = published(sandbox_waba, "Hotel feedback", HOTEL)
    client = client_for(request.getfixturevalue(role))
    url = reverse("sandbox:phone", args=[flow.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert f'href="{reverse("sandbox:home")}"' not in page.content.decode()  # no dead link
    assert reverse("flows:detail", args=[flow.pk]) in page.content.decode()
    started = client.post(url, {"op": "start", "whatsapp_id": WA_ID}, follow=True)
    assert started.status_code == 200 and "Feedback 1 of 2" in started.content.decode()
    assert client.get(reverse("sandbox:home")).status_code == 403
    assert client.get(reverse("sandbox:inbox_pick")).status_code == 403


def test_a_user_without_a_role_gets_403_on_the_phone(sandbox_waba, no_role_user):
    flow = published(sandbox_waba, "Hotel feedback", HOTEL)
    client = client_for(no_role_user)
    url = reverse("sandbox:phone", args=[flow.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"op": "start", "whatsapp_id": WA_ID}).status_code == 403


def test_the_phone_reads_and_seals_with_its_own_code():
    """The phone and the Meta-side crypto take from our code only what a Flow message carries (the
    flow, for its Flow ID and flow token), so a misreading in our preview or endpoint can't be
    repeated by the phone and slip past its tests."""
    root = Path(__file__).resolve().parent.parent / "sandbox"
    allowed = {"flowsadmin.models", "flowsadmin.tokens"}
    ours = ("flowsadmin", "wabas", "audience", "exchange", "templates_app", "campaigns")
    borrowed = {}
    for path in [*sorted((root / "phone").glob("*.py")), root / "meta_crypto.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in ours and name not in allowed:
                    borrowed.setdefault(path.name, []).append(name)
    assert borrowed == {}
