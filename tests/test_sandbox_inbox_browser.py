"""In real Chromium: an admin opens a person's inbox on the sandbox phone, sees the template message as
WhatsApp draws it, taps its Flow button and plays the hotel feedback flow to the end; the completion
lands on that person's profile with the flow token that was sent. Screenshots at 1280 and 400 px."""

from __future__ import annotations

import base64
from collections.abc import Callable

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from audience.models import Event

from .browser import SCREENSHOTS, sign_in
from .test_flow_browser import click, see
from .test_sandbox_inbox import WA_ID, graph_client, hotel, send_stay_feedback

WIDTHS = (1280, 400)


def at_widths(browser: WebDriver, name: str) -> None:
    """A screenshot of the whole page at each width: the viewport is made as tall as the page (a
    window can't grow past the headless screen), then put back."""
    for width in WIDTHS:
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics | {"height": height})
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        SCREENSHOTS.mkdir(exist_ok=True)
        (SCREENSHOTS / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def play_hotel_feedback(
    browser: WebDriver,
    message_pk: int,
    *,
    comment: str,
    on_first_screen: Callable[[], None] = lambda: None,
) -> None:
    """Tap a message's Flow button and play the hotel feedback flow to the end from its RECOMMEND
    screen, as a guest would: Yes, a comment, then the three ratings."""
    click(browser, f"//button[@id='flow-button-{message_pk}']")
    see(browser, "Would you recommend us to a friend?")
    click(browser, "//label[.//span[normalize-space()='Yes']]")
    browser.find_element(By.CSS_SELECTOR, "textarea[name='f.comment']").send_keys(comment)
    on_first_screen()
    click(browser, "//form[@id='phone-form']//button[normalize-space()='Continue']")
    see(browser, "Rate the following:")
    for name, value in [
        ("f.Stay_Experience_f2b4e8", "0_★★★★★_•_Excellent_(5/5)"),
        ("f.Food_Experience_bf1842", "1_★★★★☆_•_Good_(4/5)"),
        ("f.Customer_service", "0_Excellent"),
    ]:
        Select(browser.find_element(By.NAME, name)).select_by_value(value)
    click(browser, "//form[@id='phone-form']//button[normalize-space()='Done']")
    see(browser, "Flow finished, answers sent to the business")


def test_an_admin_opens_the_inbox_taps_the_flow_button_and_plays_hotel_feedback(
    live_server, browser: WebDriver, sandbox_waba, admin_user, settings
):
    flow = hotel(sandbox_waba)
    with graph_client(sandbox_waba, live_server.url, settings) as graph:
        message, token = send_stay_feedback(graph, sandbox_waba, flow)
    base = live_server.url
    sign_in(browser, base, "alice")

    # From the sandbox page to the inbox picker, then the person's number typed in.
    browser.get(f"{base}/sandbox/")
    click(browser, "//a[@id='inbox-pick-link']")
    browser.find_element(By.ID, "id_inbox_whatsapp_id").send_keys("+1 555 123 4567")
    click(browser, "//button[@id='inbox-open']")
    see(browser, "Hi Ana, how was your stay with us? Tell us in two taps.")
    bubble = browser.find_element(By.CSS_SELECTOR, f"article[data-wamid='{message.wamid}']")
    assert "Hotel Azul, Lisbon" in bubble.text and "pool-view.jpg" in bubble.text
    at_widths(browser, "sandbox-inbox")

    play_hotel_feedback(
        browser,
        message.pk,
        comment="Lovely pool",
        on_first_screen=lambda: at_widths(browser, "sandbox-inbox-flow-screen"),
    )
    see(browser, "HTTP 200")
    at_widths(browser, "sandbox-inbox-finished")

    submitted = Event.objects.get(name="WAF_HotelFeedback_Submitted", profile__whatsapp_id=WA_ID)
    assert (submitted.flow_token, submitted.properties["comment"]) == (token, "Lovely pool")
