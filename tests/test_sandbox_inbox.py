"""The sandbox phone's inbox, over real HTTP: a template with a Flow button is created, approved and sent
through our Graph client to the sandbox Meta; the phone shows it as WhatsApp does, and tapping the
button plays the flow the message names with the message's flow token. The completion comes back to
/meta/webhook/ as the nfm_reply for that message and lands on the person's profile with that token."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.urls import reverse

from audience.models import Event, Profile
from exchange import cache
from flowsadmin.models import Flow
from flowsadmin.tokens import issue_flow_token
from sandbox.models import Account, Message, SentWebhook, Template
from sandbox.models import Flow as MetaFlow
from sandbox.models import PhoneNumber as MetaPhoneNumber
from sandbox.services import move_flow, review_template
from wabas.graph import FlowButton, GraphClient, HeaderParameter, TemplateContent, TemplateHeader

from .conftest import client_for
from .test_sandbox_customer import WEATHER
from .test_sandbox_phone import HOTEL, on_sandbox_meta

WA_ID = "15551234567"
OTHER_WA_ID = "447700900123"
APP_ID = "300000000000001"
PHONE_ID = "106540352242922"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.7\n" + bytes(range(64))


# --- the cast: a WABA on the sandbox, the hotel and weather flows published there ------------------


@contextmanager
def graph_client(waba, live_server_url: str, settings) -> Iterator[GraphClient]:
    """Our Graph client on the sandbox Meta, the WABA's app id known to both sides (media samples),
    our endpoint's relay allowed to reach the sandbox's weather server on loopback."""
    settings.PUBLIC_BASE_URL = live_server_url
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True
    cache.private_key.cache_clear()
    cache.forget_hosted_flows()
    Account.objects.filter(waba_id=waba.meta_waba_id).update(app_id=APP_ID)
    waba.meta_app_id = APP_ID
    waba.save()
    client = GraphClient.for_waba(waba)
    try:
        yield client
    finally:
        client.session.close()
        cache.forget_hosted_flows()


@pytest.fixture
def graph(sandbox_waba, live_server, settings) -> Iterator[GraphClient]:
    with graph_client(sandbox_waba, live_server.url, settings) as client:
        yield client


@pytest.fixture
def relayed(monkeypatch) -> list[dict]:
    """The clear requests the sandbox's weather server receives through our endpoint's relay."""
    from sandbox import customer

    seen: list[dict] = []
    answer = customer.next_screen

    def spy(request: dict) -> dict:
        seen.append(request)
        return answer(request)

    monkeypatch.setattr(customer, "next_screen", spy)
    return seen


def hotel(waba) -> Flow:
    flow = Flow.objects.create(
        waba=waba,
        name="Hotel feedback",
        flow_json=HOTEL,
        status="PUBLISHED",
        meta_flow_id="5550001",
    )
    on_sandbox_meta(flow)
    return flow


def weather(waba, base_url: str) -> Flow:
    flow = Flow.objects.create(
        waba=waba,
        name="Weather or age",
        flow_json=WEATHER,
        status="PUBLISHED",
        meta_flow_id="5550002",
        customer_endpoint_url=base_url + reverse("sandbox:customer_weather"),
    )
    on_sandbox_meta(flow)
    return flow


def approved(graph: GraphClient, waba, name: str, content: TemplateContent) -> Template:
    """Create the template through our client and let the sandbox's reviewer approve it."""
    created = graph.create_template(
        waba.meta_waba_id, name=name, language="en_US", category="MARKETING", content=content
    )
    template = review_template(Template.objects.get(template_id=created["id"]))
    template.refresh_from_db()
    assert template.status == Template.Status.APPROVED
    return template


def stay_feedback(graph: GraphClient, waba, flow: Flow) -> Template:
    """Image header, a body with a variable, a footer and the Flow button on `flow`."""
    handle = graph.upload_media_resumable(content=PNG, file_name="pool.png", mime_type="image/png")
    content = TemplateContent(
        header=TemplateHeader(format="IMAGE", handle=handle),
        body="Hi {{1}}, how was your stay with us? Tell us in two taps.",
        examples={"1": "Ana"},
        footer="Hotel Azul, Lisbon",
        flow_button=FlowButton(text="Give feedback", flow_id=flow.meta_flow_id),
    )
    return approved(graph, waba, "stay_feedback", content)


