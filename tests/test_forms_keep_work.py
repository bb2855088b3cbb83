"""Forms that keep the user's work: the same content saved twice is no conflict, an over-size Flow JSON
gets a form error that keeps the text, a body too large for any form gets a 400 page; in Chromium, a
double-clicked Save saves once and the button shows it is working; the pages satisfy their CSP."""

from __future__ import annotations

import html
import json
import time

from django.urls import reverse
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from flowsadmin.models import Flow, FlowRevision

from .browser import csp_violations, screenshot, sign_in, wait
from .conftest import client_for
from .test_flow_browser import see
from .test_flow_lifecycle import HOTEL, form


def test_saving_the_same_content_twice_is_not_a_conflict(sandbox_waba, marketer):
    client = client_for(marketer)
    client.post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    opened = flow.lock_version
    edited = form(name="Hotel feedback 2", lock_version=opened)
    first = client.post(reverse("flows:json", args=[flow.pk]), edited)
    second = client.post(reverse("flows:json", args=[flow.pk]), edited)  # the second click
    assert (first.status_code, second.status_code) == (302, 302)
    flow.refresh_from_db()
    assert flow.name == "Hotel feedback 2" and flow.lock_version == opened + 1
    assert FlowRevision.objects.filter(flow=flow).count() == 1  # the JSON never changed


def big_flow_json(size: int) -> str:
    document = json.loads(HOTEL)
    document["padding"] = "x" * size
    return json.dumps(document)


def test_an_over_size_flow_json_gets_a_form_error_that_keeps_the_text(sandbox_waba, marketer):
    client = client_for(marketer)
    page = client.get(reverse("flows:create")).content.decode()
    assert "At most 1,024 KB." in page  # the limit, stated under the field
    text = big_flow_json(5 * 1024 * 1024)
    response = client.post(reverse("flows:create"), form(flow_json=text))
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "the limit is 1,024 KB" in body
    assert '"padding": "' + "x" * 1000 in body  # the text is still in the editor
    assert len(response.content) > 5 * 1024 * 1024
    assert not Flow.objects.exists()


def test_a_body_too_large_for_any_form_gets_the_400_page(waba, marketer):
    response = client_for(marketer).post(
        reverse("flows:create"), form(flow_json="x" * (13 * 1024 * 1024))
    )
    assert response.status_code == 400
    assert "That request could not be read" in response.content.decode()


def test_a_double_clicked_save_saves_once_and_shows_it_is_working(
    live_server, browser, sandbox_waba, marketer
):
    client_for(marketer).post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    sign_in(browser, live_server.url, "bob")
    browser.get(f"{live_server.url}/flows/{flow.pk}/json/")
    browser.find_element(By.CSS_SELECTOR, "details.flow-settings summary").click()
    name = browser.find_element(By.ID, "id_name")
    name.clear()
    name.send_keys("Hotel feedback, renamed")
    save = browser.find_element(By.XPATH, "//button[normalize-space()='Save draft']")
    # What the button shows while the form is on its way, kept across the navigation that follows.
    browser.execute_script(
        """const button = arguments[0];
        new MutationObserver(() => {
          if (button.getAttribute("aria-busy") === "true")
            sessionStorage.setItem("busy", button.textContent);
        }).observe(button, {attributes: true});""",
        save,
    )
    ActionChains(browser).double_click(save).perform()
    see(browser, "Hotel feedback, renamed")
    wait(browser).until(EC.url_to_be(f"{live_server.url}/flows/{flow.pk}/json/"))
    assert browser.execute_script("return sessionStorage.getItem('busy')") == "Working…"
    time.sleep(0.5)  # a second request, had one gone, would land now
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "changed by someone else" not in page
    # Created, then one update: the second click never reached the server.
    assert flow.changes.count() == 2
    screenshot(browser, "forms-saved-1280.png")
    browser.set_window_size(400, 900)
    screenshot(browser, "forms-saved-400.png")


def test_the_pages_report_no_csp_violation_and_one_would_be_caught(
    live_server, browser, sandbox_waba, admin_user
):
    client_for(admin_user).post(reverse("flows:create"), form())
    flow = Flow.objects.get()
    sign_in(browser, live_server.url, "alice")
    for path in (
        "/",
        f"/flows/{flow.pk}/",
        f"/flows/{flow.pk}/json/",
        f"/flows/{flow.pk}/insights/",
        "/settings/wabas/webhooks/",
        "/flows/new/",
    ):
        browser.get(f"{live_server.url}{path}")
        wait(browser).until(EC.presence_of_element_located((By.TAG_NAME, "main")))
    assert csp_violations(browser) == []
    # Proof the check looks: a style= attribute put into the page is refused and reported.
    browser.execute_script(
        "document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')"
    )
    reported = csp_violations(browser)
    assert reported and "style-src" in reported[0]


def test_the_400_page_in_the_browser(live_server, browser, waba, marketer):
    """A form post larger than any form takes: the 400 page says what happened and how to go on."""
    sign_in(browser, live_server.url, "bob")
    browser.get(f"{live_server.url}/flows/new/")
    browser.execute_script(
        "const f = document.querySelector('main form[method=post]');"
        "const t = document.createElement('textarea'); t.name = 'padding';"
        "t.value = 'x'.repeat(13 * 1024 * 1024); t.hidden = true; f.append(t); f.submit();"
    )
    see(browser, "That request could not be read")
    screenshot(browser, "bad-request-1280.png")
    browser.set_window_size(400, 900)
    screenshot(browser, "bad-request-400.png")
