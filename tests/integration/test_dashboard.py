"""The dashboard in Debian's headless chromium (selenium + /usr/bin/chromedriver), loaded
from a real API over real uploads: it shows the API's numbers and draws the timeline; over
a service log with a known incident it shows the findings (anomalies, categories, trend,
what changed, alerts) as the API answers them.

Chromium missing is a failure, not a skip: CI installs `chromium chromium-driver` (apt).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from loglens.protocol import FrameType
from tests.conftest import ROOT
from tests.integration.conftest import TOKENS, ServerHandle
from tests.integration.test_anomalies_cli import write_service_log
from tests.integration.test_api import (
    ADMIN,
    ADMIN_TOKEN,
    UPLOADS,
    World,
    build_world,
    running_api,
)
from tests.integration.test_findings import service_log
from tests.integration.wire import upload

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
# Ten or more database errors within five minutes: the incident of write_service_log.
RULES = """
[[rule]]
name = "database errors"
level = ["ERROR", "CRITICAL"]
category = "database"
threshold = 10
window = "5m"
"""
INCIDENT_TEMPLATE = "Database connection to <*> failed"


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
    sign_in(browser, world, ADMIN_TOKEN)

    assert shown_levels(browser) == stats["levels"]
    assert browser.find_element(By.ID, "entries").text.replace(",", "") == str(stats["entries"])
    whoami = browser.find_element(By.ID, "whoami").text
    assert whoami == f"signed in as {ADMIN} (reads every operator's uploads)"
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
    sign_in(browser, world, ADMIN_TOKEN)
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
    sign_in(browser, world, ADMIN_TOKEN)
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


def test_an_operator_sees_only_its_own_uploads(world: World, browser: WebDriver) -> None:
    sign_in(browser, world, TOKENS["bob"])
    assert (
        browser.find_element(By.ID, "whoami").text == "signed in as bob (reads bob's uploads only)"
    )
    own = world.api.ok("/logs/stats", operator="bob")
    assert own["uploads"] == 2
    assert shown_levels(browser) == own["levels"] != world.api.ok("/logs/stats")["levels"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#uploads tbody tr")
    bobs = {
        str(i) for (operator, *_), i in zip(UPLOADS, world.ids, strict=True) if operator == "bob"
    }
    assert {r.get_attribute("data-upload-id") for r in rows} == bobs
    choices = browser.find_elements(By.CSS_SELECTOR, "#f-upload option[value]")
    assert {c.get_attribute("value") for c in choices} - {""} == bobs


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


# ---- the findings, over a service log with a known incident ---------------------------------


def send(server: ServerHandle, path: Path, name: str) -> int:
    """Upload `path` as `name` and wait for its analysis; return the upload id."""
    frames = asyncio.run(
        upload(server.address, TOKENS["alice"], path.read_bytes(), name=name, wait=True)
    )
    assert frames[-1].type is FrameType.PROCESSED, frames[-1]
    assert (frames[-1].body or {})["state"] == "done", frames[-1].body
    return int(frames[0].field("upload_id"))


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server with an alert rule and two uploads of service.log: the same three hours
    without, then with a burst of database errors; the API over its database."""
    root = tmp_path_factory.mktemp("findings")
    rules = root / "rules.toml"
    rules.write_text(RULES)
    after = root / "after.log"
    write_service_log(after)
    before = root / "before.log"
    lines = after.read_text().splitlines(keepends=True)
    before.write_text("".join(line for line in lines if "Database connection" not in line))
    (root / "server").mkdir()
    server = ServerHandle(root / "server", {"ALERT_RULES_FILE": str(rules)}).start()
    try:
        ids = [send(server, before, "service.log"), send(server, after, "service.log")]
        with running_api(server.db_path, root) as api:
            yield World(server, api, ids, {})
    finally:
        server.cleanup()


def wait_panel(browser: WebDriver, panel: str) -> WebElement:
    """Wait until the panel's last load finished (ready or error); return the panel."""
    section = browser.find_element(By.ID, panel)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: section.get_attribute("data-state") in ("ready", "error"),
        f"{panel} did not finish loading",
    )
    return section


