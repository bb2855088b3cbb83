"""The Flow JSON editor (CodeMirror 5, static/js/flow-editor.js) in headless Chromium.

The Flow editing page does not exist yet, so each test writes a small page of its own into a
temporary directory that the live server serves as static files, next to the real, collected
(hashed) CodeMirror, htmx and flow-editor files, linked the way a template's {% static %} would.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.templatetags.static import static
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC

from .browser import screenshot, wait

FLOW_JSON = """{
  "version": "7.2",
  "screens": [
    {
      "id": "welcome",
      "title": "Welcome",
      "layout": {
        "type": "SingleColumnLayout",
        "children": []
      }
    }
  ]
}"""
MESSAGES = [
    {
        "line": 5,
        "column": 13,
        "level": "error",
        "message": "Screen id welcome must be upper case: write WELCOME.",
    },
    {
        "line": 9,
        "column": 9,
        "level": "warning",
        "message": "The screen has no components.",
    },
]
CODEMIRROR = [
    "vendor/codemirror/lib/codemirror.js",
    "vendor/codemirror/mode/javascript/javascript.js",
    "vendor/codemirror/addon/edit/matchbrackets.js",
    "vendor/codemirror/addon/edit/closebrackets.js",
]
PAGES_PREFIX = "flow-editor-test-pages"


def page_html(body: str, *, with_codemirror: bool = True) -> str:
    """A page linking the static files as a template would, recording any script error."""
    styles = ["css/app.css", "vendor/codemirror/lib/codemirror.css", "css/flow-editor.css"]
    scripts = [
        "django_htmx/htmx-2.min.js",
        *(CODEMIRROR if with_codemirror else []),
        "js/flow-editor.js",
    ]
    links = "".join(f'<link rel="stylesheet" href="{static(name)}">' for name in styles)
    tags = "".join(f'<script src="{static(name)}" defer></script>' for name in scripts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Flow editor test</title>"
        "<script>window.pageErrors = [];"
        'addEventListener("error", (e) => pageErrors.push(String(e.message)));</script>'
        f"{links}{tags}</head><body><main>{body}</main></body></html>"
    )


def editor_form(text: str = FLOW_JSON, messages: list[dict] | None = None) -> str:
    """The markup contract of the editor: the textarea, its messages, and links to their lines."""
    messages = MESSAGES if messages is None else messages
    items = "".join(
        f'<li><a href="#flow-json" data-jump-line="{m["line"]}" data-jump-column="{m["column"]}">'
        f"Line {m['line']}</a> {html.escape(m['message'])}</li>"
        for m in messages
    )
    return (
        '<form method="get" action="">'
        '<label for="flow-json">Flow JSON</label>'
        '<textarea id="flow-json" name="flow_json" data-flow-editor required '
        f'data-messages="{html.escape(json.dumps(messages))}">{html.escape(text)}</textarea>'
        '<button type="submit" id="save">Save draft</button></form>'
        f'<ul id="messages">{items}'
        '<li><a href="#flow-json" data-jump-line="9" data-jump-column="22">Line 9, in []</a></li>'
        '<li><a href="#flow-json" data-jump-line="1" data-jump-column="2">Line 1, after {</a></li>'
        '<li><a href="#flow-json" data-jump-line="2" data-jump-column="1">Line 2</a></li>'
        '<li><span id="plain-jump" data-jump-line="3" data-jump-column="3">Line 3</span></li>'
        "</ul>"
    )


@pytest.fixture
def serve_page(settings: object, tmp_path: Path, live_server: object) -> Callable[[str, str], str]:
    """Write a page under /static/flow-editor-test-pages/ and return its live URL."""
    pages = tmp_path / "pages"
    pages.mkdir()
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, (PAGES_PREFIX, pages)]

    def serve(name: str, content: str) -> str:
        (pages / name).write_text(content)
        return f"{live_server.url}/static/{PAGES_PREFIX}/{name}"

    return serve


def open_editor_page(driver: WebDriver, url: str) -> WebElement:
    driver.get(url)
    return wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".CodeMirror")))


def cursor(driver: WebDriver) -> tuple[int, int]:
    """The caret as CodeMirror holds it: 0-based line and character."""
    pos = driver.execute_script(
        "return document.querySelector('.CodeMirror').CodeMirror.getCursor();"
    )
    return pos["line"], pos["ch"]


def focus_is_in_editor(driver: WebDriver) -> bool:
    return driver.execute_script("return !!document.activeElement.closest('.CodeMirror');")


def line_number_beside(driver: WebDriver, element: WebElement) -> str:
    """The line number the user sees on the same editor line as element."""
    return driver.execute_script(
        "const line = arguments[0].closest('.CodeMirror-code > div');"
        "return line.querySelector('.CodeMirror-linenumber').textContent;",
        element,
    )


def textarea_value(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "flow-json").get_property("value")


def test_the_textarea_becomes_an_editor_with_line_numbers_and_message_markers(
    browser: WebDriver, serve_page: Callable[[str, str], str]
) -> None:
    editor = open_editor_page(browser, serve_page("editor.html", page_html(editor_form())))

    assert not browser.find_element(By.ID, "flow-json").is_displayed()
    numbers = [e.text for e in editor.find_elements(By.CSS_SELECTOR, ".CodeMirror-linenumber")]
    assert numbers == [str(n) for n in range(1, 14)]
    assert "monospace" in editor.value_of_css_property("font-family")
    lines = [e.text for e in editor.find_elements(By.CSS_SELECTOR, "pre.CodeMirror-line")]
    assert lines == FLOW_JSON.splitlines()

    hint = browser.find_element(By.CSS_SELECTOR, ".flow-editor-hint")
    assert hint.text == "Tab indents. To leave the editor, press Esc, then Tab."
    editable = editor.find_element(By.CSS_SELECTOR, "[contenteditable=true]")
    assert editable.get_attribute("aria-label") == "Flow JSON"
    assert editable.get_attribute("aria-describedby") == hint.get_attribute("id")
    assert editable.get_attribute("aria-required") == "true"

    error = editor.find_element(By.CSS_SELECTOR, ".flow-editor-marker-error")
    assert line_number_beside(browser, error) == "5"
    assert error.get_attribute("title") == f"Error: {MESSAGES[0]['message']}"
    warning = editor.find_element(By.CSS_SELECTOR, ".flow-editor-marker-warning")
    assert line_number_beside(browser, warning) == "9"
    assert warning.get_attribute("title") == f"Warning: {MESSAGES[1]['message']}"
    tinted = editor.find_element(By.CSS_SELECTOR, ".flow-editor-line-error")
    assert line_number_beside(browser, tinted) == "5"

    # Clicking the label focuses the editor, as it would focus a plain textarea.
    browser.find_element(By.CSS_SELECTOR, "label[for=flow-json]").click()
    assert focus_is_in_editor(browser)
    assert browser.execute_script("return pageErrors;") == []

    # On a phone: 16px text (no zoom on focus) and nothing wider than the screen.
    browser.set_window_size(390, 844)
    wait(browser).until(lambda d: editor.value_of_css_property("font-size") == "16px")
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;"
    )
    screenshot(browser, "flow-editor-phone.png")


def test_typing_jumping_brackets_tab_and_submit_in_the_editor(
    browser: WebDriver, serve_page: Callable[[str, str], str]
) -> None:
    url = serve_page("editor.html", page_html(editor_form()))
    editor = open_editor_page(browser, url)

    # A message link puts the caret on its line and column and focuses the editor.
    browser.find_element(By.LINK_TEXT, "Line 1, after {").click()
    assert cursor(browser) == (0, 1)
    assert focus_is_in_editor(browser)
    assert urlparse(browser.current_url).fragment == ""
    # The caret is after the opening brace: its partner on line 13 is highlighted too.
    matched = wait(browser).until(
        lambda d: (
            len(found := d.find_elements(By.CSS_SELECTOR, ".CodeMirror-matchingbracket")) == 2
            and found
        )
    )
    assert [line_number_beside(browser, m) for m in matched] == ["1", "13"]
    assert [m.text for m in matched] == ["{", "}"]

    # Typing between the brackets of line 9: quotes and braces close themselves.
    browser.find_element(By.LINK_TEXT, "Line 9, in []").click()
    assert cursor(browser) == (8, 21)
    ActionChains(browser).send_keys('{"type": "TextBody').perform()
    typed_line = '        "children": [{"type": "TextBody"}]'
    wait(browser).until(lambda d: textarea_value(d).splitlines()[8] == typed_line)

    # Tab indents by two spaces and keeps the focus in the editor.
    browser.find_element(By.LINK_TEXT, "Line 2").click()
    ActionChains(browser).send_keys(Keys.TAB).perform()
    wait(browser).until(lambda d: textarea_value(d).splitlines()[1] == '    "version": "7.2",')
    assert focus_is_in_editor(browser)
    expected = "\n".join(
        {1: '    "version": "7.2",', 8: typed_line}.get(n, line)
        for n, line in enumerate(FLOW_JSON.splitlines())
    )
    assert textarea_value(browser) == expected
    assert "flow-editor-marker-error" in editor.get_attribute("innerHTML")
    screenshot(browser, "flow-editor.png")

    # Esc then Tab leaves the editor for the next control, the submit button; Enter submits.
    ActionChains(browser).send_keys(Keys.ESCAPE).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "save"
    assert browser.execute_script("return pageErrors;") == []
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser).until(lambda d: "flow_json=" in d.current_url)
    # Browsers send line breaks in form fields as CRLF.
    submitted = parse_qs(urlparse(browser.current_url).query)["flow_json"][0]
    assert submitted.replace("\r\n", "\n") == expected


def test_without_codemirror_the_textarea_and_message_links_still_work(
    browser: WebDriver, serve_page: Callable[[str, str], str]
) -> None:
    browser.get(serve_page("plain.html", page_html(editor_form(), with_codemirror=False)))
    textarea = wait(browser).until(EC.visibility_of_element_located((By.ID, "flow-json")))
    wait(browser).until(lambda d: d.execute_script("return !!window.flowEditor;"))
    assert browser.find_elements(By.CSS_SELECTOR, ".CodeMirror") == []
    assert "monospace" in textarea.value_of_css_property("font-family")

    # A message that is not a link is made keyboard operable, and puts the caret in the textarea.
    plain = browser.find_element(By.ID, "plain-jump")
    assert (plain.get_attribute("tabindex"), plain.get_attribute("role")) == ("0", "button")
    plain.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "flow-json"
    offset = FLOW_JSON.index('  "screens"') + 2
    assert textarea.get_property("selectionStart") == offset
    textarea.send_keys("x")
    assert textarea.get_property("value").splitlines()[2] == '  x"screens": ['
    assert browser.execute_script("return pageErrors;") == []


def test_an_editor_swapped_in_by_htmx_is_upgraded_with_its_markers(
    browser: WebDriver, serve_page: Callable[[str, str], str]
) -> None:
    fragment = (
        '<label for="second-json">Second screen</label>'
        '<textarea id="second-json" name="second" data-flow-editor data-messages="'
        + html.escape(json.dumps([{"line": 2, "column": 3, "level": "warning", "message": "Hm."}]))
        + '">{\n  "a": 1\n}</textarea>'
    )
    serve_page("fragment.html", fragment)
    body = editor_form() + (
        '<button type="button" id="load" hx-get="fragment.html" hx-target="#slot">Load</button>'
        '<div id="slot"></div>'
    )
    open_editor_page(browser, serve_page("swap.html", page_html(body)))

    browser.find_element(By.ID, "load").click()
    second = wait(browser).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, "#slot .CodeMirror"))
    )
    marker = second.find_element(By.CSS_SELECTOR, ".flow-editor-marker-warning")
    assert line_number_beside(browser, marker) == "2"
    assert marker.get_attribute("title") == "Warning: Hm."
    # The first editor is not upgraded twice.
    assert len(browser.find_elements(By.CSS_SELECTOR, ".CodeMirror")) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, ".flow-editor-hint")) == 2
    assert browser.execute_script("return pageErrors;") == []
