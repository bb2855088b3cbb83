"""The hosted endpoint relaying to the customer's own server, served by the production WSGI app, and its
address and routing checks."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from django.db import connections

from audience.models import Event
from exchange.models import EndpointError
from exchange.screens import read_screens
from flowsadmin.models import Flow
from flowsadmin.netguard import is_public_address

from .endpoint_support import BUS, TOKEN, WEATHER, call, exchange_request
from .meta_client import MetaPhone

pytestmark = pytest.mark.usefixtures("fresh_endpoint_caches")

# The customer's endpoint


class Customer:
    """A tiny customer endpoint on loopback: records what it receives, answers as told."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.behaviour = "echo"
        customer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                customer.received.append(json.loads(self.rfile.read(length)))
                status, body, delay = customer.answer(customer.received[-1])
                if delay == "drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/flows"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def answer(self, request: dict) -> tuple[int, bytes, float | str]:
        ok = {"screen": "YOUR_AGE", "data": {"name": "Jay", "age": "42", "toDisplay": "You are 42"}}
        if self.behaviour == "echo":
            return 200, json.dumps(ok).encode(), 0
        if self.behaviour == "slow":
            return 200, json.dumps(ok).encode(), 2.0
        if self.behaviour == "drip":
            return 200, json.dumps(ok).encode(), "drip"
        if self.behaviour == "500":
            return 500, b'{"error": "boom"}', 0
        if self.behaviour == "not json":
            return 200, b"<html>Oops</html>", 0
        if self.behaviour == "unknown screen":
            return 200, json.dumps({"screen": "MARS", "data": {}}).encode(), 0
        if self.behaviour == "off the routing model":  # WELCOME routes to WEATHER or YOUR_AGE
            return 200, json.dumps({"screen": "TODAYS_WEATHER", "data": {}}).encode(), 0
        if self.behaviour == "no screen":
            return 200, json.dumps({"data": {"acknowledged": True}}).encode(), 0
        if self.behaviour == "success":
            params = {"age": "42"}
            return (
                200,
                json.dumps(
                    {
                        "screen": "SUCCESS",
                        "data": {"extension_message_response": {"params": params}},
                    }
                ).encode(),
                0,
            )
        raise AssertionError(self.behaviour)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def customer(settings):
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True  # the stub lives on loopback
    settings.CUSTOMER_ENDPOINT_TIMEOUT = 0.6
    server = Customer()
    yield server
    server.close()


@pytest.fixture
def weather_flow(waba, customer) -> Flow:
    return Flow.objects.create(
        waba=waba,
        name="Weather or age",
        flow_json=WEATHER,
        status="PUBLISHED",
        customer_endpoint_url=customer.url,
    )


WELCOME = {
    "option": "1_Check_my_age",
    "name": "Jay",
    "next_screen": "YOUR_AGE",
    "ct-evt": {"evtName": "Option chosen", "evtData": {"option": "1_Check_my_age"}},
    "ct-up": {"Name": "Jay"},
}


def test_the_customer_gets_the_clean_request_and_picks_the_next_screen(
    phone, weather_flow, customer
):
    status, answer = call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert status == 200
    assert answer == {
        "version": "3.0",
        "screen": "YOUR_AGE",
        "data": {"name": "Jay", "age": "42", "toDisplay": "You are 42"},
    }
    assert customer.received == [
        {
            "version": "3.0",
            "action": "data_exchange",
            "screen": "WELCOME",
            "data": {"option": "1_Check_my_age", "name": "Jay", "next_screen": "YOUR_AGE"},
            "flow_token": TOKEN,
        }
    ]
    # Ingested before the customer was asked.
    assert set(Event.objects.values_list("name", flat=True)) == {
        "Option chosen",
        "WAF_ProfileUpdated",
    }


def test_a_changed_flow_is_served_as_changed(phone, bus_flow, customer):
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"})
    assert call(phone, bus_flow, request)[1]["screen"] == "seat_selection"
    bus_flow.customer_endpoint_url = customer.url
    bus_flow.save()
    call(phone, bus_flow, request)
    assert [r["screen"] for r in customer.received] == ["welcome_screen"]


def test_init_and_back_are_relayed_too(phone, weather_flow, customer):
    call(phone, weather_flow, {"version": "3.0", "action": "INIT", "flow_token": TOKEN})
    call(
        phone,
        weather_flow,
        {"version": "3.0", "action": "BACK", "screen": "WELCOME", "flow_token": TOKEN},
    )
    assert [(r["action"], r.get("screen")) for r in customer.received] == [
        ("INIT", None),
        ("BACK", "WELCOME"),
    ]


def test_the_customer_can_close_the_flow(phone, weather_flow, customer):
    customer.behaviour = "success"
    status, answer = call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert status == 200
    assert answer["screen"] == "SUCCESS"
    assert answer["data"]["extension_message_response"]["params"] == {
        "age": "42",
        "flow_token": TOKEN,
    }


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        ("slow", "customer_timeout"),
        ("drip", "customer_timeout"),
        ("500", "customer_status"),
        ("not json", "customer_invalid"),
        ("unknown screen", "customer_invalid"),
        ("off the routing model", "customer_invalid"),
        ("no screen", "customer_invalid"),
    ],
)
def test_a_failing_customer_gives_a_clean_error_and_a_health_record(
    phone, weather_flow, customer, behaviour, kind
):
    customer.behaviour = behaviour
    started = time.monotonic()
    status, answer = call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert time.monotonic() - started < 1.5  # the 0.6 s budget holds, with room for the crypto
    assert status == 200
    assert answer == {
        "version": "3.0",
        "screen": "WELCOME",
        "data": {
            "error_message": "Something went wrong on our side. Please try again in a moment."
        },
    }
    assert EndpointError.objects.get(flow=weather_flow).kind == kind
    # What the user gave us is kept all the same.
    assert Event.objects.filter(name="Option chosen").exists()