def panel_ready(browser: WebDriver, panel: str) -> WebElement:
    """Wait for the panel and check it loaded without an error message."""
    section = wait_panel(browser, panel)
    message = section.find_element(By.CLASS_NAME, "panel-message")
    assert section.get_attribute("data-state") == "ready", message.text
    assert not message.is_displayed()
    return section


def reload_panel(browser: WebDriver, panel: str, action: Callable[[], Any]) -> WebElement:
    """Mark the panel stale, do `action()` (which must reload it), wait for the new answer."""
    browser.execute_script("document.getElementById(arguments[0]).dataset.state = 'stale'", panel)
    action()
    return wait_panel(browser, panel)


def choose(browser: WebDriver, select: str, value: str) -> Callable[[], None]:
    """An action: pick `value` in the select `select`."""
    return lambda: Select(browser.find_element(By.ID, select)).select_by_value(value)


def number(text: str) -> int:
    """A count as the dashboard shows it (1,234)."""
    return int(text.replace(",", ""))


def drawn_points(browser: WebDriver) -> dict[tuple[str, str], int]:
    """The trend's dots: (key, bucket) -> count."""
    return {
        (dot.get_attribute("data-key") or "", dot.get_attribute("data-bucket") or ""): int(
            dot.get_attribute("data-count") or 0
        )
        for dot in browser.find_elements(By.CSS_SELECTOR, "#trend-chart circle.point")
    }


def api_points(trend: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The API's trend points as the dashboard marks them (milliseconds in ISO-8601)."""
    points = {}
    for point in trend["points"]:
        at = datetime.fromisoformat(point["bucket"].replace("Z", "+00:00"))
        points[(point["key"], at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))] = point["count"]
    return points


def test_anomalies_panel_explains_the_incident_and_marks_the_timeline(
    incident: World, browser: WebDriver
) -> None:
    answer = incident.api.ok("/anomalies", limit=100)
    # The burst's spike (another compares the upload with the earlier one of its source).
    spikes = [
        a
        for a in answer["items"]
        if a["kind"] == "error_spike" and INCIDENT_TEMPLATE in a["explanation"]
    ]
    assert len(spikes) == 1, answer["items"]
    spike = spikes[0]
    index = answer["items"].index(spike)
    sign_in(browser, incident, TOKENS["alice"])
    panel = panel_ready(browser, "anomalies-panel")

    rows = panel.find_elements(By.CSS_SELECTOR, "#anomalies tbody tr")
    assert [r.get_attribute("data-kind") for r in rows] == [a["kind"] for a in answer["items"]]
    row = rows[index]
    assert row.find_element(By.CLASS_NAME, "explanation").text == spike["explanation"]
    assert row.find_element(By.CLASS_NAME, "score").text == f"{spike['score']:.1f}"
    example = spike["examples"][0]
    assert (
        f"{example['file']}:{example['line']}" in row.find_element(By.CLASS_NAME, "examples").text
    )
    assert f"upload #{spike['upload_id']}" in row.text
    assert spike["start"][11:16] in row.find_element(By.CLASS_NAME, "when").text

    # The spike's window is shaded on the timeline where the ERROR bars are.
    marks = browser.find_elements(By.CSS_SELECTOR, "#chart g.anomaly-window")
    assert len(marks) == len(answer["items"])
    mark = next(m for m in marks if m.get_attribute("data-index") == str(index))
    shade = mark.find_element(By.CSS_SELECTOR, "rect.shade")
    left = float(shade.get_attribute("x") or 0)
    right = left + float(shade.get_attribute("width") or 0)
    errors = browser.find_elements(By.CSS_SELECTOR, "#chart rect.mark[data-level='ERROR']")
    centres = [
        float(b.get_attribute("x") or 0) + float(b.get_attribute("width") or 0) / 2 for b in errors
    ]
    assert errors and any(left <= c <= right for c in centres), (left, right, centres)

    # Filters: a kind, a score no anomaly reaches, and a refused score said in the panel.
    reload_panel(browser, "anomalies-panel", choose(browser, "a-kind", "error_spike"))
    rows = panel.find_elements(By.CSS_SELECTOR, "#anomalies tbody tr")
    only = incident.api.ok("/anomalies", kind="error_spike")["items"]
    assert [r.get_attribute("data-kind") for r in rows] == ["error_spike"] * len(only)
    assert [r.find_element(By.CLASS_NAME, "explanation").text for r in rows] == [
        a["explanation"] for a in only
    ]
    score = browser.find_element(By.ID, "a-min-score")
    reload_panel(browser, "anomalies-panel", lambda: score.send_keys("1000000", Keys.TAB))
    assert "No anomalies match" in panel.find_element(By.ID, "anomalies").text
    score.clear()
    reload_panel(browser, "anomalies-panel", lambda: score.send_keys("-1", Keys.TAB))
    assert panel.get_attribute("data-state") == "error"
    message = panel.find_element(By.CLASS_NAME, "panel-message")
    assert message.is_displayed()
    assert message.text.startswith("The request was refused: min_score"), message.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#chart g.anomaly-window")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"


