"""The flow pages in real Chromium at 1280 and 400 pixels (issue 15): the listing as cards, each tab,
the phone redrawing as the JSON changes, Check JSON's gutter markers, and responses with titles.
Screenshots go to test-output/flow-page-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from flowsadmin.models import Flow, FlowChange

from .browser import screenshot, sign_in, wait
from .conftest import client_for
from .test_flow_page import complete

ROOT = Path(__file__).resolve().parents[1]
HOTEL = (ROOT / "flowsadmin/examples/hotel-feedback.static.flow.json").read_text(encoding="utf-8")
WIDTHS = (1280, 400)

# How many lines an element's text takes on screen.
LINES = """
const range = document.createRange(); range.selectNodeContents(arguments[0]);
return new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size;
"""
GUTTER_LINES = """
const cm = document.querySelector('.CodeMirror').CodeMirror; const lines = [];
cm.eachLine((h) => { const info = cm.lineInfo(h); if (info.gutterMarkers) lines.push(info.line + 1); });
return lines;
"""


def at_width(driver: WebDriver, width: int) -> None:
    driver.set_window_size(width, 900)
    wait(driver).until(lambda d: abs(d.execute_script("return window.innerWidth") - width) < 20)


# The elements that stick out past the right edge of the window (whose parent does not), if any.
STICKING_OUT = """
const out = (el) => el.getBoundingClientRect().right > window.innerWidth + 1;
return Array.from(document.querySelectorAll("body *"))
  .filter((el) => out(el) && !out(el.parentElement))
  .map((el) => el.tagName + "." + el.className + "#" + el.id);
