"""Browser tests' helpers: Debian's headless Chromium driven by Debian's chromedriver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output"
WAIT_SECONDS = 15

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


@pytest.fixture
def served_static(settings: object) -> None:
    """Let the live server find the collected, hashed static files, so htmx and the CSS load.

    Templates name files the way production does (app.<hash>.css, from collectstatic), but
    pytest-django's live server serves /static/ through the finders, which only know the unhashed
    sources: every script and stylesheet would 404 and the page would fall back to plain forms.
    Listing STATIC_ROOT as one more source directory lets the finders see the hashed copies.
    """
    settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, settings.STATIC_ROOT]


@pytest.fixture
def browser(tmp_path: Path, served_static: None) -> Iterator[WebDriver]:
    """Headless Chromium with a throwaway profile; no skip: a missing chromium fails the test."""
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # The console, where Chromium reports each Content-Security-Policy violation.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=Service(executable_path="/usr/bin/chromedriver"), options=options
    )
    try:
        yield driver
        violations = csp_violations(driver)
    finally:
        driver.quit()
    assert not violations, "The pages broke their Content-Security-Policy:\n" + "\n".join(
        violations
    )


def csp_violations(driver: WebDriver) -> list[str]:
    """The console messages since the last call that report a Content-Security-Policy violation."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def wait(driver: WebDriver) -> WebDriverWait:
    # An element found just before a navigation or an htmx swap goes stale: look again, don't fail.
    return WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,))


def sign_in(driver: WebDriver, base_url: str, username: str) -> None:
    """Sign in through the login page and wait until the Sign out button, there only for a
    signed-in user, shows that it worked."""
    from .conftest import PASSWORD  # here: conftest imports this module's fixtures

    driver.get(f"{base_url}/login/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait(driver).until(
        EC.presence_of_element_located((By.XPATH, "//button[starts-with(., 'Sign out')]"))
    )


def screenshot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / name))
