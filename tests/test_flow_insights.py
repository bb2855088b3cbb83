"""A flow's page: its responses (table, CSV), the completion funnel, and our endpoint's health."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from audience.models import Event, Profile
from exchange import metrics
from exchange.models import EndpointError
from exchange.tasks import forget_old_endpoint_errors_task
from flowsadmin.models import Flow

from .conftest import client_for, make_user, send_to_endpoint
from .meta_client import MetaPhone

EXAMPLES = Path(__file__).resolve().parent.parent / "flowsadmin" / "examples"
HOTEL = (EXAMPLES / "hotel-feedback.static.flow.json").read_text(encoding="utf-8")
SUBMITTED = "WAF_HotelFeedback_Submitted"


@pytest.fixture
def hotel(waba, marketer) -> Flow:
    return Flow.objects.create(
        waba=waba, name="Hotel feedback", meta_flow_id="4242", flow_json=HOTEL, created_by=marketer
    )


def submit(flow, whatsapp_id: str, answers: dict, *, minutes_ago: int = 0, name: str = "") -> Event:
    profile, _ = Profile.objects.get_or_create(whatsapp_id=whatsapp_id, defaults={"name": name})
    return Event.objects.create(
        name=SUBMITTED,
        properties=answers | {"flow_id": flow.meta_flow_id},
        source=Event.Source.COMPLETION,
        flow=flow,
        profile=profile,
        flow_token=f"token-{whatsapp_id}",
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def redis_keys():
    """Redis for the health numbers: the test env's DB, cleaned of the keys the test wrote."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    for key in [*client.scan_iter("flowhealth:*"), *client.scan_iter("flowfunnel:*")]:
        client.delete(key)


# --- responses -------------------------------------------------------------------------------


def test_the_flow_page_lists_responses_newest_first_with_a_column_per_answer(
    hotel, campaign_manager
):
    submit(hotel, "15550001", {"recommend": "Yes"}, minutes_ago=10, name="Ana")
    newest = submit(hotel, "15550002", {"recommend": "No", "comment": "Cold ☕"}, name="Ben")
    # Not responses: another event of the flow, and another flow's submission.
    Event.objects.create(
        name="RatedRoom", properties={"x": "1"}, source=Event.Source.COMPLETION, flow=hotel
    )
    other = Flow.objects.create(waba=hotel.waba, name="Other", flow_json=HOTEL)
    submit(other, "15550003", {"secret": "elsewhere"})

    response = client_for(campaign_manager).get(reverse("flows:detail", args=[hotel.pk]))

    assert response.status_code == 200
    # Postgres jsonb keeps an object's keys shortest first, so "first seen" is in that order.
    assert response.context["response_columns"] == ["comment", "recommend"]
    rows = response.context["response_rows"]
    assert [event.pk for event, _ in rows][0] == newest.pk
    assert [values for _, values in rows] == [["Cold ☕", "No"], ["", "Yes"]]
    html = response.content.decode()
    assert "Cold ☕" in html and "elsewhere" not in html and "flow_id" not in html
    assert reverse("people:detail", args=[newest.profile.pk]) in html
    assert reverse("flows:responses_csv", args=[hotel.pk]) in html


def test_responses_are_paginated_by_25(hotel, campaign_manager):
    for n in range(30):
        submit(hotel, f"1555{n:04d}", {"n": str(n)}, minutes_ago=n)
    client = client_for(campaign_manager)
    first = client.get(reverse("flows:detail", args=[hotel.pk]))
    second = client.get(reverse("flows:detail", args=[hotel.pk]), {"page": 2})
    assert [v for _, v in first.context["response_rows"]][0] == ["0"]
    assert len(first.context["response_rows"]) == 25
    assert [v for _, v in second.context["response_rows"]] == [[str(n)] for n in range(25, 30)]