def test_an_unreachable_customer_gives_a_clean_error(phone, weather_flow):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    weather_flow.customer_endpoint_url = f"http://127.0.0.1:{port}/flows"
    weather_flow.save()
    status, answer = call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert (status, answer["screen"]) == (200, "WELCOME")
    assert "error_message" in answer["data"]
    assert EndpointError.objects.get(flow=weather_flow).kind == "customer_unreachable"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "[::1]", "169.254.169.254"])
def test_a_private_customer_address_is_refused_in_production(
    phone, weather_flow, customer, settings, host
):
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = False
    weather_flow.customer_endpoint_url = customer.url.replace("127.0.0.1", host)
    weather_flow.save()
    status, answer = call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert (status, answer["screen"]) == (200, "WELCOME")
    assert "error_message" in answer["data"]
    error = EndpointError.objects.get(flow=weather_flow)
    assert error.kind == "customer_refused"
    assert "private or loopback" in error.message
    assert customer.received == []


def test_private_addresses_follow_debug_when_the_setting_is_absent(
    phone, weather_flow, customer, settings
):
    del settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS
    settings.DEBUG = False
    call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert customer.received == []
    settings.DEBUG = True
    status, answer = call(phone, weather_flow, exchange_request("WELCOME", WELCOME))
    assert answer["screen"] == "YOUR_AGE"


# Over real HTTP


@pytest.mark.django_db(transaction=True)
def test_a_round_trip_over_real_http(live_server, waba):
    flow = Flow.objects.create(waba=waba, name="Bus booking", flow_json=BUS, status="PUBLISHED")
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    sealed = phone.seal(
        exchange_request(
            "welcome_screen",
            {
                "next_screen": "seat_selection",
                "depart_from": "Pune",
                "ct-evt": {"evtName": "Date Selected"},
            },
        )
    )
    response = requests.post(
        f"{live_server.url}/meta/flows/{flow.public_id}/",
        data=sealed.body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sealed.signature},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert sealed.open(response.text) == {
        "version": "3.0",
        "screen": "seat_selection",
        "data": {"depart_from": "Pune"},
    }
    assert Event.objects.get().name == "Date Selected"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def production_app():
    """flowsadmin.wsgi.application, what gunicorn serves, on a real socket; yields its base URL."""
    from flowsadmin.wsgi import application

    def closing(environ: dict, start_response: object) -> object:
        try:
            return application(environ, start_response)
        finally:  # the server's thread must not keep a connection to the test database
            connections.close_all()

    server = make_server("127.0.0.1", 0, closing, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_the_production_wsgi_app_answers_meta_without_django_middleware(production_app, waba):
    flow = Flow.objects.create(waba=waba, name="Bus booking", flow_json=BUS, status="PUBLISHED")
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    url = f"{production_app}/meta/flows/{flow.public_id}/"
    sealed = phone.seal(
        exchange_request(
            "welcome_screen",
            {"next_screen": "seat_selection", "ct-evt": {"evtName": "Date Selected"}},
        )
    )

    def send(body: bytes, signature: str | None = None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return requests.post(url, data=body, headers=headers, timeout=10)

    answer = send(sealed.body, sealed.signature)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert sealed.open(answer.text)["screen"] == "seat_selection"
    assert Event.objects.get().name == "Date Selected"
    # Django's middleware stamps every response it sees (XFrameOptionsMiddleware, SecurityMiddleware);
    # the endpoint's answers carry none of it.
    assert "X-Frame-Options" not in answer.headers
    assert "X-Content-Type-Options" not in answer.headers

    assert send(sealed.body, "sha256=" + "0" * 64).status_code == 432
    assert send(b"not json", phone.sign(b"not json")).status_code == 400
    broken = phone.seal_fields(
        {"encrypted_flow_data": "AA==", "encrypted_aes_key": "AA==", "initial_vector": "AA=="}
    )
    assert send(broken.body, broken.signature).status_code == 421
    refused = requests.get(url, timeout=10)
    assert (refused.status_code, refused.headers["Allow"]) == (405, "POST")
    unknown = requests.post(
        f"{production_app}/meta/flows/{uuid.uuid4()}/", data=sealed.body, timeout=10
    )
    assert unknown.status_code == 404
    # Every other URL is Django's, middleware included.
    health = requests.get(f"{production_app}/healthz", timeout=10)
    assert health.status_code == 200 and health.headers["X-Frame-Options"] == "DENY"
    assert (
        requests.get(f"{production_app}/flows/", timeout=10, allow_redirects=False).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.8", False),
        ("172.16.4.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_count_as_public(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize(
    ("flow_json", "current", "target", "allowed"),
    [
        (BUS, "welcome_screen", "seat_selection", True),
        (
            BUS,
            "welcome_screen",
            "welcome_screen",
            True,
        ),  # the same screen again, e.g. with an error
        (BUS, "welcome_screen", "booking_confirmation", False),
        (BUS, "booking_confirmation", "welcome_screen", False),  # no routes from a terminal screen
        (json.dumps({"screens": [{"id": "A"}, {"id": "B"}]}), "A", "B", True),  # no model
        ("not json", "A", "B", True),
    ],
)
def test_the_routing_model_decides_which_screens_an_answer_may_show(
    flow_json, current, target, allowed
):
    assert read_screens(flow_json).allows(current, target) is allowed
