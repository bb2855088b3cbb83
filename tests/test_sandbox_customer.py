"""The sandbox's stand-in for a customer's weather server, alone and behind our endpoint's relay: the
weather-or-age example played on the sandbox phone, London giving "Rain expected this morning."."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from audience.models import Profile
from exchange import cache
from flowsadmin.models import Flow
from sandbox import customer

from .conftest import client_for
from .test_sandbox_phone import act, footer, on_sandbox_meta, page

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"
WEATHER = (EXAMPLES / "weather-or-age.customer-endpoint.flow.json").read_text()
DECLARED = {screen["id"]: set(screen["data"]) for screen in json.loads(WEATHER)["screens"]}
URL = "/sandbox/customer/weather/"
WA_ID = "447700900123"


def ask(body: object) -> tuple[int, dict]:
    text = body if isinstance(body, str) else json.dumps(body)
    response = Client().post(URL, text, content_type="application/json")
    return response.status_code, response.json()


def answered(action: str, screen: str = "", **data: object) -> dict:
    status, answer = ask({"version": "3.0", "action": action, "screen": screen, "data": data})
    assert status == 200, answer
    # Every answer fills exactly the fields its screen declares, all of them strings.
    assert set(answer["data"]) == DECLARED[answer["screen"]]
    assert all(isinstance(value, str) for value in answer["data"].values())
    return answer


# --- the stub on its own -------------------------------------------------------------------------


def test_init_opens_welcome_asking_what_to_check():
    answer = answered("INIT")
    assert answer["screen"] == "WELCOME"
    assert answer["data"]["toDisplay"] == "What would you like to check?"
    assert answer["data"]["name"] == "friend"


def test_choosing_the_weather_goes_to_the_weather_screen():
    answer = answered("data_exchange", "WELCOME", option="0_Check_weather_of_the_city", name="Jay")
    assert (answer["screen"], answer["data"]["name"]) == ("WEATHER", "Jay")


def test_choosing_the_age_gives_the_same_prediction_every_time():
    first = answered("data_exchange", "WELCOME", option="1_Check_my_age", name="Jay")
    again = answered("data_exchange", "WELCOME", option="1_Check_my_age", name="Jay")
    assert first == again
    age = first["data"]["age"]
    assert first["screen"] == "YOUR_AGE" and 18 <= int(age) < 78
    assert first["data"]["toDisplay"] == f"We predict you are {age}, Jay."


def test_london_gets_rain_this_morning():
    answer = answered("data_exchange", "WEATHER", city="London", name="Jay")
    assert answer["screen"] == "TODAYS_WEATHER"
    assert answer["data"]["weather"] == "Rain expected this morning."
    assert answer["data"]["toDisplay"] == "London: Rain expected this morning."
    assert answered("data_exchange", "WEATHER", city=" london ")["data"]["city"] == "london"


def test_other_cities_get_a_stable_forecast_from_the_list():
    pune = answered("data_exchange", "WEATHER", city="Pune")["data"]["weather"]
    assert pune in customer.FORECASTS
    assert answered("data_exchange", "WEATHER", city="PUNE")["data"]["weather"] == pune


def test_back_answers_the_screen_named():
    assert answered("BACK", "WEATHER", name="Jay")["screen"] == "WEATHER"
    assert answered("BACK", "WELCOME")["screen"] == "WELCOME"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("city=London", "The body is not JSON."),
        ("[1, 2]", "The body is not a JSON object."),
        ({"screen": "WELCOME", "data": {}}, "Unknown action None."),
        ({"action": "ping"}, "Unknown action 'ping'."),
        (
            {"action": "data_exchange", "screen": "NOWHERE", "data": {}},
            "No data_exchange from screen 'NOWHERE' in the weather flow.",
        ),
        (
            {"action": "BACK", "screen": ["WELCOME"], "data": {}},
            "No BACK from screen ['WELCOME'] in the weather flow.",
        ),
        ({"action": "INIT", "data": "Jay"}, "data must be an object."),
        (
            {"action": "data_exchange", "screen": "WELCOME", "data": {"option": "2_Sing"}},
            "Unknown option '2_Sing'.",
        ),
        (
            {"action": "data_exchange", "screen": "WEATHER", "data": {"city": " "}},
            "data.city must name a city.",
        ),
        (
            {"action": "data_exchange", "screen": "WEATHER", "data": {"city": 7}},
            "data.city must name a city.",
        ),
    ],
)
def test_a_request_the_weather_flow_never_sends_gets_400(body, error):
    assert ask(body) == (400, {"error": error})


def test_only_post_is_answered():
    assert Client().get(URL).status_code == 405


# --- played on the sandbox phone, through our endpoint's relay -----------------------------------


@pytest.fixture
def relayed(monkeypatch) -> list[dict]:
    """The requests the stub receives; its answers are unchanged (the live server runs in this process)."""
    seen = []
    answer = customer.next_screen

    def spy(request: dict) -> dict:
        seen.append(request)
        return answer(request)

    monkeypatch.setattr(customer, "next_screen", spy)
    return seen


def weather_flow(waba, base_url: str, flow_json: str = WEATHER) -> Flow:
    cache.forget_hosted_flows()
    flow = Flow.objects.create(
        waba=waba,
        name="Weather or age",
        flow_json=flow_json,
        status="PUBLISHED",
        meta_flow_id="5550002",
        customer_endpoint_url=base_url + reverse("sandbox:customer_weather"),
    )
    on_sandbox_meta(flow)
    return flow


@pytest.fixture
def relay_to_loopback(live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True
    cache.private_key.cache_clear()
    yield
    cache.forget_hosted_flows()


def with_ingestion_on_the_weather_screen() -> str:
    """The example with CleverTap's keys in the city payload: ingested by us, never relayed."""
    flow_json = json.loads(WEATHER)
    weather_screen = next(s for s in flow_json["screens"] if s["id"] == "WEATHER")
    payload = weather_screen["layout"]["children"][0]["children"][-1]["on-click-action"]["payload"]
    payload["ct-evt"] = {"evtName": "City Entered", "evtData": {"city": "${form.Mumbai_c78cb7}"}}
    payload["ct-up"] = {"last_city": "${form.Mumbai_c78cb7}"}
    return json.dumps(flow_json)