def test_the_csv_export_has_every_response_and_the_union_of_keys_in_first_seen_order(
    hotel, campaign_manager
):
    submit(hotel, "15550001", {"recommend": "Yes", "stay": ["pool", "spa"]}, minutes_ago=5)
    submit(hotel, "15550002", {"comment": 'Said "fine", then left', "recommend": "No"}, name="Ben")

    response = client_for(campaign_manager).get(reverse("flows:responses_csv", args=[hotel.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == [
        "submitted_at",
        "whatsapp_id",
        "profile_name",
        "comment",
        "recommend",
        "stay",
    ]
    assert [row[1:] for row in rows[1:]] == [
        ["15550002", "Ben", 'Said "fine", then left', "No", ""],
        ["15550001", "", "", "Yes", '["pool", "spa"]'],
    ]


def test_the_csv_export_neutralises_formulas_and_starts_with_a_bom_for_non_latin_answers(
    hotel, campaign_manager
):
    answers = {
        "link": '=HYPERLINK("http://x","y")',
        "plus": "+1+cmd",
        "minus": "-2+cmd",
        "at": "@SUM(A1)",
        "score": "-5",
        "comment": "Отлично, 谢谢 ☕ مرحبا",
    }
    submit(hotel, "15550001", answers, name="Zoë")

    response = client_for(campaign_manager).get(reverse("flows:responses_csv", args=[hotel.pk]))

    raw = b"".join(response.streaming_content)
    # The UTF-8 byte order mark, so spreadsheets read the file as UTF-8.
    assert raw.startswith(b"\xef\xbb\xbf")
    header, row = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    cells = dict(zip(header, row, strict=True))
    # A leading quote makes a spreadsheet show the text instead of running it.
    assert cells["link"] == '\'=HYPERLINK("http://x","y")'
    assert cells["plus"] == "'+1+cmd"
    assert cells["minus"] == "'-2+cmd"
    assert cells["at"] == "'@SUM(A1)"
    assert cells["score"] == "-5"
    assert cells["comment"] == "Отлично, 谢谢 ☕ مرحبا"
    assert cells["profile_name"] == "Zoë"


# --- funnel ----------------------------------------------------------------------------------


def test_the_funnel_counts_distinct_tokens_per_screen_in_the_json_order(
    hotel, campaign_manager, redis_keys
):
    for token in ("a", "b", "c", "d"):
        metrics.record_screen_visit(hotel.pk, token, "RECOMMEND")
    metrics.record_screen_visit(hotel.pk, "a", "RECOMMEND")  # BACK, or the same screen again: one
    metrics.record_screen_visit(hotel.pk, "a", "RATE")
    metrics.record_screen_visit(hotel.pk, "b", "RATE")
    metrics.record_screen_visit(hotel.pk + 1, "z", "RATE")  # another flow's
    metrics.record_screen_visit(hotel.pk, "z", "")  # no screen: nothing
    submit(hotel, "15550001", {"recommend": "Yes"})

    response = client_for(campaign_manager).get(reverse("flows:detail", args=[hotel.pk]))

    funnel = [(row["label"], row["count"], row["percent"]) for row in response.context["funnel"]]
    assert funnel == [("RECOMMEND", 4, 100), ("RATE", 2, 50), ("Completed", 1, 25)]
    assert 'max="100" value="50">50%</meter>' in response.content.decode()


def test_a_flow_without_visits_shows_an_empty_funnel(hotel, campaign_manager, redis_keys):
    response = client_for(campaign_manager).get(reverse("flows:detail", args=[hotel.pk]))
    assert [row["percent"] for row in response.context["funnel"]] == [0, 0, 0]


# --- endpoint health -------------------------------------------------------------------------


def test_health_counts_requests_errors_and_latency_percentiles(hotel, redis_keys):
    # 100 requests: 50 at 3 ms, 40 at 15 ms, 9 at 150 ms (errors), 1 at 12 s.
    for _ in range(50):
        metrics.record_endpoint_request(hotel.pk, ok=True, seconds=0.003)
    for _ in range(40):
        metrics.record_endpoint_request(hotel.pk, ok=True, seconds=0.015)
    for _ in range(9):
        metrics.record_endpoint_request(hotel.pk, ok=False, seconds=0.150)
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=12)
    # An hour and a half ago: only in the day's numbers.
    old = int(time.time() // 60) - 90
    redis_keys.hset(f"flowhealth:{hotel.pk}:{old}", mapping={"error": 10, "le:5000": 10})

    numbers = metrics.endpoint_health(hotel.pk)

    assert numbers["available"]
    hour, day = numbers["hour"], numbers["day"]
    assert (hour.requests, hour.errors, hour.error_percent) == (100, 9, "9.0%")
    assert (hour.p50_ms, hour.p90_ms, hour.p99_ms) == (5, 20, 200)
    assert (day.requests, day.errors) == (110, 19)
    assert (day.p50_ms, day.p90_ms, day.p99_ms) == (20, 200, 5000)
    assert metrics.endpoint_health(hotel.pk + 1)["hour"].requests == 0
    written = set(redis_keys.scan_iter(f"flowhealth:{hotel.pk}:*")) - {
        f"flowhealth:{hotel.pk}:{old}".encode()
    }
    assert written and all(25 * 3600 < redis_keys.ttl(key) <= 26 * 3600 for key in written)


def test_health_percentile_past_the_last_bucket_and_the_page(hotel, campaign_manager, redis_keys):
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=30)
    hotel.health_status = {"can_send_message": "AVAILABLE"}
    hotel.health_alerts = {"ENDPOINT_ERROR_RATE": {"alert_state": "ACTIVATED"}}
    hotel.save()

    response = client_for(campaign_manager).get(reverse("flows:detail", args=[hotel.pk]))

    html = response.content.decode()
    assert "&gt; 10,000 ms" in html and "AVAILABLE" in html and "ACTIVATED" in html
    assert response.context["health"]["hour"].requests == 1


def test_a_redis_outage_neither_raises_nor_breaks_the_page(hotel, campaign_manager, monkeypatch):
    dead = redis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_timeout=0.05, socket_connect_timeout=0.05
    )
    monkeypatch.setattr(metrics, "_client", dead)
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=0.01)  # no exception
    metrics.record_screen_visit(hotel.pk, "a", "RATE")
    assert metrics.endpoint_health(hotel.pk)["available"] is False
    response = client_for(campaign_manager).get(reverse("flows:detail", args=[hotel.pk]))
    html = response.content.decode()
    assert response.status_code == 200 and response.context["funnel"] is None
    assert "Our endpoint's numbers are unavailable" in html
    assert "The screens reached are unavailable" in html


