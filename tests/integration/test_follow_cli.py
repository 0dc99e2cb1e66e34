"""`python processor.py --follow FILE`: a log analysed while it is written, as a user runs it.

The file is written in steps; after each, the test waits (with a generous deadline, never a
fixed sleep) until the follower's JSON lines show every line so far, then rotates or
truncates it. The final report must count every line written exactly once.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, SETTINGS, run_cli
from tests.integration.webhook import Webhook

DEADLINE = 60.0


class _Following:
    """A real `processor.py --follow --json` subprocess and the reports it prints."""

    def __init__(self, path: Path, *flags: str, **settings: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
        env.update(settings)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "processor.py"), "--follow", "--json",
             "--interval", "0.2", *flags, str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        )  # fmt: skip
        self.reports: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.reports.put(json.loads(line))

    def wait_for_entries(self, entries: int) -> dict[str, Any]:
        """The first report that counts `entries` entries; fail after the deadline."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                report = self.reports.get(timeout=1)
            except queue.Empty:
                continue
            assert report["entries"] <= entries, report["entries"]  # never counted twice
            if report["entries"] == entries:
                return report
        raise AssertionError(f"no report of {entries} entries within {DEADLINE} s")

    def wait_for_stderr(self, words: str) -> None:
        """Read the process's messages until one holds `words`."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + DEADLINE
        while words not in self.process.stderr.readline().decode():
            assert time.monotonic() < deadline and self.process.poll() is None

    def stop(self) -> dict[str, Any]:
        """SIGINT, then the final report; the exit status must be 0."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=DEADLINE) == 0
        while True:
            report = self.reports.get(timeout=DEADLINE)
            if report["final"]:
                return report


def _lines(start: int, count: int) -> str:
    return "".join(
        f"2026-12-07 10:{n // 60 % 60:02d}:{n % 60:02d},123 "
        f"{'ERROR' if n % 10 == 0 else 'INFO'} [db.pool] request {n} took {n % 97} ms\n"
        for n in range(start, start + count)
    )


def test_every_line_is_counted_once_across_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(_lines(0, 600))
    following = _Following(path)
    try:
        following.wait_for_entries(600)
        with path.open("a") as handle:
            handle.write(_lines(600, 400))
        following.wait_for_entries(1000)
        # Rotation: a last line lands in the old file after the rename, then a new file.
        os.rename(path, tmp_path / "app.log.1")
        with (tmp_path / "app.log.1").open("a") as handle:
            handle.write(_lines(1000, 1))
        path.write_text(_lines(1001, 299))
        report = following.wait_for_entries(1300)
        assert "rotated" in report["file_events"]
        # Truncation (copytruncate): the same file emptied, then written again.
        with path.open("r+") as handle:
            handle.truncate(0)
        path.write_text(_lines(1300, 50))
        following.wait_for_entries(1350)
    finally:
        final = following.stop() if following.process.poll() is None else None
    assert final is not None
    assert final["entries"] == 1350
    assert final["levels"] == {"INFO": 1215, "ERROR": 135}
    assert final["top_errors"][0]["template"] == "request <*> took <*> ms"
    assert final["file_events"] == ["rotated", "truncated"]


def test_a_file_that_appears_later_is_followed(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    following = _Following(path)
    try:
        following.wait_for_stderr("waiting for it")
        path.write_text(_lines(0, 20))
        following.wait_for_entries(20)
    finally:
        final = following.stop()
    assert final["entries"] == 20


def test_from_end_counts_only_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(_lines(0, 100))
    following = _Following(path, "--from-end")
    try:
        following.wait_for_stderr("from its end")
        # The follower starts at the end: lines written now are the only ones counted.
        with path.open("a") as handle:
            handle.write(_lines(100, 30))
        following.wait_for_entries(30)
    finally:
        final = following.stop()
    assert final["entries"] == 30


def test_bad_follow_flags_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(_lines(0, 5))
    cases = [
        (("--follow", str(path), str(path)), "exactly one FILE"),
        (("--follow", "-"), "exactly one FILE"),
        (("--from-end", str(path)), "--from-end goes with --follow"),
        (("--follow", "--interval", "0", str(path)), "must be seconds"),
        (("--follow", "--events", str(tmp_path / "e"), str(path)), "does not go with --events"),
        (("--follow", str(tmp_path)), "not a regular file"),
    ]
    for args, message in cases:
        run = run_cli(*args)
        assert run.code == 2, (args, run.err)
        assert message in run.err, (args, run.err)
    # The alert settings a follow reads: a bad one stops it at once, named.
    broken = tmp_path / "rules.toml"
    broken.write_text("[[rule]]\nname = 'x'\nthreshold = 'many'\n")
    for settings, message in (
        ({"ALERT_RULES_FILE": str(tmp_path / "missing.toml")}, "ALERT_RULES_FILE"),
        ({"ALERT_RULES_FILE": str(broken)}, "threshold"),
        ({"ALERT_WEBHOOK_URL": "ftp://nowhere"}, "ALERT_WEBHOOK_URL"),
    ):
        run = run_cli("--follow", str(path), env=settings)
        assert run.code == 2 and run.out == "", (settings, run.err)
        assert message in run.err and "Traceback" not in run.err, (settings, run.err)


RULES = """
[[rule]]
name = "error burst"
level = ["ERROR", "CRITICAL"]
threshold = 20
window = "5m"
"""


def test_alerts_fire_and_resolve_as_the_lines_come(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    hook = Webhook()
    url = hook.url
    path = tmp_path / "app.log"
    path.write_text(_quiet(0, 300))  # 10:00 to 10:05, a few errors
    following = _Following(path, ALERT_RULES_FILE=str(rules), ALERT_WEBHOOK_URL=url)
    try:
        report = following.wait_for_entries(300)
        assert report["alerts"] == []
        # A burst: 60 errors in a minute of log time, written at once.
        with path.open("a") as handle:
            handle.write(_burst("10:05", 60))
        written = time.monotonic()
        came, fired = hook.received.get(timeout=DEADLINE)
        assert (fired["event"], fired["rule"]) == ("firing", "error burst")
        assert fired["source"] == str(path) and fired["value"] >= 20
        assert came - written < DEADLINE
        # Quiet again, ten minutes later in log time: the burst's incident ends.
        with path.open("a") as handle:
            handle.write(_quiet(900, 300))
        _came, resolved = hook.received.get(timeout=DEADLINE)
        assert resolved["event"] == "resolved"
        assert resolved["delivery_id"] == fired["delivery_id"].replace(":firing", ":resolved")
    finally:
        final = following.stop()
        hook.close()
    assert final["entries"] == 660
    assert hook.received.empty()  # each event once


def _quiet(start: int, count: int) -> str:
    """A line a second from 10:00 + `start` seconds, one error in fifty."""
    return "".join(
        f"2026-12-07 10:{n // 60 % 60:02d}:{n % 60:02d},000 "
        f"{'ERROR' if n % 50 == 0 else 'INFO'} [app.web] request {n} served\n"
        for n in range(start, start + count)
    )


def _burst(minute: str, count: int) -> str:
    """`count` database errors within the minute `minute` (HH:MM) of log time."""
    return "".join(
        f"2026-12-07 {minute}:{n % 60:02d},500 ERROR [db.pool] connection to db-{n % 3} lost\n"
        for n in range(count)
    )