def test_categories_and_trend_show_the_api_numbers(incident: World, browser: WebDriver) -> None:
    sign_in(browser, incident, TOKENS["alice"])
    categories = incident.api.ok("/categories")["items"]
    assert any(c["category"] == "database" for c in categories)
    panel = panel_ready(browser, "categories-panel")
    bars = panel.find_elements(By.CSS_SELECTOR, ".hbar")
    shown = [
        (b.get_attribute("data-category"), number(b.find_element(By.CLASS_NAME, "count").text))
        for b in bars
    ]
    assert shown == [(c["category"], c["count"]) for c in categories]

    # The trend per level at the minute, then a category's and a template's, as clicked.
    trend_panel = panel_ready(browser, "trend-panel")
    reload_panel(browser, "trend-panel", choose(browser, "t-bucket", "minute"))
    panel_ready(browser, "trend-panel")
    levels = incident.api.ok("/trend", by="level", bucket="minute")
    assert drawn_points(browser) == api_points(levels)
    totals = {
        k.get_attribute("data-key"): number(k.find_element(By.CLASS_NAME, "total").text)
        for k in trend_panel.find_elements(By.CSS_SELECTOR, "#trend-legend .key")
    }
    assert totals == {k["key"]: k["count"] for k in levels["keys"]}

    database = next(b for b in bars if b.get_attribute("data-category") == "database")
    reload_panel(browser, "trend-panel", database.click)
    panel_ready(browser, "trend-panel")
    assert "selected" in (database.get_attribute("class") or "")
    trend = incident.api.ok("/trend", by="category", key="database", bucket="minute")
    assert trend["points"] and drawn_points(browser) == api_points(trend)
    assert "WARNING, ERROR, CRITICAL only" in browser.find_element(By.ID, "trend-note").text
    assert "category database" in browser.find_element(By.ID, "t-key").text

    top = incident.api.ok("/logs/stats", n=5)["top_errors"][0]
    assert top["template"] == INCIDENT_TEMPLATE
    row = browser.find_element(By.CSS_SELECTOR, "#errors tbody tr")
    reload_panel(browser, "trend-panel", row.click)
    panel_ready(browser, "trend-panel")
    trend = incident.api.ok("/trend", by="template", key=top["template_id"], bucket="minute")
    assert sum(trend_point for trend_point in drawn_points(browser).values()) == top["count"]
    assert drawn_points(browser) == api_points(trend)
    assert Select(browser.find_element(By.ID, "t-by")).first_selected_option.text == "template"


