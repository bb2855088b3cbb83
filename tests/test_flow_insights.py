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

    response = client_for(campaign_manager).get(reverse("flows:responses", args=[hotel.pk]))

    assert response.status_code == 200
    # Postgres jsonb keeps an object's keys shortest first, so "first seen" is in that order.
    assert response.context["response_columns"] == ["comment", "recommend"]
    rows = response.context["response_rows"]
    assert [event.pk for event, _, _ in rows][0] == newest.pk
    assert [values for _, _, values in rows] == [["Cold ☕", "No"], ["", "Yes"]]
    html = response.content.decode()
    assert "Cold ☕" in html and "elsewhere" not in html and "flow_id" not in html
    assert reverse("people:detail", args=[newest.profile.pk]) in html
    assert reverse("flows:responses_csv", args=[hotel.pk]) in html


def test_responses_are_paginated_by_25(hotel, campaign_manager):
    for n in range(30):
        submit(hotel, f"1555{n:04d}", {"n": str(n)}, minutes_ago=n)
    client = client_for(campaign_manager)
    first = client.get(reverse("flows:responses", args=[hotel.pk]))
    second = client.get(reverse("flows:responses", args=[hotel.pk]), {"page": 2})
    assert [v for _, _, v in first.context["response_rows"]][0] == ["0"]
    assert len(first.context["response_rows"]) == 25
    assert [v for _, _, v in second.context["response_rows"]] == [[str(n)] for n in range(25, 30)]


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
        "ct_evt",
        "comment",
        "recommend",
        "stay",
    ]
    assert [row[1:] for row in rows[1:]] == [
        ["15550002", "Ben", "", 'Said "fine", then left', "No", ""],
        ["15550001", "", "", "", "Yes", '["pool", "spa"]'],
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

WEATHER = (EXAMPLES / "weather-or-age.customer-endpoint.flow.json").read_text(encoding="utf-8")
BUS = (EXAMPLES / "bus-booking.clevertap-endpoint.flow.json").read_text(encoding="utf-8")


@pytest.fixture
def weather(waba) -> Flow:
    """A branching flow on our endpoint: WELCOME -> WEATHER -> TODAYS_WEATHER, WELCOME -> YOUR_AGE."""
    return Flow.objects.create(
        waba=waba, name="Weather or age", meta_flow_id="77", flow_json=WEATHER
    )


def visit(flow: Flow, path: dict[str, list[str]]) -> None:
    for token, screens in path.items():
        for screen in screens:
            metrics.record_screen_visit(flow.pk, token, screen)
    metrics.flush()


def steps_of(response) -> list[tuple]:
    return [
        (s.screen, s.depth, s.reached, s.share, s.after, s.stopped)
        for s in response.context["funnel"].steps
    ]


def test_a_branching_funnel_shows_each_branch_as_a_share_of_the_screen_before_it(
    weather, campaign_manager, redis_keys
):
    visit(
        weather,
        {
            "a": ["WELCOME", "WEATHER", "TODAYS_WEATHER"],
            "b": ["WELCOME", "WEATHER", "TODAYS_WEATHER", "WEATHER"],  # BACK: still one person
            "c": ["WELCOME", "WEATHER"],
            "d": ["WELCOME", "YOUR_AGE"],
            "e": ["WELCOME"],
        },
    )
    visit(
        Flow.objects.create(waba=weather.waba, name="Other", flow_json=WEATHER), {"z": ["WEATHER"]}
    )
    for n in ("1", "2"):
        submit(weather, f"1555000{n}", {"age": "20"})

    response = client_for(campaign_manager).get(reverse("flows:insights", args=[weather.pk]))

    funnel = response.context["funnel"]
    assert funnel.kind == "endpoint" and funnel.branches
    assert steps_of(response) == [
        ("WELCOME", 0, 5, 100, [], 1),  # e stopped at WELCOME
        ("WEATHER", 1, 3, 60, ["WELCOME"], 1),  # 3 of 5; c stopped there
        ("TODAYS_WEATHER", 2, 2, 67, ["WEATHER"], None),  # 2 of WEATHER's 3, not of WELCOME's 5
        ("YOUR_AGE", 1, 1, 20, ["WELCOME"], None),
    ]
    # Two end screens reached by a, b and d; two of them submitted.
    assert (funnel.opened, funnel.ended, funnel.completed, funnel.completed_share) == (5, 3, 2, 67)
    assert funnel.stopped_at_the_end == 1
    html = response.content.decode()
    assert "each branch is a share of the screen before it" in html
    assert 'class="funnel-step depth-2" data-screen="TODAYS_WEATHER"' in html
    assert "67%" in html and "of WEATHER" in html and "1 stopped here" in html
    assert "style=" not in html.split('id="funnel"')[1].split("</section>")[0]


def test_a_straight_funnel_gives_each_step_as_a_share_of_the_step_before(
    bus_flow, campaign_manager, redis_keys
):
    visit(
        bus_flow,
        {
            "a": ["welcome_screen", "seat_selection", "booking_confirmation"],
            "b": ["welcome_screen", "seat_selection"],
            "c": ["welcome_screen"],
            "d": ["welcome_screen"],
        },
    )
    response = client_for(campaign_manager).get(reverse("flows:insights", args=[bus_flow.pk]))
    assert steps_of(response) == [
        ("welcome_screen", 0, 4, 100, [], 2),
        ("seat_selection", 1, 2, 50, ["welcome_screen"], 1),
        ("booking_confirmation", 2, 1, 50, ["seat_selection"], None),
    ]
    assert not response.context["funnel"].branches


def test_an_endpoint_flow_nobody_used_yet_shows_no_shares_rather_than_zeros(
    weather, campaign_manager, redis_keys
):
    response = client_for(campaign_manager).get(reverse("flows:insights", args=[weather.pk]))
    funnel = response.context["funnel"]
    assert [s.share for s in funnel.steps] == [None, None, None, None]
    assert (funnel.opened, funnel.completed, funnel.completed_share) == (0, 0, None)
    assert response.status_code == 200


def test_a_static_flow_says_its_screens_are_not_reported_and_shows_completions(
    hotel, campaign_manager, redis_keys
):
    submit(hotel, "15550001", {"recommend": "Yes"})
    submit(hotel, "15550002", {"recommend": "No"})

    response = client_for(campaign_manager).get(reverse("flows:insights", args=[hotel.pk]))

    funnel = response.context["funnel"]
    assert (funnel.kind, funnel.completed, funnel.opened, funnel.steps) == ("static", 2, None, [])
    section = response.content.decode().split('id="funnel"')[1].split("</section>")[0]
    assert "doesn't call an endpoint" in section
    assert "Not reported for a flow without an endpoint" in section
    assert "<strong>2</strong>" in section and "0%" not in section and "<meter" not in section


def test_a_flow_on_its_own_endpoint_shows_completions_and_says_where_screens_go(
    weather, campaign_manager, redis_keys
):
    weather.endpoint = Flow.Endpoint.CUSTOM
    weather.custom_endpoint_url = "https://example.test/flow"
    weather.save()
    submit(weather, "15550001", {"age": "30"})
    response = client_for(campaign_manager).get(reverse("flows:insights", args=[weather.pk]))
    assert (response.context["funnel"].kind, response.context["funnel"].completed) == (
        "elsewhere",
        1,
    )
    assert "calls its own endpoint, not ours" in response.content.decode()


def test_a_flow_with_broken_json_gets_no_funnel_steps_and_no_error(
    waba, campaign_manager, redis_keys
):
    flow = Flow.objects.create(
        waba=waba, name="Broken", flow_json='{"data_api_version": "3.0", "screens": 7'
    )
    response = client_for(campaign_manager).get(reverse("flows:insights", args=[flow.pk]))
    assert response.status_code == 200 and response.context["funnel"].kind == "static"
    looped = Flow.objects.create(
        waba=waba,
        name="Loop",
        flow_json=json.dumps(
            {
                "data_api_version": "3.0",
                "routing_model": {"A": ["B"], "B": ["A", "B"]},
                "screens": [{"id": "A"}, {"id": "B"}],
            }
        ),
    )
    response = client_for(campaign_manager).get(reverse("flows:insights", args=[looped.pk]))
    assert [(s.screen, s.depth) for s in response.context["funnel"].steps] == [("A", 0), ("B", 1)]


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
    # Three hours ago: in the day's numbers, not the hour's; three days ago: the week's only.
    now = time.time()  # one clock for the keys written here and the numbers read back
    hour = int(now // 3600)
    redis_keys.hset(f"flowhealthh:{hotel.pk}:{hour - 3}", mapping={"error": 10, "le:5000": 10})
    redis_keys.hset(f"flowhealthh:{hotel.pk}:{hour - 72}", mapping={"ok": 5, "le:1": 5})

    numbers = metrics.endpoint_health(hotel.pk, now=now)

    assert numbers["available"]
    hour_, day, week = numbers["hour"], numbers["day"], numbers["week"]
    assert (hour_.requests, hour_.errors, hour_.error_percent) == (100, 9, "9.0%")
    assert (hour_.p50_ms, hour_.p90_ms, hour_.p99_ms) == (5, 20, 200)
    assert (day.requests, day.errors) == (110, 19)
    assert (day.p50_ms, day.p90_ms, day.p99_ms) == (20, 200, 5000)
    assert (week.requests, week.errors) == (115, 19)
    # The series: 60 minutes and 168 hours, oldest first, the newest holding this minute's requests.
    assert len(numbers["minutes"]) == 60 and len(numbers["hours"]) == 168
    # (A minute may turn between recording and reading: the requests are in the last one or two.)
    busy = [m for m in numbers["minutes"] if m.requests]
    assert sum(m.requests for m in busy) == 100 and busy == numbers["minutes"][-len(busy) :]
    assert numbers["hours"][-4].errors == 10 and numbers["hours"][-73].requests == 5
    assert numbers["hours"][-1].start == hour * 3600
    assert metrics.endpoint_health(hotel.pk + 1)["hour"].requests == 0
    minute_keys = set(redis_keys.scan_iter(f"flowhealth:{hotel.pk}:*"))
    assert minute_keys and all(3600 < redis_keys.ttl(key) <= 2 * 3600 for key in minute_keys)
    hour_key = f"flowhealthh:{hotel.pk}:{hour}"
    assert 7 * 86400 < redis_keys.ttl(hour_key) <= 8 * 86400


def test_health_percentile_past_the_last_bucket_and_the_page(hotel, campaign_manager, redis_keys):
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=30)
    hotel.health_status = {"can_send_message": "AVAILABLE"}
    hotel.health_alerts = {"ENDPOINT_ERROR_RATE": {"alert_state": "ACTIVATED"}}
    hotel.save()

    response = client_for(campaign_manager).get(reverse("flows:insights", args=[hotel.pk]))

    html = response.content.decode()
    assert "&gt; 10 s" in html and "AVAILABLE" in html and "ACTIVATED" in html
    # The charts get the newest minute's p99 drawn past the last bucket, at 20 s.
    charts = json.loads(
        html.split('id="health-chart-data" type="application/json">')[1].split("<")[0]
    )
    # (the newest minute with a request: the page may be read a minute boundary later)
    minute = charts["minute"]
    (at,) = [i for i, n in enumerate(minute["requests"]) if n]
    assert minute["p99"][at] == 20000 and minute["requests"][at] == 1
    assert at >= len(minute["requests"]) - 2
    assert charts["thresholds"] == {"error_rate": [5, 10, 50], "p90_ms": [1000, 5000, 7000]}
    assert response.context["health"]["hour"].requests == 1


def test_a_redis_outage_neither_raises_nor_breaks_the_page(
    hotel, weather, campaign_manager, monkeypatch
):
    dead = redis.Redis.from_url(
        "redis://127.0.0.1:1/0", socket_timeout=0.05, socket_connect_timeout=0.05
    )
    monkeypatch.setattr(metrics, "_client", dead)
    metrics.record_endpoint_request(hotel.pk, ok=True, seconds=0.01)  # no exception
    metrics.record_screen_visit(hotel.pk, "a", "RATE")
    assert metrics.endpoint_health(hotel.pk)["available"] is False
    submit(weather, "15550001", {"age": "20"})
    response = client_for(campaign_manager).get(reverse("flows:insights", args=[weather.pk]))
    html = response.content.decode()
    assert response.status_code == 200 and not response.context["funnel"].available
    assert "Our endpoint's numbers are unavailable" in html
    assert "The screens reached are unavailable" in html
    assert "<dt>Completed</dt><dd><strong>1</strong>" in html  # what the database knows still shows


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
    assert client.get(reverse("flows:insights", args=[hotel.pk])).status_code == 403
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

    page = client.get(reverse("flows:responses", args=[hotel.pk]))
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


@pytest.mark.usefixtures("fresh_endpoint_caches")
def test_a_problem_that_repeats_is_listed_once_a_minute_and_counted_every_time(
    client, waba, redis_keys, settings
):
    """A flow whose every request hits the same problem adds one row, not one per request; the
    health numbers still count each failed request, and a different problem gets its own row."""
    flow = Flow.objects.create(waba=waba, name="Hotel feedback", flow_json=HOTEL)
    first = json.loads(HOTEL)["screens"][0]["id"]
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)

    def exchange(next_screen: str) -> None:
        request = {"version": "3.0", "action": "data_exchange", "screen": first,
                   "flow_token": "tok-1", "data": {"next_screen": next_screen}}  # fmt: skip
        status, answer = send_to_endpoint(phone, flow, request, client)
        assert status == 200 and "error_message" in answer["data"]

    for _ in range(3):
        exchange("NOWHERE")
    exchange("ELSEWHERE")

    messages = sorted(EndpointError.objects.values_list("message", flat=True))
    assert messages == [
        "next_screen 'ELSEWHERE' is not a screen of the flow.",
        "next_screen 'NOWHERE' is not a screen of the flow.",
    ]
    assert metrics.endpoint_health(flow.pk)["hour"].errors == 4
    settings.ENDPOINT_ERROR_REPEAT_SECONDS = 0  # the window has passed
    exchange("NOWHERE")
    assert EndpointError.objects.filter(message__contains="NOWHERE").count() == 2


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

    page = client_for(campaign_manager).get(reverse("flows:insights", args=[flow.pk]))

    html = page.content.decode()
    assert [p.get_kind_display() for p in page.context["endpoint_errors"]] == [
        "Error reported by WhatsApp",
        "Missing or unknown next screen",
    ]
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "next_screen &#x27;NOWHERE&#x27; is not a screen of the flow." in html


def test_a_flow_without_endpoint_problems_says_so(hotel, campaign_manager):
    page = client_for(campaign_manager).get(reverse("flows:insights", args=[hotel.pk]))
    assert "None recorded." in page.content.decode()


def test_endpoint_problems_older_than_the_retention_are_forgotten(hotel, settings):
    settings.ENDPOINT_ERROR_RETENTION_DAYS = 30
    old = EndpointError.objects.create(flow=hotel, kind="navigation", message="old")
    EndpointError.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    recent = EndpointError.objects.create(flow=hotel, kind="navigation", message="recent")

    assert forget_old_endpoint_errors_task.delay().get() == 1

    assert list(EndpointError.objects.all()) == [recent]
    assert "forget-old-endpoint-errors" in settings.CELERY_BEAT_SCHEDULE
