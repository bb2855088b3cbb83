"""A flow's Insights in real Chromium: the branching funnel and the health charts, drawn from requests
sent to the running server's endpoint as Meta sends them, at 1280 and 400 pixels."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from flowsadmin.models import Flow

from .browser import SCREENSHOTS, sign_in, wait
from .meta_client import MetaPhone

ROOT = Path(__file__).resolve().parents[1]
WEATHER = (ROOT / "flowsadmin/examples/weather-or-age.customer-endpoint.flow.json").read_text(
    encoding="utf-8"
)


@pytest.fixture
def redis_keys():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    for key in [
        *client.scan_iter("flowhealth:*"),
        *client.scan_iter("flowhealthh:*"),
        *client.scan_iter("flowfunnel:*"),
    ]:
        client.delete(key)


def post(base: str, phone: MetaPhone, flow: Flow, request: dict) -> dict:
    """One request to the live server's endpoint, sealed and signed as Meta does."""
    sealed = phone.seal(request)
    answer = requests.post(
        f"{base}/meta/flows/{flow.public_id}/",
        data=sealed.body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sealed.signature},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return sealed.open(answer.content)


def walk(base: str, phone: MetaPhone, flow: Flow, token: str, path: list[tuple[str, str]]) -> None:
    for screen, next_screen in path:
        request = {
            "version": "3.0",
            "action": "data_exchange",
            "screen": screen,
            "flow_token": token,
            "data": {"next_screen": next_screen},
        }
        post(base, phone, flow, request)


def at_both_widths(
    driver: WebDriver, name: str, sections: tuple[str, ...] = ("funnel", "endpoint-health")
) -> None:
    """Each Insights section at 1280 and 400 px, the window as tall as the section (the flow page
    around it is long and belongs to its tabs)."""
    for width in (1280, 400):
        for section in sections:
            driver.set_window_size(width, 900)
            element = driver.find_element(By.ID, section)
            height = element.size["height"]
            driver.set_window_size(width, max(900, height + 250))
            driver.execute_script("arguments[0].scrollIntoView()", element)
            wait(driver).until(_charts_fit)
            element.screenshot(str(SCREENSHOTS / f"insights-{name}-{section}-{width}.png"))
    driver.set_window_size(1280, 900)


def _charts_fit(driver: WebDriver) -> bool:
    """Every chart's canvas as wide as its box, no wider (they follow the page's width)."""
    return driver.execute_script(
        """return [...document.querySelectorAll('.chart')].every(box => {
             const canvas = box.querySelector('canvas');
             return canvas && Math.abs(canvas.getBoundingClientRect().width - box.clientWidth) <= 2;
           });"""
    )


def test_the_insights_draw_a_branching_funnel_and_health_charts_from_real_requests(
    live_server,
    browser,
    transactional_db,
    waba,
    campaign_manager,
    redis_keys,
    fresh_endpoint_caches,
):
    flow = Flow.objects.create(
        waba=waba, name="Weather or age", flow_json=WEATHER, status="PUBLISHED", meta_flow_id="77"
    )
    phone = MetaPhone(waba.key_pair.public_pem, waba.app_secret)
    base = live_server.url
    for token in ("t1", "t2", "t3"):
        walk(base, phone, flow, token, [("WELCOME", "WEATHER"), ("WEATHER", "TODAYS_WEATHER")])
    walk(base, phone, flow, "t4", [("WELCOME", "YOUR_AGE")])
    walk(base, phone, flow, "t5", [("WELCOME", "NOWHERE")])  # refused: an error for the health
    # Yesterday's hours, as recorded then: a bad hour past Meta's 10% error threshold.
    hour = int(time.time() // 3600)
    redis_keys.hset(
        f"flowhealthh:{flow.pk}:{hour - 20}", mapping={"ok": 30, "error": 6, "le:2000": 36}
    )
    redis_keys.hset(f"flowhealthh:{flow.pk}:{hour - 30}", mapping={"ok": 50, "le:20": 50})

    sign_in(browser, base, "charlie")
    browser.get(f"{base}/flows/{flow.pk}/insights/#funnel")
    wait(browser).until(
        EC.presence_of_all_elements_located((By.CSS_SELECTOR, ".health-chart .chart canvas"))
    )

    steps = browser.find_elements(By.CSS_SELECTOR, ".funnel-step[data-screen]")
    shown = [
        (
            step.get_attribute("data-screen"),
            step.find_element(By.CSS_SELECTOR, ".share").text,
            step.find_element(By.CSS_SELECTOR, ".of").text,
        )
        for step in steps
    ]
    assert shown == [
        ("WELCOME", "100%", "of everyone seen"),
        ("WEATHER", "60%", "of WELCOME"),
        ("TODAYS_WEATHER", "100%", "of WEATHER"),
        ("YOUR_AGE", "20%", "of WELCOME"),
    ]
    assert len(browser.find_elements(By.CSS_SELECTOR, ".health-chart .chart canvas")) == 4
    # The charts read what the endpoint recorded: 8 requests (t5's refused: 1 error).
    data = json.loads(browser.find_element(By.ID, "health-chart-data").get_attribute("textContent"))
    assert sum(data["minute"]["requests"]) == 8 and sum(data["minute"]["errors"]) == 1
    assert sum(data["hour"]["requests"]) == 8 + 36 + 50
    legends = browser.find_elements(By.CSS_SELECTOR, ".health-chart .u-legend")
    assert "Requests" in legends[0].text and "p90" in legends[1].text
    summary = browser.find_element(By.CSS_SELECTOR, ".health-summary").text
    assert "Last hour 8 12.5%" in summary
    # Nothing the page runs failed (the CSP's and the scripts' errors land in the console).
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []

    at_both_widths(browser, "weather")


def test_a_static_flow_shows_its_completions_and_says_why_there_are_no_screens(
    live_server, browser, transactional_db, waba, campaign_manager, redis_keys
):
    from audience.models import Event, Profile

    hotel = (ROOT / "flowsadmin/examples/hotel-feedback.static.flow.json").read_text(
        encoding="utf-8"
    )
    flow = Flow.objects.create(waba=waba, name="Hotel feedback", flow_json=hotel, meta_flow_id="42")
    for whatsapp_id in ("15550001", "15550002", "15550003"):
        Event.objects.create(
            name="WAF_HotelFeedback_Submitted",
            properties={"recommend": "Yes"},
            source=Event.Source.COMPLETION,
            flow=flow,
            profile=Profile.objects.create(whatsapp_id=whatsapp_id),
        )

    sign_in(browser, live_server.url, "charlie")
    browser.get(f"{live_server.url}/flows/{flow.pk}/insights/#funnel")

    funnel = wait(browser).until(EC.visibility_of_element_located((By.ID, "funnel")))
    assert "doesn't call an endpoint" in funnel.text
    assert "Opened\nNot reported for a flow without an endpoint" in funnel.text
    assert "Completed\n3" in funnel.text
    assert "0%" not in funnel.text and not funnel.find_elements(By.TAG_NAME, "meter")
    at_both_widths(browser, "static", sections=("funnel",))