def test_what_changed_lists_the_template_that_appeared(incident: World, browser: WebDriver) -> None:
    before, after = incident.ids
    diff = incident.api.ok("/diff", a=before, b=after, top=10)
    appeared = [item["template_id"] for item in diff["appeared"]["items"]]
    assert [item["template"] for item in diff["appeared"]["items"]] == [INCIDENT_TEMPLATE]
    sign_in(browser, incident, TOKENS["alice"])

    # By default the newest upload against the one before it of the same file.
    panel = panel_ready(browser, "diff-panel")
    assert Select(browser.find_element(By.ID, "d-a")).first_selected_option.get_attribute(
        "value"
    ) == str(before)
    assert Select(browser.find_element(By.ID, "d-b")).first_selected_option.get_attribute(
        "value"
    ) == str(after)
    rows = panel.find_elements(By.CSS_SELECTOR, "#diff-appeared tbody tr")
    assert [r.get_attribute("data-template-id") for r in rows] == appeared
    assert rows[0].find_element(By.CLASS_NAME, "template").text == INCIDENT_TEMPLATE
    assert (
        number(rows[0].find_element(By.CLASS_NAME, "count").text)
        == diff["appeared"]["items"][0]["count_b"]
    )
    assert "None." in panel.find_element(By.ID, "diff-vanished").text
    changed = panel.find_elements(By.CSS_SELECTOR, "#diff-changed tbody tr")
    assert [r.get_attribute("data-template-id") for r in changed] == [
        item["template_id"] for item in diff["changed"]["items"]
    ]
    assert f"upload #{before}" in panel.find_element(By.ID, "diff-sides").text

    # Two windows of the later upload: the burst's hour against the hour before it.
    Select(browser.find_element(By.ID, "d-a")).select_by_value("window")
    Select(browser.find_element(By.ID, "d-b")).select_by_value("window")
    values = {"d-a-start": "2025-03-04T09:40", "d-a-end": "2025-03-04T10:40",
              "d-b-start": "2025-03-04T10:40", "d-b-end": "2025-03-04T11:40"}  # fmt: skip
    for field, value in values.items():
        browser.execute_script(f"document.getElementById('{field}').value = arguments[0]", value)
    reload_panel(browser, "diff-panel", browser.find_element(By.ID, "d-compare").click)
    panel_ready(browser, "diff-panel")
    windows = incident.api.ok(
        "/diff", a="2025-03-04T09:40:00Z..2025-03-04T10:40:00Z",
        b="2025-03-04T10:40:00Z..2025-03-04T11:40:00Z", top=10,
    )  # fmt: skip
    rows = panel.find_elements(By.CSS_SELECTOR, "#diff-appeared tbody tr")
    assert [r.get_attribute("data-template-id") for r in rows] == [
        item["template_id"] for item in windows["appeared"]["items"]
    ]
    assert appeared[0] in [r.get_attribute("data-template-id") for r in rows]

    # A window with neither end is refused by the API: the panel says why.
    for field in values:
        browser.execute_script(f"document.getElementById('{field}').value = ''")
    reload_panel(browser, "diff-panel", browser.find_element(By.ID, "d-compare").click)
    message = panel.find_element(By.CLASS_NAME, "panel-message")
    assert panel.get_attribute("data-state") == "error"
    assert "gives neither a start nor an end" in message.text, message.text
    assert not browser.find_element(By.ID, "diff-result").is_displayed()


def test_alerts_panel_shows_the_incident(incident: World, browser: WebDriver) -> None:
    answer = incident.api.ok("/alerts")
    alerts = [a for a in answer["alerts"] if a["rule"] == "database errors"]
    assert len(alerts) == 1, answer
    alert = alerts[0]
    sign_in(browser, incident, TOKENS["alice"])
    panel = panel_ready(browser, "alerts-panel")
    rows = panel.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")
    assert [int(r.get_attribute("data-alert-id") or 0) for r in rows] == [
        a["id"] for a in answer["alerts"]
    ]
    row = next(r for r in rows if r.get_attribute("data-rule") == "database errors")
    assert row.get_attribute("data-state") == alert["state"]
    assert row.find_element(By.CLASS_NAME, "message-text").text == alert["message"]
    assert alert["source"] in row.text and "no webhook" in row.text
    assert alert["window_start"][11:16] in row.find_element(By.CLASS_NAME, "when").text
    firing = sum(a["state"] == "firing" for a in answer["alerts"])
    assert browser.find_element(By.ID, "alerts-count").text.startswith(f"{firing} firing")

    # Everything loaded: a screenshot of the whole page, to look at.
    for panel_id in ("anomalies-panel", "categories-panel", "trend-panel", "diff-panel"):
        panel_ready(browser, panel_id)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, int(height) + 120)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = base64.b64decode(browser.get_screenshot_as_base64())
    assert png.startswith(b"\x89PNG")
    (ARTIFACTS / "dashboard-findings.png").write_bytes(png)

    resolved = incident.api.ok("/alerts", state="resolved")["alerts"]
    assert resolved
    reload_panel(browser, "alerts-panel", choose(browser, "al-state", "resolved"))
    panel_ready(browser, "alerts-panel")
    rows = panel.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")
    assert [(r.get_attribute("data-alert-id"), r.get_attribute("data-state")) for r in rows] == [
        (str(a["id"]), "resolved") for a in resolved
    ]


