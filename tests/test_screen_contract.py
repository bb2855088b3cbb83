"""The screen data contract (issue 13): what a static navigation or the customer's endpoint hands to the
next screen must match what that screen declares. At run time a mismatch is an endpoint problem naming
the field (and, from the customer, a clean error for the user); "Test the customer endpoint" on the
flow's page checks every data_exchange screen before anyone meets the problem."""

from __future__ import annotations

import html
import json

import pytest
from django.urls import reverse

from exchange.models import EndpointError
from flowsadmin.models import Flow

from .conftest import client_for
from .endpoint_support import WEATHER, call, exchange_request
from .flowjson_support import endpoint_flow
from .test_endpoint_relay import Customer

pytestmark = pytest.mark.usefixtures("fresh_endpoint_caches")

GOOD = {"WELCOME": ("WEATHER", {"name": "Jay", "city": "", "next_screen": "TODAYS_WEATHER", "toDisplay": "Which city?"}),
        "WEATHER": ("TODAYS_WEATHER", {"name": "Jay", "city": "London", "weather": "Rain", "toDisplay": "London: Rain"})}  # fmt: skip


class ScreenCustomer(Customer):
    """A customer endpoint answering each screen's data_exchange as `answers[screen]` says."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = {
            screen: {"screen": nxt, "data": dict(data)} for screen, (nxt, data) in GOOD.items()
        }
        self.slow: set[str] = set()

    def answer(self, request: dict) -> tuple[int, bytes, float | str]:
        screen = request.get("screen")
        delay = 2.0 if screen in self.slow else 0
        return 200, json.dumps(self.answers[screen]).encode(), delay


@pytest.fixture
def customer(settings):
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True  # the stub lives on loopback
    settings.CUSTOMER_ENDPOINT_TIMEOUT = 0.6
    server = ScreenCustomer()
    yield server
    server.close()


@pytest.fixture
def weather_flow(waba, customer) -> Flow:
    return Flow.objects.create(
        waba=waba, name="Weather or age", flow_json=WEATHER, status="PUBLISHED",
        customer_endpoint_url=customer.url,
    )  # fmt: skip


WEATHER_REQUEST = {"city": "London", "name": "Jay"}


# --- real traffic: the customer's answer --------------------------------------------------------


def test_a_matching_answer_goes_through(phone, weather_flow, customer):
    status, answer = call(phone, weather_flow, exchange_request("WEATHER", WEATHER_REQUEST))
    assert (status, answer["screen"]) == (200, "TODAYS_WEATHER")
    assert not EndpointError.objects.exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda data: data.pop("weather"), 'missing "weather" (declared string)'),
        (lambda data: data.update(weather=12), '"weather" is a number, declared string'),
        (lambda data: data.update(city=None), '"city" is null, declared string'),
    ],
)
def test_a_customer_answer_missing_or_mistyping_a_field_is_a_clean_error_naming_it(
    phone, weather_flow, customer, change, named
):
    change(customer.answers["WEATHER"]["data"])
    status, answer = call(phone, weather_flow, exchange_request("WEATHER", WEATHER_REQUEST))
    # The user sees our clean error on the screen they are on, not WhatsApp's generic failure.
    assert status == 200 and answer["screen"] == "WEATHER"
    assert "try again" in answer["data"]["error_message"].lower()
    problem = EndpointError.objects.get()
    assert problem.kind == EndpointError.Kind.DATA_CONTRACT
    assert named in problem.message and "TODAYS_WEATHER" in problem.message
    assert problem.detail["url"] == customer.url


def test_extra_fields_in_the_answer_are_not_a_problem(phone, weather_flow, customer):
    customer.answers["WEATHER"]["data"]["humidity"] = "80%"
    status, answer = call(phone, weather_flow, exchange_request("WEATHER", WEATHER_REQUEST))
    assert answer["screen"] == "TODAYS_WEATHER" and not EndpointError.objects.exists()


# --- real traffic: a static navigation ----------------------------------------------------------


def test_a_static_navigation_missing_a_declared_field_is_recorded_naming_it(phone, waba):
    flow_json = endpoint_flow()  # CONTACT --data_exchange--> DONE, which declares "ref"
    flow = Flow.objects.create(
        waba=waba, name="Contact", flow_json=json.dumps(flow_json), status="PUBLISHED"
    )
    request = exchange_request("CONTACT", {"email": "jay@example.com", "next_screen": "DONE"})
    status, answer = call(phone, flow, request)
    assert (status, answer["screen"]) == (200, "DONE")  # shown: the Flow JSON's own payload
    problem = EndpointError.objects.get()
    assert problem.kind == EndpointError.Kind.DATA_CONTRACT
    assert 'missing "ref" (declared string)' in problem.message
    # The nearest valid navigation records nothing.
    EndpointError.objects.all().delete()
    call(phone, flow, exchange_request("CONTACT", {"ref": "B-1", "next_screen": "DONE"}))
    assert not EndpointError.objects.exists()


# --- "Test the customer endpoint" -----------------------------------------------------------------


def run_test(user, flow: Flow) -> str:
    response = client_for(user).post(
        reverse("flows:contract_test", args=[flow.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def row(page: str, screen: str) -> str:
    start = page.index(f'id="contract-{screen}"')
    return page[start : page.index("</tr>", start)]


def test_against_the_sandbox_weather_stub_every_screen_passes(
    waba, marketer, live_server, settings
):
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True
    flow = Flow.objects.create(
        waba=waba, name="Weather or age", flow_json=WEATHER, status="DRAFT",
        customer_endpoint_url=f"{live_server.url}{reverse('sandbox:customer_weather')}",
    )  # fmt: skip
    page = run_test(marketer, flow)
    welcome, weather = row(page, "WELCOME"), row(page, "WEATHER")
    assert "WEATHER" in welcome and "Allowed" in welcome and "Matches" in welcome
    assert "TODAYS_WEATHER" in weather and "Allowed" in weather and "Matches" in weather
    assert " ms" in welcome
    assert not EndpointError.objects.exists()  # a test is not the flow's health


@pytest.mark.parametrize(
    ("breakage", "screen", "named"),
    [
        ("missing", "WEATHER", 'missing "weather" (declared string)'),
        ("wrong type", "WEATHER", '"city" is a boolean, declared string'),
        ("outside routing", "WELCOME", "The routing model has no route WELCOME → TODAYS_WEATHER"),
        ("slow", "WEATHER", "did not answer in time"),
    ],
)
def test_a_stub_that_answers_badly_has_each_problem_named(
    weather_flow, customer, marketer, breakage, screen, named
):
    if breakage == "missing":
        customer.answers["WEATHER"]["data"].pop("weather")
    elif breakage == "wrong type":
        customer.answers["WEATHER"]["data"]["city"] = True
    elif breakage == "outside routing":
        customer.answers["WELCOME"] = {"screen": "TODAYS_WEATHER", "data": GOOD["WEATHER"][1]}
    else:
        customer.slow.add("WEATHER")
    page = run_test(marketer, weather_flow)
    broken = row(page, screen)
    assert named in broken and "Matches" not in broken
    other = row(page, "WELCOME" if screen == "WEATHER" else "WEATHER")
    assert "Matches" in other  # the other screen is unaffected


def test_extra_fields_are_noted_not_failed(weather_flow, customer, marketer):
    customer.answers["WEATHER"]["data"]["humidity"] = "80%"
    weather = row(run_test(marketer, weather_flow), "WEATHER")
    assert "Matches" in weather and 'does not declare "humidity"' in weather


def test_the_request_is_built_from_the_examples(weather_flow, customer, marketer):
    run_test(marketer, weather_flow)
    welcome, weather = customer.received
    assert welcome["action"] == "data_exchange" and welcome["screen"] == "WELCOME"
    # ${form.<dropdown>} is its first option, ${data.name} the screen's __example__.
    assert welcome["data"] == {
        "option": "0_Check_weather_of_the_city",
        "name": "Jay",
        "next_screen": "WEATHER",
    }
    assert weather["data"]["name"] == "Jay" and weather["data"]["city"]


def test_the_action_is_offered_only_with_a_customer_endpoint_and_to_editors(
    weather_flow, marketer, campaign_manager
):
    page = (
        client_for(marketer).get(reverse("flows:detail", args=[weather_flow.pk])).content.decode()
    )
    assert "Test the customer endpoint" in page
    page = (
        client_for(campaign_manager)
        .get(reverse("flows:detail", args=[weather_flow.pk]))
        .content.decode()
    )
    assert "Test the customer endpoint" not in page
    assert (
        client_for(campaign_manager)
        .post(reverse("flows:contract_test", args=[weather_flow.pk]))
        .status_code
        == 403
    )
    Flow.objects.filter(pk=weather_flow.pk).update(customer_endpoint_url="")
    page = (
        client_for(marketer).get(reverse("flows:detail", args=[weather_flow.pk])).content.decode()
    )
    assert "Test the customer endpoint" not in page
