"""Issue 13's pages in real Chromium: a marketer sends a draft flow as a message and tests the customer
endpoint from the flow's page (htmx swaps the partials in place); the WABA page shows the subscription.
Screenshots at 1280 and 400 pixels wide go to test-output/."""

from __future__ import annotations

from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from flowsadmin.models import Flow
from sandbox.models import Message

from .browser import screenshot, sign_in, wait
from .endpoint_support import WEATHER
from .test_flow_browser import see
from .test_flow_send_message import draft_on_sandbox_meta
from .test_sandbox_inbox import WA_ID


def both_widths(driver, name: str, at: str = "") -> None:
    for width in (1280, 400):
        driver.set_window_size(width, 900)
        if at:
            driver.execute_script(f"document.getElementById('{at}').scrollIntoView()")
        screenshot(driver, f"{name}-{width}.png")
    driver.set_window_size(1280, 900)


def test_a_marketer_sends_a_draft_and_tests_the_customer_endpoint(
    browser, live_server, sandbox_waba, marketer, settings
):
    settings.ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = True
    flow = draft_on_sandbox_meta(sandbox_waba)
    Flow.objects.filter(pk=flow.pk).update(
        flow_json=WEATHER,
        customer_endpoint_url=f"{live_server.url}{reverse('sandbox:customer_weather')}",
    )
    sign_in(browser, live_server.url, marketer.username)
    browser.get(f"{live_server.url}{reverse('flows:detail', args=[flow.pk])}")

    send = browser.find_element(By.ID, "send-message")
    send.find_element(By.NAME, "to").send_keys("call me")
    send.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    see(browser, "call me is not a phone number")  # swapped in place, the input kept
    field = browser.find_element(By.CSS_SELECTOR, "#send-message [name=to]")
    assert field.get_attribute("value") == "call me"
    field.clear()
    field.send_keys("+1 555 123 4567")
    browser.find_element(By.CSS_SELECTOR, "#send-message button[type=submit]").click()
    see(browser, f"Sent to +{WA_ID}")
    assert (
        Message.objects.get(to=WA_ID).payload["interactive"]["action"]["parameters"]["mode"]
        == "draft"
    )

    wait(browser).until(
        EC.element_to_be_clickable((By.XPATH, "//button[.='Test the customer endpoint']"))
    ).click()
    see(browser, "Matches")
    rows = browser.find_elements(By.CSS_SELECTOR, "#contract-test tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == ["WELCOME", "WEATHER"]
    assert browser.current_url.endswith(reverse("flows:detail", args=[flow.pk]))  # swapped in place
    both_widths(browser, "flow-send-message", at="send-message")
    both_widths(browser, "flow-contract-test", at="contract-test")


def test_the_waba_page_shows_the_subscription(browser, live_server, sandbox_waba, admin_user):
    sandbox_waba.mark_subscribed()
    sign_in(browser, live_server.url, admin_user.username)
    browser.get(f"{live_server.url}{reverse('wabas:detail', args=[sandbox_waba.pk])}")
    see(browser, "Subscribed")
    both_widths(browser, "waba-subscription")
