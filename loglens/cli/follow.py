"""`python processor.py --follow FILE`: analyse a log while it is written, and show it live.

On a terminal, a view redrawn every `--interval` seconds: counts per level, the top error
templates, the findings as they appear, and the lines read so far. Elsewhere (a pipe, or
with `--json`), one JSON object a line each time the analysis moved on: the report so far,
with the findings new since the last line under `new_findings`. SIGINT or SIGTERM ends the
follow: what was read is analysed to its end, the final report printed, and the exit is 0.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from loglens.analysis.report import render_text
from loglens.cli.live_alerts import LiveAlerts
from loglens.follow import Follower
from loglens.processor.live import LiveAnalysis
from loglens.processor.local import Options

POLL_SECONDS = 0.25  # how often the file is looked at when nothing new came
# After lines came, wait this long for more: a summary per tenth of a second, not one per
# write (a block's cost is mostly fixed below a few thousand lines).
BATCH_SECONDS = 0.1
# A report costs more as the log grows: reports are spaced so that they take at most a
# 1/REPORT_SPACING share of the time, and reading keeps up with the writer.
REPORT_SPACING = 4.0


def follow(
    path: Path,
    options: Options,
    top_n: int,
    interval: float,
    as_json: bool,
    from_end: bool,
    alerts: LiveAlerts | None = None,
) -> int:
    """Follow `path` until SIGINT or SIGTERM, evaluating `alerts` at each report; return
    the exit status."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    follower = Follower(path, from_start=not from_end, max_line_bytes=options.limits.max_line_bytes)
    live = LiveAnalysis(str(path), options, top_n)
    terminal = sys.stdout.isatty() and not as_json
    view = _TerminalView(path) if terminal else None
    shown_entries = -1
    next_report = time.monotonic() + interval
    started = time.monotonic()
    batches = follower.read()  # opens the file (at its end, with from_end) if it is there
    if not path.exists():
        sys.stderr.write(f"{path}: does not exist yet; waiting for it\n")
    else:
        sys.stderr.write(f"following {path}{' from its end' if from_end else ''}\n")
    sys.stderr.flush()
    try:
        while not stop.is_set():
            live.feed(batches)
            now = time.monotonic()
            if now >= next_report:
                report = live.report()
                report["alerts"] = [] if alerts is None else alerts.update(live.alert_input())
                if view is not None:
                    view.show(report, follower.events, now - started)
                elif (
                    report["entries"] != shown_entries or report["new_findings"] or report["alerts"]
                ):
                    _print_json(report, follower.events)
                shown_entries = report["entries"]
                spent = time.monotonic() - now
                next_report = now + max(interval, REPORT_SPACING * spent)
            stop.wait(BATCH_SECONDS if batches else POLL_SECONDS)
            batches = follower.read()
        live.feed(batches)
        live.feed(follower.read())
        live.flush()
    finally:
        follower.close()
        if view is not None:
            view.close()
    report = live.report()
    report["alerts"] = [] if alerts is None else alerts.update(live.alert_input())
    if alerts is not None:
        alerts.close()
    if as_json or not terminal:
        _print_json(report, follower.events, final=True)
    else:
        sys.stdout.write(render_text(report))
    return 0


def _print_json(report: dict[str, Any], events: list[str], final: bool = False) -> None:
    report = {**report, "file_events": list(events), "final": final}
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class _TerminalView:
    """The live view on a terminal (rich)."""

    def __init__(self, path: Path) -> None:
        from rich.console import Console
        from rich.live import Live

        self._path = path
        self._findings: list[str] = []
        self._live = Live(console=Console(), auto_refresh=False, transient=False)
        self._live.start()

    def show(self, report: dict[str, Any], events: list[str], elapsed: float) -> None:
        """Redraw the view with the report so far."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        for item in report["new_findings"]:
            self._findings.append(f"{item['kind']} ({item['score']}): {item['explanation']}")
        for event in report["alerts"]:
            self._findings.append(f"ALERT {event['event']} {event['rule']}: {event['message']}")
        status = Text(
            f"{self._path}: {report['lines']:,} lines, {report['entries']:,} entries in "
            f"{elapsed:,.0f} s; last log {report['last_timestamp'] or 'none'}"
            + (f"; {', '.join(events[-3:])}" if events else ""),
            style="bold",
        )
        levels = Table(title="Entries per level", show_header=False)
        for level, count in report["levels"].items():
            levels.add_row(level, f"{count:,}")
        errors = Table(title="Top error templates")
        errors.add_column("count", justify="right")
        errors.add_column("template")
        for item in report["top_errors"]:
            errors.add_row(f"{item['count']:,}", item["template"])
        findings = Text("\n".join(self._findings[-8:]) or "no findings yet")
        self._live.update(Group(status, levels, errors, Text("Findings", style="bold"), findings))
        self._live.refresh()

    def close(self) -> None:
        """Leave the last view on the screen."""
        self._live.stop()
