"""The campaign manager's whole path in real Chromium, against the sandbox Meta: create a template with
an image header and a Flow button while the preview follows, submit, see it approved, send a test.
Screenshots of every template page at 1280 and 400 px go to test-output/."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from audience.models import Event
from flowsadmin.tokens import read_flow_token
from sandbox.models import Message
from templates_app.models import MessageTemplate, TestSend

from .browser import screenshot, sign_in, wait
from .template_helpers import png
from .test_flow_browser import click, see
from .test_sandbox_inbox_browser import play_hotel_feedback


def both_widths(driver: WebDriver, name: str) -> None:
    """The page at 1280 and at 400 px wide, tall enough to show all of it."""
    for width in (1280, 400):
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(900, min(int(height) + 150, 4000)))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(900, min(int(height) + 150, 4000)))
        screenshot(driver, f"templates-{name}-{width}.png")
    driver.set_window_size(1280, 900)


def settled(driver: WebDriver) -> None:
    """Wait until htmx has no request in flight, so the fields found next are the ones that stay."""
    wait(driver).until(
        lambda d: d.execute_script(
            "return !document.querySelector('.htmx-request') && !window.htmx?.config?.__busy"
        )
    )


def type_into(driver: WebDriver, element_id: str, text: str) -> None:
    settled(driver)
    wait(driver).until(EC.visibility_of_element_located((By.ID, element_id))).send_keys(text)


def preview_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "message-preview").text


def test_a_campaign_manager_creates_previews_submits_and_test_sends_a_flow_template(
    live_server, browser, meta_flow, campaign_manager, admin_user, tmp_path
):
    base = live_server.url
    sample = tmp_path / "room.png"
    sample.write_bytes(png(600, 400))
    sign_in(browser, base, "charlie")

    browser.get(f"{base}/templates/")
    see(browser, "No templates yet.")
    click(browser, "//a[normalize-space()='+ Template']")
    see(browser, "1. Category and type")
    browser.find_element(By.ID, "id_name").send_keys("stay_feedback")
    Select(browser.find_element(By.ID, "id_header_format")).select_by_value("IMAGE")
    # Only the sample field shows for an image header; the text header's field hides.
    assert not browser.find_element(By.ID, "id_header_text").is_displayed()
    browser.find_element(By.ID, "id_header_sample").send_keys(str(sample))
    wait(browser).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#message-preview img[src^='blob:']")
    )
    browser.find_element(By.ID, "id_body").send_keys(
        "Hi {{user.name}}, how was your stay with us? Tell us in two minutes."
    )
    # The example field appears as the variable is typed, and the preview uses it.
    wait(browser).until(EC.visibility_of_element_located((By.ID, "id_example_user_name")))
    type_into(browser, "id_example_user_name", "Ana")
    # Meta allows no variable in a footer: said at the field, with everything typed kept.
    type_into(browser, "id_footer", "See you {{user.name}}")
    type_into(browser, "id_button_text", "Rate your stay")
    settled(browser)
    click(browser, "//button[normalize-space()='Submit to Meta']")
    see(browser, "Meta allows no variables in the footer")
    assert not MessageTemplate.objects.exists()
    both_widths(browser, "create-errors")
    footer = browser.find_element(By.ID, "id_footer")
    footer.clear()
    footer.send_keys("Hotel Azul")
    browser.find_element(By.ID, "id_header_sample").send_keys(str(sample))  # files aren't kept
    wait(browser).until(
        lambda d: (
            "Hi Ana, how was your stay with us?" in preview_text(d)
            and "Rate your stay" in preview_text(d)
        )
    )
    settled(browser)
    Select(browser.find_element(By.ID, "id_flow")).select_by_visible_text("Hotel feedback")
    wait(browser).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#id_navigate_screen option[value=RECOMMEND]")
    )
    settled(browser)
    Select(browser.find_element(By.ID, "id_navigate_screen")).select_by_value("RECOMMEND")
    settled(browser)
    assert "Hotel Azul" in preview_text(browser)
    both_widths(browser, "create")

    click(browser, "//button[normalize-space()='Submit to Meta']")
    see(browser, "stay_feedback was sent to Meta")
    template = MessageTemplate.objects.get()
    # The sandbox reviews at once in tests (tasks run in-process); its webhook approved ours.
    see(browser, "Approved")
    template.refresh_from_db()
    assert template.status == "APPROVED"
    wait(browser).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#message-preview img[src$='/sample/']")
    )
    both_widths(browser, "detail")

    click(browser, "//a[normalize-space()='Send a test']")
    see(browser, "Send a test · stay_feedback")
    both_widths(browser, "send-test")
    to = browser.find_element(By.ID, "id_to")
    to.send_keys("not a number")
    click(browser, "//button[normalize-space()='Send test']")
    see(browser, "not a number is not a phone number")
    to = browser.find_element(By.ID, "id_to")
    to.clear()
    to.send_keys("+1 555 123 4567")
    click(browser, "//button[normalize-space()='Send test']")
    see(browser, "Sent to +15551234567")
    record = TestSend.objects.get()
    message = Message.objects.get(wamid=record.wamid)
    assert message.body_text.startswith("Hi Ana, how was your stay")
    assert message.flow_token == record.flow_token
    assert read_flow_token(message.flow_token)["whatsapp_id"] == "15551234567"
    both_widths(browser, "detail-after-test")

    browser.get(f"{base}/templates/")
    see(browser, "stay_feedback")
    both_widths(browser, "list")
    browser.get(f"{base}/templates/{template.pk}/edit/")
    see(browser, "Edit stay_feedback")
    both_widths(browser, "edit")
    browser.get(f"{base}/templates/{template.pk}/delete/")
    see(browser, "Delete stay_feedback?")
    both_widths(browser, "delete")

    # The test message on the sandbox phone (the sandbox's pages are the admin's): its Flow button opens
    # the hotel flow at the landing screen chosen above, and the completion carries the token we sent.
    browser.delete_all_cookies()
    sign_in(browser, base, "alice")
    browser.get(f"{base}/sandbox/phone/inbox/15551234567/")
    see(browser, "Hi Ana, how was your stay with us?")
    play_hotel_feedback(
        browser,
        message.pk,
        comment="Lovely pool",
        on_first_screen=lambda: both_widths(browser, "phone-flow-screen"),
    )
    both_widths(browser, "phone-finished")
    submitted = Event.objects.get(
        name="WAF_HotelFeedback_Submitted", profile__whatsapp_id="15551234567"
    )
    assert (submitted.flow_token, submitted.properties["comment"]) == (
        record.flow_token,
        "Lovely pool",
    )
