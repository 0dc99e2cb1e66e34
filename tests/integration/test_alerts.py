"""Alerts for real: a server with ALERT_RULES_FILE and ALERT_WEBHOOK_URL pointing at a
receiver on loopback that is down at first, real uploads, `loglens alerts` subprocesses
and GET /alerts of a real API process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from loglens.protocol import FrameType
from tests.conftest import ROOT, SETTINGS
from tests.integration.conftest import TOKENS, ServerFactory, ServerHandle
from tests.integration.test_api import running_api
from tests.integration.wire import upload

TIMEOUT = 60.0
RULES = """
[[rule]]
name = "error burst"
level = "ERROR"
threshold = 10
window = "5m"

[[rule]]
name = "db connection errors"
level = "ERROR"
regex = "connection"
threshold = 5
window = "5m"

[[rule]]
name = "new error templates"
anomaly_score = 0
kind = "new_template"
"""
START = datetime(2024, 5, 1, 12, 0)


class Receiver:
    """A webhook receiver on loopback. Its port is bound at once but refuses connections
    (no listen) until `up()`; then it answers 204 to each POST and keeps its JSON body."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        """Listen on the bound port and serve in a thread."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test's output is not the place for access logs

        server = HTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = self._socket
        server.server_activate()  # listen(): connections are accepted from now on
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def events(self) -> list[tuple[int, str]]:
        """(alert id, event) of every POST so far, in order."""
        with self._lock:
            return [(int(body["id"]), str(body["event"])) for body in self.received]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        else:
            self._socket.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def log_lines(start: datetime, minutes: int, bursts: dict[int, int]) -> bytes:
    """Twenty INFO lines a minute (a log big enough to judge what is new in it), and
    `bursts[minute]` ERROR lines in those minutes."""
    lines = []
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        for k in range(20):
            stamp = (at + timedelta(seconds=k)).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{stamp},000 INFO web: request {k} served in {k + 3} ms")
        for k in range(bursts.get(minute, 0)):
            stamp = (at + timedelta(seconds=10 + k)).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{stamp},000 ERROR db: connection to db{k} failed")
    return ("\n".join(lines) + "\n").encode()


