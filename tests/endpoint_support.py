"""What the endpoint tests share: the example flows, the request shape and posting raw bodies.

Their fixtures (`bus_flow`, `phone`, `fresh_endpoint_caches`) are in conftest.py."""

from __future__ import annotations

from pathlib import Path

from django.test import Client

from flowsadmin.models import Flow

from .conftest import send_to_endpoint

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"
BUS = (EXAMPLES / "bus-booking.clevertap-endpoint.flow.json").read_text()
WEATHER = (EXAMPLES / "weather-or-age.customer-endpoint.flow.json").read_text()
TOKEN = "tok-7f3a"


def url_of(flow: Flow) -> str:
    return f"/meta/flows/{flow.public_id}/"


def post(flow: Flow, body: bytes, signature: str | None, client: Client | None = None):
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    return (client or Client()).post(url_of(flow), body, content_type="application/json", **headers)


call = send_to_endpoint


def exchange_request(screen: str, data: dict, token: str = TOKEN) -> dict:
    return {
        "version": "3.0",
        "action": "data_exchange",
        "screen": screen,
        "data": data,
        "flow_token": token,
    }