def test_numbers_are_buffered_per_process_and_sent_in_one_go(hotel, redis_keys, settings):
    """The endpoint does not call Redis per request: what it records waits for the next flush."""
    settings.FLOW_STATS_FLUSH_SECONDS = 60
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=0.003)
    metrics.record_screen_visit(hotel.pk, "a", "RATE")
    assert metrics.endpoint_health(hotel.pk)["hour"].requests == 0
    assert metrics.screens_reached(hotel.pk, ["RATE"]) == {"RATE": 0}

    metrics.flush()

    assert metrics.endpoint_health(hotel.pk)["hour"].requests == 1
    assert metrics.screens_reached(hotel.pk, ["RATE"]) == {"RATE": 1}


def test_buffered_numbers_arrive_without_another_request(hotel, redis_keys, settings):
    settings.FLOW_STATS_FLUSH_SECONDS = 0.2
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=0.003)
    assert metrics.endpoint_health(hotel.pk)["hour"].requests == 0
    deadline = time.monotonic() + 5
    while metrics.endpoint_health(hotel.pk)["hour"].requests == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metrics.endpoint_health(hotel.pk)["hour"].requests == 1


# --- permissions -----------------------------------------------------------------------------


def test_no_role_gets_403_on_the_page_and_the_csv(hotel, no_role_user):
    client = client_for(no_role_user)
    assert client.get(reverse("flows:detail", args=[hotel.pk])).status_code == 403
    assert client.get(reverse("flows:responses_csv", args=[hotel.pk])).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(hotel):
    response = client_for(None).get(reverse("flows:responses_csv", args=[hotel.pk]))
    assert response.status_code == 302


