"""The dashboard in Debian's headless chromium (selenium + /usr/bin/chromedriver), loaded
from a real API over real uploads: it shows the API's numbers and draws the timeline.

Chromium missing is a failure, not a skip: CI installs `chromium chromium-driver` (apt).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import ROOT
from tests.integration.conftest import TOKENS
from tests.integration.test_api import World, build_world

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
WAIT_SECONDS = 30
# Flags that work as root in a sandbox with no network beyond loopback.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server with real uploads and the API over its database."""
    with build_world(tmp_path_factory.mktemp("dashboard")) as built:
        yield built


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Debian chromium with a fresh profile."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{missing} missing: apt-get install -y chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(browser: WebDriver, world: World, token: str) -> None:
    """Open the dashboard, paste the token and wait until the page has loaded its data."""
    browser.get(world.api.url + "/")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "sign-in").click()
    wait_ready(browser)


def wait_ready(browser: WebDriver) -> None:
    """Wait until the page's last load finished (ready) or failed (error)."""
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: (
            b.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("ready", "error")
        )
    )
    message = browser.find_element(By.ID, "message")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready", (
        message.text
    )


def shown_levels(browser: WebDriver) -> dict[str, int]:
    """The level cards: level -> count as shown."""
    cards = browser.find_elements(By.CSS_SELECTOR, "#levels .level")
    return {
        card.get_attribute("data-level") or "": int(
            card.find_element(By.CLASS_NAME, "value").text.replace(",", "")
        )
        for card in cards
    }


def test_dashboard_shows_the_api_numbers_and_draws_the_timeline(
    world: World, browser: WebDriver
) -> None:
    stats = world.api.ok("/logs/stats", n=5)
    sign_in(browser, world, TOKENS["alice"])

    assert shown_levels(browser) == stats["levels"]
    assert browser.find_element(By.ID, "entries").text.replace(",", "") == str(stats["entries"])
    assert browser.find_element(By.ID, "whoami").text == "signed in as alice"
    assert browser.find_element(By.ID, "uploads-count").text == str(stats["uploads"])
    first = browser.find_element(By.CSS_SELECTOR, "#errors tbody tr")
    top = stats["top_errors"][0]
    assert first.get_attribute("data-template-id") == top["template_id"]
    assert first.find_element(By.CLASS_NAME, "template").text == top["template"]
    assert top["example"] in first.find_element(By.CLASS_NAME, "example").text
    assert first.find_element(By.CLASS_NAME, "count").text.replace(",", "") == str(top["count"])

    reasons = browser.find_elements(By.CSS_SELECTOR, "#rejected tbody tr")
    assert [r.get_attribute("data-reason") for r in reasons] == list(stats["rejected"])
    uploads = browser.find_elements(By.CSS_SELECTOR, "#uploads tbody tr")
    assert len(uploads) == len(world.ids)

    marks = browser.find_elements(By.CSS_SELECTOR, "#chart svg rect.mark")
    assert len(marks) > 10
    heights = [float(m.get_attribute("height") or 0) for m in marks]
    assert max(heights) > 20, heights
    drawn = {m.get_attribute("data-level") for m in marks}
    legend = {
        k.get_attribute("data-level")
        for k in browser.find_elements(By.CSS_SELECTOR, "#legend .key")
    }
    assert drawn == legend == set(stats["levels"])
    axis_labels = browser.find_elements(By.CSS_SELECTOR, "#chart .x-axis text, #chart .y-axis text")
    assert len(axis_labels) >= 8

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = base64.b64decode(browser.get_screenshot_as_base64())
    assert png.startswith(b"\x89PNG")
    (ARTIFACTS / "dashboard.png").write_bytes(png)


def test_filters_narrow_the_numbers(world: World, browser: WebDriver) -> None:
    sign_in(browser, world, TOKENS["bob"])
    browser.find_element(By.ID, "f-operator").send_keys("bob")
    browser.find_element(By.ID, "apply").click()
    wait_ready(browser)
    assert shown_levels(browser) == world.api.ok("/logs/stats", operator="bob")["levels"]

    browser.find_element(By.ID, "clear").click()
    wait_ready(browser)
    python = str(world.ids[1])
    Select(browser.find_element(By.ID, "f-upload")).select_by_value(python)
    browser.find_element(By.ID, "apply").click()
    wait_ready(browser)
    assert shown_levels(browser) == world.api.ok("/logs/stats", upload=python)["levels"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#uploads tbody tr")
    assert [r.get_attribute("data-upload-id") for r in rows] == [python]


def test_time_range_filter(world: World, browser: WebDriver) -> None:
    sign_in(browser, world, TOKENS["alice"])
    report = world.reports["worker-python.log"]
    start = report["first_timestamp"][:16]  # its first minute, to the minute after its last
    end = (datetime.fromisoformat(report["last_timestamp"]) + timedelta(minutes=1)).isoformat()
    end = end[:16]
    for field, value in (("f-start", start), ("f-end", end)):
        browser.execute_script(f"document.getElementById('{field}').value = arguments[0]", value)
    browser.find_element(By.ID, "apply").click()
    wait_ready(browser)
    expected = world.api.ok("/logs/stats", start=f"{start}Z", end=f"{end}Z")
    assert expected["entries"] > 0
    assert shown_levels(browser) == expected["levels"]
    assert browser.find_elements(By.CSS_SELECTOR, "#chart svg rect.mark")


def test_a_wrong_token_is_refused(world: World, browser: WebDriver) -> None:
    browser.get(world.api.url + "/")
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.ID, "sign-in").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "error"
    )
    assert "Sign-in refused" in browser.find_element(By.ID, "message").text
    assert browser.find_element(By.ID, "token").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('loglens.token')") is None