def test_api_docs_render_every_operation_offline(world: World, browser: WebDriver) -> None:
    spec = world.api.get("/openapi.json", token=None).body
    assert spec["openapi"].startswith("3.1")
    operations = {
        f"{method.upper()} {path}" for path, methods in spec["paths"].items() for method in methods
    }
    page = world.api.get("/docs", token=None)
    assert page.status == 200
    # Every script, style and icon comes from this API: no CDN.
    links = re.findall(r'(?:src|href)="([^"]*)"', page.body)
    assert links and all(link.startswith("/docs-assets/") for link in links), links
    browser.get(world.api.url + "/docs")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: (
            b.find_elements(By.CSS_SELECTOR, ".opblock")
            or b.find_elements(By.CSS_SELECTOR, ".errors-wrapper")
        )
    )
    assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper"), browser.find_element(
        By.CSS_SELECTOR, ".errors-wrapper"
    ).text
    shown = {
        " ".join(
            (
                block.find_element(By.CLASS_NAME, "opblock-summary-method").text,
                block.find_element(By.CLASS_NAME, "opblock-summary-path").get_attribute("data-path")
                or "",
            )
        )
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }
    assert shown == operations
    assert "loglens API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert "does not specify a valid version field" not in browser.page_source


def test_alerts_reach_only_the_operator_of_their_uploads(incident: World) -> None:
    everything = incident.api.ok("/alerts")
    assert everything["total"] >= 1
    alices = incident.api.get("/alerts", token=TOKENS["alice"]).body
    assert alices == everything  # alice sent both uploads
    bobs = incident.api.get("/alerts", token=TOKENS["bob"]).body
    assert (bobs["total"], bobs["alerts"]) == (0, [])


