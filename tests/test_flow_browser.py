"""A marketer's whole path in real Chromium: paste the .jsonc example, see the error at its line, fix it,
save, publish, preview and deprecate, against the sandbox Meta."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from flowsadmin.models import Flow

from .browser import screenshot, sign_in, wait

ROOT = Path(__file__).resolve().parents[1]
JSONC = (ROOT / "tests/fixtures/flowjson/profile-update-with-comments.fragment.jsonc").read_text(
    encoding="utf-8"
)
HOTEL = (ROOT / "flowsadmin/examples/hotel-feedback.static.flow.json").read_text(encoding="utf-8")


def paste(driver: WebDriver, text: str) -> None:
    """Replace the editor's text, as a paste does."""
    editor = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".CodeMirror")))
    driver.execute_script("arguments[0].CodeMirror.setValue(arguments[1])", editor, text)


def click(driver: WebDriver, xpath: str) -> None:
    wait(driver).until(EC.element_to_be_clickable((By.XPATH, xpath))).click()


def see(driver: WebDriver, text: str) -> None:
    """Wait for the text on the page; the page may be mid-navigation while we look."""

    def found(d: WebDriver) -> bool:
        try:
            return text in d.find_element(By.TAG_NAME, "main").text
        except WebDriverException:  # the old document went away under us: look again
            return False

    wait(driver).until(found)


def test_a_marketer_fixes_a_pasted_flow_publishes_previews_and_deprecates_it(
    live_server, browser, sandbox_waba, marketer
):
    base = live_server.url
    sign_in(browser, base, "bob")

    browser.get(f"{base}/flows/new/")
    browser.find_element(By.ID, "id_name").send_keys("Hotel feedback")
    browser.find_element(By.CSS_SELECTOR, "input[name=categories][value=SURVEY]").click()
    paste(browser, JSONC)
    click(browser, "//button[normalize-space()='Save as draft']")
    see(browser, "the JSON has a syntax error; fix it and save again.")

    comment_line = next(i for i, line in enumerate(JSONC.splitlines(), 1) if "//" in line)
    jump = browser.find_element(By.CSS_SELECTOR, "#flow-messages [data-jump-line]")
    assert jump.get_attribute("data-jump-line") == str(comment_line)
    assert "comment" in browser.find_element(By.ID, "flow-messages").text.lower()
    # The editor marks the same line in its gutter.
    marked = browser.execute_script(
        "const cm = document.querySelector('.CodeMirror').CodeMirror;"
        "const lines = []; cm.eachLine(h => { const info = cm.lineInfo(h);"
        " if (info.gutterMarkers) lines.push(info.line + 1); }); return lines;"
    )
    assert comment_line in marked
    screenshot(browser, "flow-jsonc-error.png")

    paste(browser, HOTEL)
    click(browser, "//button[normalize-space()='Save draft']")
    see(browser, "Hotel feedback saved as a draft on Meta.")
    flow = Flow.objects.get()
    assert flow.meta_flow_id and not flow.has_validation_errors

    # Publishing is on the Overview tab; saving keeps the marketer on the Flow JSON tab.
    click(browser, "//nav[@class='tabs']//a[normalize-space()='Overview']")
    click(browser, "//button[normalize-space()='Publish']")
    see(browser, "is published")
    screenshot(browser, "flow-published.png")

    click(browser, "//a[normalize-space()='Preview']")
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".pv-title")))
    first_title = browser.find_element(By.CSS_SELECTOR, ".pv-title").text
    click(browser, "//a[contains(@class, 'pv-button')]")
    wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, ".pv-title").text != first_title)
    assert "screen=RATE" in browser.current_url
    screenshot(browser, "flow-preview.png")

    click(browser, "//a[normalize-space()='Back to the flow']")
    click(browser, "//button[normalize-space()='Deprecate…']")
    see(browser, "This cannot be undone.")
    click(browser, "//button[normalize-space()='Yes, deprecate for good']")
    see(browser, "is deprecated")
    flow.refresh_from_db()
    assert flow.status == "DEPRECATED"
    screenshot(browser, "flow-deprecated.png")
