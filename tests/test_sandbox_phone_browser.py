"""An admin plays published flows on the sandbox phone in real Chromium: the hotel feedback flow, then
finds the completion on the user's profile in Find People; the weather flow through the relay to the
sandbox's customer endpoint."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from audience.models import Event
from exchange import cache
from flowsadmin.models import Flow

from .browser import screenshot, sign_in, wait
from .test_flow_browser import click, see
from .test_sandbox_phone import on_sandbox_meta

EXAMPLES = Path(__file__).resolve().parents[1] / "flowsadmin/examples"
HOTEL = (EXAMPLES / "hotel-feedback.static.flow.json").read_text(encoding="utf-8")
WEATHER = (EXAMPLES / "weather-or-age.customer-endpoint.flow.json").read_text(encoding="utf-8")
WA_ID = "15557654321"


def open_phone(browser: WebDriver, base: str, flow: Flow) -> None:
    browser.get(f"{base}/sandbox/phone/{flow.pk}/")
    typed = browser.find_element(By.ID, "id_whatsapp_id")
    typed.clear()
    typed.send_keys(WA_ID)
    click(browser, "//button[normalize-space()='Open the flow']")


def test_an_admin_plays_hotel_feedback_on_the_sandbox_phone_and_finds_the_event(
    live_server, browser, sandbox_waba, admin_user, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    cache.forget_hosted_flows()
    flow = Flow.objects.create(
        waba=sandbox_waba,
        name="Hotel feedback",
        flow_json=HOTEL,
        status="PUBLISHED",
        meta_flow_id="5550001",
    )
    on_sandbox_meta(flow)
    base = live_server.url
    sign_in(browser, base, "alice")
    open_phone(browser, base, flow)
    see(browser, "Would you recommend us to a friend?")

    click(browser, "//label[.//span[normalize-space()='Yes']]")
    browser.find_element(By.CSS_SELECTOR, "textarea[name='f.comment']").send_keys("Lovely pool")
    screenshot(browser, "sandbox-phone-screen-1.png")
    click(browser, "//button[normalize-space()='Continue']")
    see(browser, "Rate the following:")

    for name, value in [
        ("f.Stay_Experience_f2b4e8", "0_★★★★★_•_Excellent_(5/5)"),
        ("f.Food_Experience_bf1842", "1_★★★★☆_•_Good_(4/5)"),
        ("f.Customer_service", "0_Excellent"),
    ]:
        Select(browser.find_element(By.NAME, name)).select_by_value(value)
    screenshot(browser, "sandbox-phone-screen-2.png")
    click(browser, "//button[normalize-space()='Done']")
    see(browser, "Flow finished, answers sent to the business")
    screenshot(browser, "sandbox-phone-finished.png")

    browser.get(f"{base}/people/")
    search = wait(browser).until(EC.presence_of_element_located((By.ID, "id_q")))
    search.send_keys(WA_ID)
    click(browser, "//form[@role='search']//button[normalize-space()='Search']")
    see(browser, WA_ID)
    click(browser, f"//tr[td[normalize-space()='{WA_ID}']]//a")
    see(browser, "WAF_HotelFeedback_Submitted")
    see(browser, "Lovely pool")
    see(browser, "0_Excellent")
    screenshot(browser, "sandbox-phone-profile.png")


def test_an_admin_plays_the_weather_flow_to_rain_in_london(
    live_server, browser, sandbox_waba, admin_user, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True
    cache.forget_hosted_flows()
    base = live_server.url
    flow = Flow.objects.create(
        waba=sandbox_waba,
        name="Weather or age",
        flow_json=WEATHER,
        status="PUBLISHED",
        meta_flow_id="5550002",
        customer_endpoint_url=f"{base}/sandbox/customer/weather/",
    )
    on_sandbox_meta(flow)
    sign_in(browser, base, "alice")
    open_phone(browser, base, flow)
    see(browser, "What would you like to check?")

    Select(browser.find_element(By.NAME, "f.What_would_you_like_24dfd1")).select_by_value(
        "0_Check_weather_of_the_city"
    )
    click(browser, "//button[normalize-space()='Continue']")
    see(browser, "Weather Today")
    browser.find_element(By.NAME, "f.Mumbai_c78cb7").send_keys("London")
    click(browser, "//button[normalize-space()='Continue']")
    see(browser, "London: Rain expected this morning.")
    screenshot(browser, "sandbox-phone-weather.png")
    click(browser, "//button[normalize-space()='Continue']")
    see(browser, "Flow finished, answers sent to the business")

    submitted = Event.objects.get(name="WAF_WeatherOrAge_Submitted", profile__whatsapp_id=WA_ID)
    assert submitted.properties["weather"] == "Rain expected this morning."