def test_viewing_flows_without_people_hides_answers_and_refuses_the_csv(hotel, django_user_model):
    group = Group.objects.create(name="Flow viewers")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="flowsadmin", codename="view_flow")
    )
    viewer = make_user(django_user_model, "erin", None)
    viewer.groups.add(group)
    submit(hotel, "15550001", {"recommend": "Yes"})
    client = client_for(viewer)

    page = client.get(reverse("flows:detail", args=[hotel.pk]))
    assert page.status_code == 200
    assert "15550001" not in page.content.decode()
    assert "response_rows" not in page.context
    assert client.get(reverse("flows:responses_csv", args=[hotel.pk])).status_code == 403


def test_the_endpoint_feeds_the_funnel_and_the_health_numbers(client, waba, redis_keys):
    """Requests through the hosted endpoint, built as Meta builds them, reach the funnel and health."""
    flow = Flow.objects.create(waba=waba, name="Hotel feedback", flow_json=HOTEL)
    first, second = [s["id"] for s in json.loads(HOTEL)["screens"]][:2]
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)

    def exchange(token: str, next_screen: str) -> dict:
        request = {
            "version": "3.0",
            "action": "data_exchange",
            "screen": first,
            "flow_token": token,
            "data": {"next_screen": next_screen},
        }
        status, answer = send_to_endpoint(phone, flow, request, client)
        assert status == 200
        return answer

    assert exchange("tok-1", second)["screen"] == second
    assert "error_message" in exchange("tok-2", "NOWHERE")["data"]
    # tok-1 was on the first screen and reached the second; tok-2 stayed on the first.
    assert metrics.screens_reached(flow.pk, [first, second]) == {first: 2, second: 1}
    hour = metrics.endpoint_health(flow.pk)["hour"]
    assert (hour.requests, hour.errors) == (2, 1)


def test_the_flow_page_lists_the_endpoints_recent_problems(client, waba, campaign_manager):
    """What WhatsApp reported and what we refused, newest first, with the client's text escaped."""
    flow = Flow.objects.create(waba=waba, name="Hotel feedback", flow_json=HOTEL)
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    first = json.loads(HOTEL)["screens"][0]["id"]
    for data in (
        {"next_screen": "NOWHERE"},
        {"error": "INVALID_SCREEN", "error_message": "<b>x</b>"},
    ):
        request = {"version": "3.0", "action": "data_exchange", "screen": first, "data": data}
        send_to_endpoint(phone, flow, request | {"flow_token": "tok-1"}, client)

    page = client_for(campaign_manager).get(reverse("flows:detail", args=[flow.pk]))

    html = page.content.decode()
    assert [p.get_kind_display() for p in page.context["endpoint_errors"]] == [
        "Error reported by WhatsApp",
        "Missing or unknown next screen",
    ]
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "next_screen &#x27;NOWHERE&#x27; is not a screen of the flow." in html


def test_a_flow_without_endpoint_problems_says_so(hotel, campaign_manager):
    page = client_for(campaign_manager).get(reverse("flows:detail", args=[hotel.pk]))
    assert "None recorded." in page.content.decode()


def test_endpoint_problems_older_than_the_retention_are_forgotten(hotel, settings):
    settings.ENDPOINT_ERROR_RETENTION_DAYS = 30
    old = EndpointError.objects.create(flow=hotel, kind="navigation", message="old")
    EndpointError.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    recent = EndpointError.objects.create(flow=hotel, kind="navigation", message="recent")

    assert forget_old_endpoint_errors_task.delay().get() == 1

    assert list(EndpointError.objects.all()) == [recent]
    assert "forget-old-endpoint-errors" in settings.CELERY_BEAT_SCHEDULE