def test_london_plays_to_rain_this_morning_and_the_submitted_event(
    sandbox_waba, admin_user, live_server, relay_to_loopback, relayed
):
    flow = weather_flow(sandbox_waba, live_server.url, with_ingestion_on_the_weather_screen())
    client = client_for(admin_user)
    assert "Opens with <code>INIT</code>" in page(client, flow)

    # No init box ticked: the first screen's title comes from the endpoint, so INIT is sent anyway.
    text = act(client, flow, op="start", whatsapp_id=WA_ID)
    assert "What would you like to check?" in text and "Check weather of the city" in text
    assert ">INIT<" in text

    text = footer(client, flow, What_would_you_like_24dfd1="0_Check_weather_of_the_city")
    assert "Weather Today" in text and "Please enter city name" in text

    text = footer(client, flow, Mumbai_c78cb7="London")
    assert "Todays Weather" in text and "London: Rain expected this morning." in text

    text = footer(client, flow)
    assert "Flow finished, answers sent to the business" in text

    profile = Profile.objects.get(whatsapp_id=WA_ID)
    submitted = profile.events.get(name="WAF_WeatherOrAge_Submitted")
    assert submitted.properties["city"] == "London"
    assert submitted.properties["weather"] == "Rain expected this morning."
    assert profile.events.get(name="City Entered").properties == {"city": "London"}

    # The customer saw the clean request: what the user chose and typed, none of CleverTap's keys.
    assert [(r["action"], r.get("screen")) for r in relayed] == [
        ("INIT", None),
        ("data_exchange", "WELCOME"),
        ("data_exchange", "WEATHER"),
    ]
    assert relayed[2]["data"] == {"city": "London", "name": "friend"}
    assert set(relayed[2]) == {"version", "action", "screen", "data", "flow_token"}
    for request in relayed:
        assert not {"ct-evt", "ct-up"} & set(request["data"])


def test_the_age_branch_plays_to_its_prediction_and_completes(
    sandbox_waba, admin_user, live_server, relay_to_loopback
):
    flow = weather_flow(sandbox_waba, live_server.url)
    client = client_for(admin_user)
    act(client, flow, op="start", whatsapp_id=WA_ID)

    text = footer(client, flow, What_would_you_like_24dfd1="1_Check_my_age")
    age = str(customer.predicted_age("friend"))
    assert "Your Age Prediction Is" in text and f"We predict you are {age}, friend." in text

    text = footer(client, flow)
    assert "Flow finished, answers sent to the business" in text
    submitted = Profile.objects.get(whatsapp_id=WA_ID).events.get(name="WAF_WeatherOrAge_Submitted")
    assert (submitted.properties["age"], submitted.properties["name"]) == (age, "friend")