"""


def sticking_out(driver: WebDriver) -> list[str]:
    """Nothing makes the page scroll sideways: [] when it fits, else what sticks out."""
    if driver.execute_script("return document.documentElement.scrollWidth <= innerWidth + 1"):
        return []
    return driver.execute_script(STICKING_OUT) or ["(the page is wider than the window)"]


def set_editor_text(driver: WebDriver, text: str) -> None:
    editor = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".CodeMirror")))
    driver.execute_script("arguments[0].CodeMirror.setValue(arguments[1])", editor, text)


def phone_title(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#live-preview .pv-title").text


@pytest.fixture
def flows(transactional_db, waba, marketer) -> dict[str, Flow]:
    published = Flow.objects.create(
        waba=waba,
        name="Hotel feedback",
        status="PUBLISHED",
        meta_flow_id="1093847561234567",
        customer_endpoint_url="https://hotel.example/whatsapp/flows/endpoint",
        flow_json=HOTEL,
        created_by=marketer,
    )
    draft = Flow.objects.create(
        waba=waba, name="Hotel feedback (next)", flow_json=HOTEL, created_by=marketer
    )
    Flow.objects.create(
        waba=waba,
        name="Own server",
        endpoint="CUSTOM",
        custom_endpoint_url="https://bookings.example.com/whatsapp/flows/data-exchange/v2",
        flow_json=HOTEL,
    )
    FlowChange.objects.create(flow=published, user=marketer, action="create")
    FlowChange.objects.create(flow=published, user=marketer, action="update_endpoint")
    complete(
        published,
        "15550001",
        "wamid.1",
        stay_experience="1_★★★★☆_•_Good_(4/5)",
        food_experience="0_★★★★★_•_Excellent_(5/5)",
        customer_service_experience="2_Average",
        recommend="0_Yes",
        comment="The pool was cold, breakfast was great.",
    )
    return {"published": published, "draft": draft}


def test_the_listing_is_a_table_on_a_laptop_and_cards_on_a_phone(live_server, browser, flows):
    sign_in(browser, live_server.url, "bob")
    for width in WIDTHS:
        at_width(browser, width)
        browser.get(f"{live_server.url}/flows/")
        row = wait(browser).until(
            EC.visibility_of_element_located((By.ID, f"flow-row-{flows['published'].pk}"))
        )
        screenshot(browser, f"flow-page-listing-{width}.png")
        assert sticking_out(browser) == [], width
        display = browser.execute_script("return getComputedStyle(arguments[0]).display", row)
        assert display == ("table-row" if width == 1280 else "block")
        # IDs and URLs are whole tokens: each on one line, never a letter per line.
        flow_id = row.find_element(By.CSS_SELECTOR, "td[data-label='Flow ID']")
        url = row.find_element(By.CSS_SELECTOR, "code.one-line")
        assert browser.execute_script(LINES, flow_id) == 1
        assert browser.execute_script(LINES, url) == 1
        assert url.get_attribute("title") == flows["published"].data_exchange_url()
        # Row actions: preview and clone for every flow, publish only for the draft.
        for name in ("Preview", "Clone"):
            assert row.find_element(By.XPATH, f".//*[normalize-space()='{name}']").is_displayed()
        assert not row.find_elements(By.XPATH, ".//button[normalize-space()='Publish']")
        draft_row = browser.find_element(By.ID, f"flow-row-{flows['draft'].pk}")
        assert draft_row.find_element(
            By.XPATH, ".//button[normalize-space()='Publish']"
        ).is_displayed()
    if width == 400:
        label = browser.execute_script(
            "return getComputedStyle(arguments[0], '::before').content", flow_id
        )
        assert label == '"Flow ID"'


def test_every_tab_at_1280_and_400(live_server, browser, flows):
    flow = flows["published"]
    sign_in(browser, live_server.url, "bob")
    expected = {
        "": "URLs Meta calls",
        "json/": "Preview",
        "responses/": "★★★★☆ • Good (4/5)",
        "insights/": "Completion funnel",
        "history/": "Changed the endpoint settings",
    }
    for width in WIDTHS:
        at_width(browser, width)
        for path, text in expected.items():
            browser.get(f"{live_server.url}/flows/{flow.pk}/{path}")
            wait(browser).until(lambda d, t=text: t in d.find_element(By.TAG_NAME, "main").text)
            name = path.strip("/") or "overview"
            screenshot(browser, f"flow-page-{name}-{width}.png")
            current = browser.find_element(By.CSS_SELECTOR, ".tabs a[aria-current=page]")
            assert current.get_attribute("href") == f"{live_server.url}/flows/{flow.pk}/{path}"
            if name != "insights":  # its charts are another engineer's today
                assert sticking_out(browser) == [], (name, width)
            if name == "responses":
                # One card per response on a phone, each answer labelled with its field.
                row = browser.find_element(By.CSS_SELECTOR, "table.responses tbody tr")
                display = browser.execute_script(
                    "return getComputedStyle(arguments[0]).display", row
                )
                assert display == ("table-row" if width == 1280 else "block")
                assert "Stay Feedback" in row.text and "Excellent (5/5)" in row.text
    # The Overview has the sandbox phone for a marketer, and the URLs copy.
    browser.get(f"{live_server.url}/flows/{flow.pk}/")
    assert browser.find_element(By.LINK_TEXT, "Try it on the sandbox phone").is_displayed()


def test_the_phone_redraws_as_the_json_changes_and_check_json_marks_the_gutter(
    live_server, browser, flows
):
    draft = flows["draft"]
    sign_in(browser, live_server.url, "bob")
    for width in WIDTHS:
        at_width(browser, width)
        browser.get(f"{live_server.url}/flows/{draft.pk}/json/")
        wait(browser).until(lambda d: phone_title(d) == "Feedback 1 of 2")

        # Typing redraws the phone from the editor's text, nothing saved.
        new_title = f"Tell us about your stay ({width})"
        set_editor_text(browser, HOTEL.replace("Feedback 1 of 2", new_title))
        wait(browser).until(lambda d, t=new_title: phone_title(d) == t)
        draft.refresh_from_db()
        assert new_title not in draft.flow_json

        # The screen picker, and the phone's own Continue, pick the screen without leaving the page.
        Select(browser.find_element(By.ID, "preview-screen")).select_by_value("RATE")
        wait(browser).until(lambda d: phone_title(d) == "Feedback 2 of 2")
        Select(browser.find_element(By.ID, "preview-screen")).select_by_value("RECOMMEND")
        wait(browser).until(lambda d, t=new_title: phone_title(d) == t)
        browser.find_element(By.CSS_SELECTOR, "#live-preview a.pv-button").click()
        wait(browser).until(lambda d: phone_title(d) == "Feedback 2 of 2")
        assert browser.current_url.endswith("/json/")  # the unsaved text is still in the editor
        screenshot(browser, f"flow-page-live-preview-{width}.png")

        # A broken draft: the phone names the line the validator names; Check JSON marks it.
        lines = HOTEL.splitlines()
        index = next(i for i, line in enumerate(lines) if '"title": "No"' in line)
        lines[index] += ","  # a trailing comma before the closing }
        broken_line = index + 1
        set_editor_text(browser, "\n".join(lines))
        problem = wait(browser).until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, "#live-preview .live-problems"))
        )
        assert f"Trailing comma on line {broken_line}" in problem.text, problem.text
        go_to = problem.find_element(By.CSS_SELECTOR, "[data-jump-line]")
        assert go_to.get_attribute("data-jump-line") == str(broken_line)
        assert browser.execute_script(GUTTER_LINES) == []  # nothing marked before the check

        browser.find_element(By.XPATH, "//button[normalize-space()='Check JSON']").click()
        wait(browser).until(lambda d, n=broken_line: d.execute_script(GUTTER_LINES) == [n])
        message = browser.find_element(By.CSS_SELECTOR, "#flow-messages [data-jump-line]")
        assert message.get_attribute("data-jump-line") == str(broken_line)
        assert "$" not in browser.find_element(By.ID, "flow-messages").text
        go_to.click()  # the preview's link moves the caret to the line
        cursor = browser.execute_script(
            "return document.querySelector('.CodeMirror').CodeMirror.getCursor().line + 1"
        )
        assert cursor == broken_line
        screenshot(browser, f"flow-page-check-json-{width}.png")


def test_overview_messages_open_the_editor_at_their_line(live_server, browser, flows):
    draft = flows["draft"]
    draft.local_messages = [
        {"level": "warning", "message": "Look here", "line": 30, "column": 5, "path": "$.a"}
    ]
    draft.save()
    sign_in(browser, live_server.url, "bob")
    browser.get(f"{live_server.url}/flows/{draft.pk}/")
    browser.find_element(By.LINK_TEXT, "line 30, column 5").click()
    wait(browser).until(
        lambda d: (
            d.execute_script(
                "const el = document.querySelector('.CodeMirror');"
                "return el && el.CodeMirror.getCursor().line + 1"
            )
            == 30
        )
    )
    assert browser.execute_script(GUTTER_LINES) == [30]


def test_a_marketer_tries_the_flow_on_the_sandbox_phone_from_its_page(
    live_server, browser, sandbox_waba, marketer
):
    client = client_for(marketer)
    client.post(
        reverse("flows:create"),
        {
            "name": "Hotel feedback",
            "categories": ["SURVEY"],
            "endpoint": "HOSTED",
            "flow_json": HOTEL,
        },
    )
    flow = Flow.objects.get()
    client.post(reverse("flows:action", args=[flow.pk, "publish"]))
    flow.refresh_from_db()
    assert flow.status == "PUBLISHED"

    sign_in(browser, live_server.url, "bob")
    for width in WIDTHS:
        at_width(browser, width)
        browser.get(f"{live_server.url}/flows/{flow.pk}/")
        browser.find_element(By.LINK_TEXT, "Try it on the sandbox phone").click()
        wait(browser).until(
            EC.element_to_be_clickable(
                (
                    By.XPATH,
                    "//button[normalize-space()='Open the flow' or normalize-space()='Start again']",
                )
            )
        ).click()
        wait(browser).until(lambda d: "Feedback 1 of 2" in d.find_element(By.TAG_NAME, "main").text)
        assert sticking_out(browser) == [], width
        screenshot(browser, f"flow-page-try-it-{width}.png")


def test_a_get_on_an_action_url_is_a_friendly_page(live_server, browser, flows):
    sign_in(browser, live_server.url, "bob")
    draft = flows["draft"]
    for width in WIDTHS:
        at_width(browser, width)
        browser.get(f"{live_server.url}/flows/{draft.pk}/publish/")
        wait(browser).until(
            lambda d: (
                "This address is a button, not a page" in d.find_element(By.TAG_NAME, "main").text
            )
        )
        assert sticking_out(browser) == [], width
        screenshot(browser, f"flow-page-action-get-{width}.png")
    browser.find_element(By.XPATH, "//main//button[normalize-space()='Publish']").is_displayed()
    draft.refresh_from_db()
    assert draft.status == "DRAFT"


def test_the_new_flow_page_has_the_live_phone_too(live_server, browser, flows):
    sign_in(browser, live_server.url, "bob")
    for width in WIDTHS:
        at_width(browser, width)
        browser.get(f"{live_server.url}/flows/new/")
        wait(browser).until(lambda d: phone_title(d) == "Welcome")
        set_editor_text(browser, HOTEL)
        wait(browser).until(lambda d: phone_title(d) == "Feedback 1 of 2")
        assert sticking_out(browser) == [], width
        screenshot(browser, f"flow-page-new-{width}.png")
    assert Flow.objects.count() == 3  # nothing saved by previewing


IN_VIEW = (
    "const r = arguments[0].getBoundingClientRect(); return r.top > -2 && r.top < innerHeight;"
)


def test_on_a_phone_a_link_jumps_from_the_editor_to_the_preview_and_back(
    live_server, browser, flows
):
    """Side by side on a laptop there is nothing to jump to; on a phone the preview is below the
    editor, a long scroll away, and a link on each pane jumps to the other."""
    sign_in(browser, live_server.url, "bob")
    at_width(browser, 1280)
    browser.get(f"{live_server.url}/flows/{flows['draft'].pk}/json/")
    wait(browser).until(lambda d: phone_title(d) == "Feedback 1 of 2")
    jump = browser.find_element(By.CSS_SELECTOR, "a[href='#live-title']")
    assert not jump.is_displayed() and jump.get_attribute("textContent") == "Jump to the preview ↓"

    at_width(browser, 400)
    preview, editor = (browser.find_element(By.ID, name) for name in ("live-title", "editor-pane"))
    assert not browser.execute_script(IN_VIEW, preview)
    jump.click()
    wait(browser).until(lambda d: d.execute_script(IN_VIEW, preview))
    browser.find_element(By.LINK_TEXT, "↑ Back to the editor").click()
    wait(browser).until(lambda d: d.execute_script(IN_VIEW, editor))
    assert sticking_out(browser) == []
