"""The encryption keys panel in a real browser: Debian's headless Chromium against the live server."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from wabas.models import Waba

from .browser import screenshot, sign_in, wait
from .conftest import PASSWORD


def sign_in_and_open_flows(driver: WebDriver, base_url: str) -> None:
    sign_in(driver, base_url, "alice")
    driver.get(f"{base_url}/flows/")
    wait(driver).until(EC.presence_of_element_located((By.ID, "key-panel")))


def enter_password_and_reveal(driver: WebDriver, password: str) -> None:
    label = driver.find_element(By.XPATH, "//label[contains(., 'Re-enter your password')]")
    driver.find_element(By.ID, label.get_attribute("for")).send_keys(password)
    driver.find_element(By.XPATH, "//button[normalize-space()='Reveal private key']").click()


def key_access_log_rows(driver: WebDriver, base_url: str) -> list[list[str]]:
    driver.get(f"{base_url}/settings/wabas/key-access-log/")
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "main table tbody")))
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    ]


def test_an_admin_reveals_the_private_key_with_their_password(
    live_server: object, browser: WebDriver, admin_user: object, waba: Waba
) -> None:
    base_url = live_server.url
    sign_in_and_open_flows(browser, base_url)

    # The keys panel is the first card on the Flows page, above the flow table.
    first_card = browser.find_element(By.CSS_SELECTOR, "main section.card")
    assert first_card.get_attribute("id") == "key-panel"
    panel_top = first_card.location["y"]
    assert panel_top < browser.find_element(By.ID, "flow-table").location["y"]
    assert "Encryption keys · Hotel Azul" in first_card.text
    fingerprint = browser.find_element(By.ID, "key-fingerprint")
    assert fingerprint.text == waba.key_pair.fingerprint
    assert fingerprint.is_displayed()

    # Hidden until the password is re-entered: only the mask is on the page, none of the key.
    private_pem = waba.key_pair.private_pem
    assert browser.find_elements(By.ID, f"private-key-{waba.pk}") == []
    assert browser.find_element(By.CSS_SELECTOR, "[aria-label='Private key hidden']").is_displayed()
    assert private_pem.splitlines()[1] not in browser.page_source
    screenshot(browser, "keys-panel-hidden.png")

    enter_password_and_reveal(browser, PASSWORD)
    textarea = wait(browser).until(
        EC.visibility_of_element_located((By.ID, f"private-key-{waba.pk}"))
    )
    assert textarea.get_property("value") == private_pem
    # htmx swapped the panel in place: the browser is still on the Flows page.
    assert browser.current_url == f"{base_url}/flows/"
    screenshot(browser, "keys-panel-revealed.png")

    rows = key_access_log_rows(browser, base_url)
    screenshot(browser, "key-access-log-revealed.png")
    assert len(rows) == 1
    _when, who, waba_name, what, result, _from = rows[0]
    assert (who, waba_name, what, result) == ("alice", "Hotel Azul", "Revealed", "Allowed")


def test_a_wrong_password_keeps_the_key_hidden_and_is_logged(
    live_server: object, browser: WebDriver, admin_user: object, waba: Waba
) -> None:
    base_url = live_server.url
    sign_in_and_open_flows(browser, base_url)

    enter_password_and_reveal(browser, "not my password")
    wait(browser).until(
        EC.text_to_be_present_in_element((By.ID, "key-panel"), "That is not your password")
    )
    alert = browser.find_element(By.CSS_SELECTOR, "#key-panel [role=alert]")
    assert alert.text == "That is not your password. The key stays hidden."
    assert browser.find_elements(By.ID, f"private-key-{waba.pk}") == []
    assert waba.key_pair.private_pem.splitlines()[1] not in browser.page_source
    assert browser.current_url == f"{base_url}/flows/"
    screenshot(browser, "keys-panel-wrong-password.png")

    rows = key_access_log_rows(browser, base_url)
    screenshot(browser, "key-access-log-refused.png")
    assert len(rows) == 1
    _when, who, waba_name, what, result, _from = rows[0]
    # Refused: nothing was revealed, and the log doesn't say it was.
    assert (who, waba_name, what) == ("alice", "Hotel Azul", "Tried to reveal")
    assert result == "Refused: wrong password"
    assert "Revealed" not in browser.find_element(By.CSS_SELECTOR, "main table").text
    browser.set_window_size(400, 900)
    screenshot(browser, "key-access-log-refused-400.png")


def test_an_empty_password_is_refused_in_the_browser_before_it_is_sent(
    live_server: object, browser: WebDriver, admin_user: object, waba: Waba
) -> None:
    base_url = live_server.url
    sign_in_and_open_flows(browser, base_url)
    label = browser.find_element(By.XPATH, "//label[contains(., 'Re-enter your password')]")
    field = browser.find_element(By.ID, label.get_attribute("for"))
    # Count what reaches the server: htmx announces each request it sends.
    browser.execute_script(
        "window.sent = 0; document.body.addEventListener('htmx:beforeSend', () => window.sent++);"
    )

    browser.find_element(By.XPATH, "//button[normalize-space()='Reveal private key']").click()
    wait(browser).until(lambda d: d.execute_script("return document.activeElement") == field)
    assert browser.execute_script("return window.sent") == 0
    assert field.get_property("validationMessage")  # the browser says the field is required
    screenshot(browser, "keys-panel-empty-password.png")
    # The download button is a plain submit: the browser stops it too, and the page stays.
    browser.find_element(By.XPATH, "//button[normalize-space()='Download private key']").click()
    assert browser.current_url == f"{base_url}/flows/"
    assert browser.execute_script("return window.sent") == 0

    assert key_access_log_rows(browser, base_url) == [["No one has revealed a private key yet."]]