def test_incidents_come_first_collapsed_and_open_to_their_findings(
    incident: World, browser: WebDriver
) -> None:
    answer = incident.api.ok("/incidents", limit=10, findings=50)
    assert answer["total"] >= 1
    burst = next(i for i in answer["items"] if INCIDENT_TEMPLATE in i["title"])
    sign_in(browser, incident, TOKENS["alice"])
    panel = panel_ready(browser, "incidents-panel")
    # Before every other findings panel: the alerts and the anomaly rows.
    order = browser.execute_script(
        "return [...document.querySelectorAll('section.panel')].map(s => s.id)"
    )
    assert order.index("incidents-panel") < order.index("anomalies-panel")
    assert order[0] == "incidents-panel", order
    panel_ready(browser, "anomalies-panel")
    top = panel.location["y"]
    assert top < browser.find_element(By.ID, "anomalies-panel").location["y"]

    items = panel.find_elements(By.CSS_SELECTOR, "#incidents details.incident")
    assert [i.get_attribute("data-incident") for i in items] == [
        i["incident_id"] for i in answer["items"]
    ]
    assert not any(i.get_attribute("open") for i in items)  # collapsed
    assert not panel.find_elements(By.CSS_SELECTOR, ".incident-body")
    shown = items[answer["items"].index(burst)]
    assert shown.find_element(By.CLASS_NAME, "title").text == burst["title"]
    assert shown.find_element(By.CLASS_NAME, "score").text == f"{burst['score']:.1f}"
    count = burst["finding_count"]
    assert f"{count} finding{'s' if count != 1 else ''}" in shown.text
    page = browser.find_element(By.ID, "incidents-page").text
    assert page == f"1–{len(items)} of {answer['total']}"
    assert browser.find_element(By.ID, "incidents-next").get_attribute("disabled") == (
        "true" if answer["total"] <= 10 else None
    )

    # Opened: what changed, then each finding explained with where to look.
    shown.find_element(By.TAG_NAME, "summary").click()
    body = shown.find_element(By.CLASS_NAME, "incident-body")
    rows = body.find_elements(By.CSS_SELECTOR, "table.findings tbody tr")
    assert [r.find_element(By.CLASS_NAME, "explanation").text for r in rows] == [
        f["explanation"] for f in burst["findings"]
    ]
    first = burst["findings"][0]["examples"][0]
    assert (
        f"{first['file']}:{first['line']}" in rows[0].find_element(By.CLASS_NAME, "examples").text
    )
    if burst["templates"]:
        assert burst["templates"][0]["template"] in body.find_element(By.CLASS_NAME, "changed").text

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 120, 2400))
    png = base64.b64decode(browser.get_screenshot_as_base64())
    assert png.startswith(b"\x89PNG")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "dashboard-incidents.png").write_bytes(png)

    # A finding leads to its template's trend, as an anomaly row does.
    reload_panel(browser, "trend-panel", rows[0].click)
    panel_ready(browser, "trend-panel")
    assert Select(browser.find_element(By.ID, "t-by")).first_selected_option.text == "template"
    assert browser.find_element(By.ID, "t-key").is_displayed()
    keys = browser.find_elements(By.CSS_SELECTOR, "#trend-legend .key")
    [key] = {k.get_attribute("data-key") for k in keys}
    assert key == burst["findings"][0]["template_ids"][0]


def test_the_live_view_follows_new_uploads_without_a_reload(
    browser: WebDriver, tmp_path: Path
) -> None:
    # A server and API of its own: this test uploads while the page is open.
    server = ServerHandle(tmp_path / "server", {})
    server.root.mkdir(parents=True)
    quiet = service_log(tmp_path / "quiet" / "svc.log", spike=False)
    burst = service_log(tmp_path / "burst" / "svc.log", spike=True)
    try:
        server.start()
        send(server, quiet, "svc.log")
        with running_api(server.db_path, tmp_path) as api:
            assert api.url is not None
            browser.get(api.url + "/")
            browser.find_element(By.ID, "token").send_keys(TOKENS["alice"])
            browser.find_element(By.ID, "sign-in").click()
            wait_ready(browser)
            assert browser.find_element(By.ID, "uploads-count").text == "1"
            browser.find_element(By.ID, "live-toggle").click()
            status = browser.find_element(By.ID, "live-status")
            WebDriverWait(browser, WAIT_SECONDS).until(lambda _b: "following" in status.text)
            marker = browser.execute_script("window.notReloaded = true; return 1;")
            assert marker == 1

            send(server, burst, "svc.log")  # alice's; a burst of database errors
            WebDriverWait(browser, WAIT_SECONDS).until(
                lambda b: b.find_element(By.ID, "uploads-count").text == "2"
            )
            items = browser.find_element(By.ID, "live-events")
            WebDriverWait(browser, WAIT_SECONDS).until(lambda _b: "incident" in items.text)
            assert "svc.log" in items.text and "+" in status.text and "ERROR" in status.text
            # The same page, not a reload: the mark set before the upload is still there.
            assert browser.execute_script("return window.notReloaded === true;")
            stats = api.ok("/logs/stats", token=TOKENS["alice"])
            assert browser.find_element(By.ID, "entries").text.replace(",", "") == str(
                stats["entries"]
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            png = base64.b64decode(browser.get_screenshot_as_base64())
            (ARTIFACTS / "dashboard-live.png").write_bytes(png)
            browser.find_element(By.ID, "live-toggle").click()
            WebDriverWait(browser, WAIT_SECONDS).until(lambda _b: status.text == "off")
    finally:
        server.cleanup()