def send(
    graph: GraphClient,
    template: Template,
    flow: Flow | None,
    *,
    to: str = WA_ID,
    phone_id: str = PHONE_ID,
    **extra: object,
) -> tuple[Message, str]:
    """Send the template through our client with a token we issue; the message and that token."""
    token = issue_flow_token(whatsapp_id=to, flow=flow) if flow is not None else None
    sent = graph.send_template_message(
        phone_id, to=to, template_name=template.name, language="en_US", flow_token=token, **extra
    )
    return Message.objects.get(wamid=sent.wamid), token or ""


def send_stay_feedback(graph, waba, flow, **extra: object) -> tuple[Message, str]:
    template = Template.objects.filter(name="stay_feedback").first() or stay_feedback(
        graph, waba, flow
    )
    extra = {
        "body": ["Ana"],
        "header": HeaderParameter(type="image", link="https://example.org/media/pool-view.jpg"),
    } | extra
    return send(graph, template, flow, **extra)


# --- driving the phone as a person would ------------------------------------------------------------


def get(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def inbox(client, whatsapp_id: str = WA_ID) -> str:
    return get(client, reverse("sandbox:inbox", args=[whatsapp_id]))


def act(client, message: Message, **fields: object) -> str:
    url = reverse("sandbox:phone_message", args=[message.pk])
    response = client.post(url, fields)
    assert response.status_code == 302
    assert response["Location"] == url
    return get(client, url)


def footer(client, message: Message, **answers: object) -> str:
    return act(client, message, op="footer", **{f"f.{k}": v for k, v in answers.items()})


def completions() -> list[dict]:
    """The nfm_reply messages the sandbox sent as webhooks."""
    found = []
    for webhook in SentWebhook.objects.filter(field="messages").order_by("pk"):
        value = json.loads(webhook.body)["entry"][0]["changes"][0]["value"]
        for message in value.get("messages", []):
            found.append({"value": value, "message": message, "delivered": webhook.delivered})
    return found


def play_hotel_to_the_end(client, message: Message) -> str:
    text = act(client, message, op="tap")
    assert "Feedback 1 of 2" in text and "Would you recommend us to a friend?" in text
    text = footer(client, message, recommend="0_Yes", comment="Lovely pool")
    assert "Feedback 2 of 2" in text
    return footer(
        client,
        message,
        Stay_Experience_f2b4e8="0_★★★★★_•_Excellent_(5/5)",
        Food_Experience_bf1842="1_★★★★☆_•_Good_(4/5)",
        Customer_service="0_Excellent",
    )


# --- the inbox ------------------------------------------------------------------------------------


def test_the_inbox_shows_the_message_as_whatsapp_draws_it(graph, sandbox_waba, admin_user):
    flow = hotel(sandbox_waba)
    message, _ = send_stay_feedback(graph, sandbox_waba, flow)
    text = inbox(client_for(admin_user))

    assert "<h1>Inbox of +15551234567</h1>" in text
    assert 'aria-label="Image: pool-view.jpg"' in text  # the header's placeholder, named
    assert "Hi Ana, how was your stay with us? Tell us in two taps." in text
    assert "Hotel Azul, Lisbon" in text
    assert "+1 555 0100" in text  # the business number it came from
    tap = reverse("sandbox:phone_message", args=[message.pk])
    assert f'action="{tap}"' in text
    assert f'id="flow-button-{message.pk}"' in text and "Give feedback</button>" in text
    assert f'data-wamid="{message.wamid}"' in text


def test_the_inbox_lists_every_business_number_newest_first_and_only_that_persons(
    graph, sandbox_waba, admin_user
):
    flow = hotel(sandbox_waba)
    account = Account.objects.get(waba_id=sandbox_waba.meta_waba_id)
    MetaPhoneNumber.objects.create(
        account=account,
        phone_number_id="106540352242999",
        display_phone_number="+1 555 0199",
        verified_name="Hotel Azul Beach",
    )
    first, _ = send_stay_feedback(graph, sandbox_waba, flow, body=["Ana"])
    second, _ = send_stay_feedback(
        graph, sandbox_waba, flow, body=["Bea"], phone_id="106540352242999"
    )
    elsewhere, _ = send_stay_feedback(graph, sandbox_waba, flow, body=["Cy"], to=OTHER_WA_ID)
    failed, _ = send_stay_feedback(graph, sandbox_waba, flow, body=["Di"], to="15550000000")
    assert Message.objects.get(pk=failed.pk).status == Message.Status.FAILED

    client = client_for(admin_user)
    text = inbox(client)
    assert text.index("Hi Bea,") < text.index("Hi Ana,")  # newest first
    assert "Hotel Azul Beach" in text and "+1 555 0199" in text
    assert "Hi Cy," not in text
    assert "Hi Cy," in inbox(client, OTHER_WA_ID)
    # A message WhatsApp could not deliver never reaches the phone.
    assert "Hi Di," not in inbox(client, "15550000000")

    picker = get(client, reverse("sandbox:inbox_pick"))
    assert reverse("sandbox:inbox", args=[WA_ID]) in picker
    assert reverse("sandbox:inbox", args=[OTHER_WA_ID]) in picker
    assert "2 messages" in picker


def test_each_header_kind_is_drawn(graph, sandbox_waba, admin_user):
    flow = hotel(sandbox_waba)
    button = FlowButton(text="Open", flow_id=flow.meta_flow_id)
    pdf = graph.upload_media_resumable(
        content=PDF, file_name="menu.pdf", mime_type="application/pdf"
    )
    headers = {
        "text_header": (TemplateHeader(format="TEXT", text="Your stay at Azul"), None),
        "document_header": (
            TemplateHeader(format="DOCUMENT", handle=pdf),
            HeaderParameter(type="document", media_id="4490001", filename="Azul menu.pdf"),
        ),
        "location_header": (
            TemplateHeader(format="LOCATION"),
            HeaderParameter(
                type="location",
                location={
                    "latitude": 38.7223,
                    "longitude": -9.1393,
                    "name": "Hotel Azul",
                    "address": "Rua Augusta 1, Lisbon",
                },
            ),
        ),
    }
    for name, (header, parameter) in headers.items():
        content = TemplateContent(body=f"About {name}.", header=header, flow_button=button)
        send(graph, approved(graph, sandbox_waba, name, content), flow, header=parameter)

    text = inbox(client_for(admin_user))
    assert '<p class="wa-header-text">Your stay at Azul</p>' in text
    assert 'aria-label="Document: Azul menu.pdf"' in text
    assert "Hotel Azul" in text and "Rua Augusta 1, Lisbon" in text and "38.7223, -9.1393" in text


def test_whatsapp_formatting_is_drawn_and_html_in_the_body_is_not(graph, sandbox_waba, admin_user):
    body = "Your *late checkout* is _confirmed_, ~11:00~ 13:00. <b>Not bold</b>"
    send(graph, approved(graph, sandbox_waba, "checkout", TemplateContent(body=body)), None)
    raw = client_for(admin_user).get(reverse("sandbox:inbox", args=[WA_ID])).content.decode()
    assert (
        "Your <strong>late checkout</strong> is <em>confirmed</em>, <s>11:00</s> 13:00. "
        "&lt;b&gt;Not bold&lt;/b&gt;"
    ) in raw


def test_a_whatsapp_id_is_picked_or_typed(graph, sandbox_waba, admin_user):
    client = client_for(admin_user)
    response = client.get(reverse("sandbox:inbox_pick"), {"whatsapp_id": "+1 (555) 123-4567"})
    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox:inbox", args=[WA_ID])

    text = get(client, reverse("sandbox:inbox_pick") + "?whatsapp_id=call+me")
    assert "A WhatsApp id is the number with its country code: 6 to 20 digits." in text
    assert client.get(reverse("sandbox:inbox", args=["not-a-number"])).status_code == 404
    assert "No template messages for this number yet." in inbox(client)


def test_the_sandbox_page_and_the_phone_link_to_the_inbox(graph, sandbox_waba, admin_user):
    flow = hotel(sandbox_waba)
    message, _ = send_stay_feedback(graph, sandbox_waba, flow)
    client = client_for(admin_user)
    home = get(client, reverse("sandbox:home"))
    assert reverse("sandbox:inbox_pick") in home
    assert reverse("sandbox:inbox", args=[WA_ID]) in home
    assert reverse("sandbox:phone_message", args=[message.pk]) in home
    phone = get(client, reverse("sandbox:phone", args=[flow.pk]))
    assert reverse("sandbox:inbox", args=[WA_ID]) in phone


def test_a_marketer_gets_403_on_the_inbox_and_the_message(graph, sandbox_waba, marketer):
    flow = hotel(sandbox_waba)
    message, _ = send_stay_feedback(graph, sandbox_waba, flow)
    client = client_for(marketer)
    assert client.get(reverse("sandbox:inbox_pick")).status_code == 403
    assert client.get(reverse("sandbox:inbox", args=[WA_ID])).status_code == 403
    url = reverse("sandbox:phone_message", args=[message.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"op": "tap"}).status_code == 403


# --- tapping the Flow button ------------------------------------------------------------------------


def test_tapping_plays_the_hotel_flow_and_the_completion_carries_the_sent_token(
    graph, sandbox_waba, admin_user
):
    flow = hotel(sandbox_waba)
    message, token = send_stay_feedback(graph, sandbox_waba, flow)
    assert message.navigate_screen == "RECOMMEND"  # the template named none: the first screen
    client = client_for(admin_user)
    assert "Tap <strong>Give feedback</strong> under the message to open the flow." in get(
        client, reverse("sandbox:phone_message", args=[message.pk])
    )

    assert f'id="reply-{message.pk}"' not in inbox(client)

    text = play_hotel_to_the_end(client, message)
    assert "Flow finished, answers sent to the business" in text and "HTTP 200" in text
    # Back in the chat, the person's answer shows under the message, as WhatsApp shows it.
    assert f'id="reply-{message.pk}"' in act(client, message, op="reset")
    assert f'id="reply-{message.pk}"' in inbox(client)

    [done] = completions()
    assert done["delivered"]
    reply, value = done["message"], done["value"]
    # The reply to this template message, from the person it was sent to, to the number that sent it.
    assert reply["context"] == {"from": "15550100", "id": message.wamid}
    assert (reply["from"], value["contacts"][0]["wa_id"]) == (WA_ID, WA_ID)
    assert value["metadata"]["phone_number_id"] == PHONE_ID
    answers = json.loads(reply["interactive"]["nfm_reply"]["response_json"])
    assert answers["flow_token"] == token

    profile = Profile.objects.get(whatsapp_id=WA_ID)
    submitted = profile.events.get(name="WAF_HotelFeedback_Submitted")
    assert (submitted.flow, submitted.flow_token) == (flow, token)
    assert submitted.properties["comment"] == "Lovely pool"
    assert profile.events.get(name="Stay Feedback").flow_token == token


def test_data_exchange_opens_with_init_and_every_request_carries_the_sent_token(
    graph, sandbox_waba, admin_user, live_server, relayed
):
    flow = weather(sandbox_waba, live_server.url)
    content = TemplateContent(
        body="Rain or shine? Check before you go out.",
        flow_button=FlowButton(
            text="Check the weather", flow_id=flow.meta_flow_id, flow_action="data_exchange"
        ),
    )
    message, token = send(graph, approved(graph, sandbox_waba, "weather_check", content), flow)
    client = client_for(admin_user)
    text = act(client, message, op="tap")
    assert "What would you like to check?" in text and ">INIT<" in text

    text = footer(client, message, What_would_you_like_24dfd1="0_Check_weather_of_the_city")
    text = footer(client, message, Mumbai_c78cb7="London")
    assert "London: Rain expected this morning." in text
    text = footer(client, message)
    assert "Flow finished, answers sent to the business" in text

    assert [r["action"] for r in relayed] == ["INIT", "data_exchange", "data_exchange"]
    assert {r["flow_token"] for r in relayed} == {token}
    [done] = completions()
    assert done["message"]["context"]["id"] == message.wamid
    submitted = Event.objects.get(name="WAF_WeatherOrAge_Submitted", profile__whatsapp_id=WA_ID)
    assert submitted.flow_token == token
    assert submitted.properties["weather"] == "Rain expected this morning."


def test_navigate_lands_on_the_named_screen_with_the_flow_action_data(
    graph, sandbox_waba, admin_user, live_server, relayed
):
    flow = weather(sandbox_waba, live_server.url)
    content = TemplateContent(
        body="Hi {{1}}, one question before your trip.",
        examples={"1": "Ana"},
        flow_button=FlowButton(text="Start", flow_id=flow.meta_flow_id, navigate_screen="WELCOME"),
    )
    data = {"toDisplay": "Ana, what shall we check for Lisbon?", "name": "Ana"}
    template = approved(graph, sandbox_waba, "trip_check", content)
    message, token = send(graph, template, flow, body=["Ana"], flow_action_data=data)
    client = client_for(admin_user)

    text = act(client, message, op="tap")
    # The first screen's title is ${data.toDisplay}: the message's data, with no endpoint call.
    assert '<h2 class="pv-title">Ana, what shall we check for Lisbon?</h2>' in text
    assert relayed == [] and ">INIT<" not in text

    text = footer(client, message, What_would_you_like_24dfd1="0_Check_weather_of_the_city")
    assert "Weather Today" in text
    assert relayed[0]["data"]["name"] == "Ana"  # the footer's payload read ${data.name}
    assert relayed[0]["flow_token"] == token


def test_the_flow_can_be_closed_and_tapped_again(graph, sandbox_waba, admin_user):
    flow = hotel(sandbox_waba)
    message, _ = send_stay_feedback(graph, sandbox_waba, flow)
    client = client_for(admin_user)
    act(client, message, op="tap")
    footer(client, message, recommend="0_Yes")
    text = act(client, message, op="reset")
    assert "Tap <strong>Give feedback</strong> under the message to open the flow." in text
    text = act(client, message, op="footer", **{"f.recommend": "0_Yes"})
    assert "Tap the message's button first." in text
    assert "Feedback 1 of 2" in act(client, message, op="tap")
    assert completions() == []


# --- refusals: WhatsApp says the flow is no longer available ---------------------------------------


@pytest.fixture
def sent_hotel(graph, sandbox_waba) -> tuple[Message, Flow]:
    flow = hotel(sandbox_waba)
    message, _ = send_stay_feedback(graph, sandbox_waba, flow)
    return message, flow


def refused_tap(client, message: Message, why: str) -> None:
    text = act(client, message, op="tap")
    assert "This flow is no longer available." in text
    assert why in text
    assert "Feedback 1 of 2" not in text
    assert completions() == []


def test_a_deprecated_flow_is_no_longer_available(sent_hotel, admin_user):
    message, flow = sent_hotel
    move_flow(MetaFlow.objects.get(flow_id=flow.meta_flow_id), "DEPRECATED", notify=False)
    refused_tap(client_for(admin_user), message, "is DEPRECATED on the sandbox Meta")


def test_a_blocked_flow_is_no_longer_available(sent_hotel, admin_user):
    message, flow = sent_hotel
    move_flow(MetaFlow.objects.get(flow_id=flow.meta_flow_id), "BLOCKED", notify=False)
    refused_tap(client_for(admin_user), message, "is BLOCKED on the sandbox Meta")


def test_a_flow_the_sandbox_meta_no_longer_holds_is_no_longer_available(sent_hotel, admin_user):
    message, flow = sent_hotel
    MetaFlow.objects.filter(flow_id=flow.meta_flow_id).delete()
    client = client_for(admin_user)
    refused_tap(client, message, f"The sandbox Meta holds no flow {flow.meta_flow_id}")
    # Our own copy of the flow is still there: the phone never plays from our tables.
    assert Flow.objects.filter(pk=flow.pk).exists()


def test_a_flow_deprecated_while_open_stops_at_the_next_step(sent_hotel, admin_user):
    message, flow = sent_hotel
    client = client_for(admin_user)
    act(client, message, op="tap")
    move_flow(MetaFlow.objects.get(flow_id=flow.meta_flow_id), "DEPRECATED", notify=False)
    text = footer(client, message, recommend="0_Yes")
    assert "This flow is no longer available." in text and "Feedback 2 of 2" not in text
    assert completions() == []


def test_a_throttled_flow_still_opens(sent_hotel, admin_user):
    message, flow = sent_hotel
    move_flow(MetaFlow.objects.get(flow_id=flow.meta_flow_id), "THROTTLED", notify=False)
    assert "Feedback 1 of 2" in act(client_for(admin_user), message, op="tap")


def test_a_message_without_a_flow_button_has_nothing_to_tap(graph, sandbox_waba, admin_user):
    template = approved(
        graph, sandbox_waba, "stay_thanks", TemplateContent(body="Thanks for staying with us.")
    )
    message, _ = send(graph, template, None)
    client = client_for(admin_user)
    text = inbox(client)
    assert "Thanks for staying with us." in text and "wa-flow-button" not in text
    page = get(client, reverse("sandbox:phone_message", args=[message.pk]))
    assert "This message has no Flow button." in page
    text = act(client, message, op="tap")
    assert "This message has no Flow button to tap." in text
    assert completions() == []