def rows(db_path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as db:
        return db.execute(sql, args).fetchall()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> None:
    """Poll `condition()` until it is true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def send(server: ServerHandle, data: bytes) -> int:
    """Upload `data` as app.log, wait for its analysis; return the blob id."""
    frames = asyncio.run(upload(server.address, TOKENS["alice"], data, name="app.log", wait=True))
    assert frames[-1].type is FrameType.PROCESSED, frames[-1]
    assert (frames[-1].body or {})["state"] == "done", frames[-1].body
    upload_id = int(frames[0].field("upload_id"))
    [(blob_id,)] = rows(server.db_path, "SELECT blob_id FROM uploads WHERE id = ?", upload_id)
    return int(blob_id)


def loglens(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m loglens ARGS` with none of the developer's settings."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS and k != "DB_PATH"}
    return subprocess.run(
        [sys.executable, "-m", "loglens", *args, "--env-file", os.devnull],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def bursts(db_path: Path) -> list[tuple[str, str, str, str]]:
    """The 'error burst' alerts: (state, window start, window end, delivery)."""
    return rows(
        db_path,
        "SELECT state, window_start, window_end, delivery FROM alerts"
        " WHERE rule = 'error burst' ORDER BY window_start",
    )


def test_alerts_fire_once_resolve_and_reach_a_webhook_that_was_down(
    server_factory: ServerFactory, receiver: Receiver, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    server = server_factory(ALERT_RULES_FILE=str(rules), ALERT_WEBHOOK_URL=receiver.url)
    db = server.db_path

    # Upload A: a burst in the middle (resolved in A) and one at its end (still firing).
    blob_a = send(server, log_lines(START, 60, {m: 6 for m in (*range(20, 25), *range(55, 60))}))
    assert bursts(db) == [
        ("resolved", "2024-05-01T12:20:00.000000Z", "2024-05-01T12:25:00.000000Z", "pending"),
        ("firing", "2024-05-01T12:55:00.000000Z", "2024-05-01T13:00:00.000000Z", "pending"),
    ]
    log = server.log()
    assert log.count("ALERT FIRING error burst") == 2  # once per incident, not per line
    assert log.count("alert resolved error burst") == 1
    # One alert per incident: each burst meets both threshold rules (and a new error
    # template of one would meet the third): one alert each, led by the first rule.
    others = rows(db, "SELECT window_start FROM alerts WHERE rule != 'error burst'")
    assert others == [] and len(rows(db, "SELECT id FROM alerts")) == 2
    messages = [m for (m,) in rows(db, "SELECT message FROM alerts ORDER BY window_start")]
    assert all("rule hits; also 'db connection errors'" in m for m in messages), messages
    assert all(m.startswith("30 entries within 5m") for m in messages), messages

    # The receiver refuses: deliveries are tried again and again, and survive a restart.
    def tried(times: int) -> bool:
        [(least,)] = rows(db, "SELECT MIN(attempts) FROM alerts")
        return int(least) >= times

    wait_until(lambda: tried(2), "two failed attempts of every alert")
    assert rows(db, "SELECT DISTINCT delivery FROM alerts") == [("pending",)]
    assert "not delivered (attempt 2)" in server.log()
    assert server.stop() == 0
    server.start()
    wait_until(lambda: tried(3), "the restarted processor to try again")
    assert receiver.events() == []

    firing = loglens("alerts", "list", "--db", str(db), "--state", "firing", "--json")
    assert firing.returncode == 0, firing.stderr
    listed = json.loads(firing.stdout)
    assert {a["rule"] for a in listed["alerts"]} >= {"error burst"}
    assert all(a["state"] == "firing" for a in listed["alerts"])

    # The receiver comes up: each event of each alert arrives exactly once, fire first.
    receiver.up()

    def all_delivered() -> bool:
        return rows(db, "SELECT count(*) FROM alerts WHERE delivery != 'delivered'") == [(0,)]

    wait_until(all_delivered, "every alert delivered")
    expected = [
        (int(i), event)
        for i, state in rows(db, "SELECT id, state FROM alerts ORDER BY id")
        for event in (("firing",) if state == "firing" else ("firing", "resolved"))
    ]
    got = receiver.events()
    assert sorted(got) == sorted(expected) and len(set(got)) == len(got)
    for alert_id, _ in expected:  # each alert's fire before its resolve
        mine = [e for i, e in got if i == alert_id]
        assert mine == sorted(mine, key=("firing", "resolved").index)
    body = next(b for b in receiver.received if b["rule"] == "error burst")
    assert body["source"] == "app.log" and body["delivery_id"] == f"{body['id']}:{body['event']}"
    assert body["window_start"] == "2024-05-01T12:20:00.000000Z"

    # Upload B of the same source starts quiet: the alert still firing from A resolves.
    blob_b = send(server, log_lines(START + timedelta(hours=1), 60, {}))
    assert [row[0] for row in bursts(db)] == ["resolved", "resolved"]
    [(last_blob,)] = rows(
        db, "SELECT last_blob_id FROM alerts WHERE window_start = '2024-05-01T12:55:00.000000Z'"
    )
    assert last_blob == blob_b
    wait_until(all_delivered, "the resolve delivered")
    [(open_id,)] = rows(db, "SELECT id FROM alerts WHERE window_start LIKE '2024-05-01T12:55%'")
    assert receiver.events().count((open_id, "resolved")) == 1

    # A rerun of upload A's job adds no alert and sends nothing again.
    before = rows(db, "SELECT * FROM alerts ORDER BY id")
    sent = len(receiver.events())
    assert server.stop() == 0
    rows(db, "UPDATE jobs SET state = 'queued' WHERE blob_id = ?", blob_a)
    server.start()
    wait_until(
        lambda: (
            rows(db, "SELECT state, attempts FROM jobs WHERE blob_id = ?", blob_a) == [("done", 2)]
        ),
        "the rerun of upload A",
    )
    after = rows(db, "SELECT * FROM alerts ORDER BY id")
    assert [row[:13] for row in after] == [row[:13] for row in before]  # up to fired_at
    assert len(receiver.events()) == sent

    # Backtest: the stored uploads give the same incidents as the alerts recorded.
    backtest = loglens("alerts", "backtest", str(rules), "--db", str(db), "--json")
    assert backtest.returncode == 0, backtest.stderr
    found = json.loads(backtest.stdout)
    assert found["uploads"] == 2
    tested = [
        (i["state"], i["window_start"], i["window_end"], i["uploads"], i["resolved_by"])
        for i in found["incidents"]
        if i["rule"] == "error burst"
    ]
    [(upload_a,), (upload_b,)] = rows(db, "SELECT id FROM uploads ORDER BY id")
    assert tested == [
        (
            "resolved",
            "2024-05-01T12:20:00.000000Z",
            "2024-05-01T12:25:00.000000Z",
            [upload_a],
            None,
        ),
        (
            "resolved",
            "2024-05-01T12:55:00.000000Z",
            "2024-05-01T13:00:00.000000Z",
            [upload_a],
            upload_b,
        ),
    ]
    text = loglens("alerts", "backtest", str(rules), "--db", str(db))
    assert text.returncode == 0 and "3 rules over 2 uploads" in text.stdout, text.stderr

    # GET /alerts of a real API process.
    with running_api(db, tmp_path) as api:
        everything = api.ok("/alerts")
        assert everything["total"] == len(after)
        assert [a["id"] for a in everything["alerts"]] == sorted(
            (int(row[0]) for row in after), reverse=True
        )
        page = api.ok("/alerts", rule="error burst", limit=1)
        assert page["total"] == 2 and len(page["alerts"]) == 1
        assert page["alerts"][0]["delivered"] == "resolved"
        assert api.ok("/alerts", state="firing")["total"] == 0
        assert api.get("/alerts", token=None).status == 401
        assert api.get("/alerts", state="open").status == 422


def test_a_bad_rules_file_is_refused_with_the_rule_and_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "info flood"\nlevel = "INFO"\nthreshold = 5\nwindow = "5m"\n'
    )
    done = loglens("alerts", "backtest", str(rules), "--db", str(tmp_path / "none.db"))
    assert done.returncode == 2
    assert "rule 1 ('info flood'): key 'window'" in done.stderr
    listing = loglens("alerts", "list", "--db", str(tmp_path / "none.db"))
    assert listing.returncode == 1 and "no results database" in listing.stderr
