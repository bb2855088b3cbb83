"""Flow tokens we issue carry their issue time and expire after FLOW_TOKEN_MAX_AGE_DAYS; an expired one
on a flow that accepts only our tokens gets Meta's invalid-token answer (427) with a message the user
can act on. A completion carrying one is still recorded: the person did answer."""

from __future__ import annotations

import time
from unittest import mock

import pytest

from exchange.models import EndpointError
from flowsadmin.tokens import issue_flow_token, read_flow_token

from .conftest import send_to_endpoint
from .endpoint_support import exchange_request

pytestmark = pytest.mark.usefixtures("fresh_endpoint_caches")

ANA = "15551234567"
DAY = 24 * 3600


def issued_days_ago(days: float, **fields) -> str:
    with mock.patch("django.core.signing.time.time", return_value=time.time() - days * DAY):
        return issue_flow_token(whatsapp_id=ANA, **fields)


@pytest.fixture
def ours_only(bus_flow):
    bus_flow.requires_our_token = True
    bus_flow.save()
    return bus_flow


def test_a_token_older_than_the_limit_reads_as_expired(settings):
    settings.FLOW_TOKEN_MAX_AGE_DAYS = 30
    assert read_flow_token(issued_days_ago(29))["expired"] is False
    old = read_flow_token(issued_days_ago(31, campaign_id=4))
    assert old["expired"] is True and old["campaign_id"] == 4


def test_an_expired_token_gets_the_invalid_token_answer(phone, ours_only, settings):
    settings.FLOW_TOKEN_MAX_AGE_DAYS = 30
    token = issued_days_ago(31, flow=ours_only)
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"}, token)
    status, answer = send_to_endpoint(phone, ours_only, request)
    assert status == 427
    assert answer == {
        "error_msg": "This form has expired. Please ask us in the chat to send you a new one."
    }
    assert "older than 30 days" in EndpointError.objects.get(flow=ours_only).message


def test_the_age_is_a_setting(phone, ours_only, settings):
    settings.FLOW_TOKEN_MAX_AGE_DAYS = 60
    token = issued_days_ago(31, flow=ours_only)
    request = exchange_request("welcome_screen", {"next_screen": "seat_selection"}, token)
    assert send_to_endpoint(phone, ours_only, request)[0] == 200
