"""Live streams end to end: a followed file's lines counted in the API, and their alerts.

    python benchmarks/bench_stream.py [--rate 50000] [--seconds 20] [--alerts 10]
                                      [--soak-minutes 0] [--soak-rate 10000]

A real `python server.py` (SQLite, its processor and worker pool), the API
(`python -m loglens api`) over the same database, and `python client.py --follow FILE`.
A writer (this process) appends lines at `--rate` a second in batches every 20 ms; a
reader of the API's `GET /stream/events?interval=0.2` (server-sent events, what the
dashboard's live view reads) notes when each `counts` event arrives and the entries it
counts. A batch's lag is from its write to the first event that counts its last line:
the whole path, client, network, server fsync, processor, database and API.
The baseline, in the same run, is `tail -n +1 -F FILE` read by this process (bytes
copied, nothing analysed, nothing stored).

With `--alerts N`: a server with a rule (20 errors in a minute) and a webhook receiver on
loopback; N bursts of errors, each after quiet minutes of log time, a few seconds apart;
each latency is from the burst's write to the POST of its alert.

With `--soak-minutes M`: `--soak-rate` lines/s for M minutes; the PSS of the server's
process tree (server, processor, workers) and of the client every 10 s, and the lag.

Targets (issue 17): counted in the API within 2 s p99; an alert posted within 5 s p99;
50,000 lines/s on one stream with lag under 1 s; memory growth under 20 MiB over 30
minutes at 10,000 lines/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_follow import (  # noqa: E402
    RULES,
    TailCounter,
    Written,
    burst_latencies,
    describe,
    lags,
    pss_kib,
    run,
    webhook,
    write,
    write_bursts,
)

TOKEN = "bench-token"
_LISTENING = re.compile(rb"listening on (\S+):(\d+)")
_API = re.compile(rb"api listening on (http://\S+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    """A server, the API over its database, and a client following one file."""

    def __init__(self, folder: Path, **settings: str) -> None:
        self.folder = folder
        self.path = folder / "app.log"
        self.path.touch()
        self.env = {
            **os.environ, "HOST": "127.0.0.1", "PORT": str(_free_port()),
            "STORAGE_PATH": str(folder / "storage"), "DB_PATH": str(folder / "loglens.db"),
            "AUTH_TOKENS": f"bench:{TOKEN}", "LOGLENS_TOKEN": TOKEN,
            "LOGLENS_RESUME_DIR": str(folder / "records"), **settings,
        }  # fmt: skip
        self.env["LOGLENS_SERVER"] = f"127.0.0.1:{self.env['PORT']}"
        self.processes: list[subprocess.Popen[bytes]] = []
        try:
            self.server = self._start([sys.executable, "server.py"], "server", _LISTENING)[0]
            _api, self.api_url = self._start(
                [sys.executable, "-m", "loglens", "api", "--host", "127.0.0.1", "--port", "0"],
                "api", _API,
            )  # fmt: skip
            self.client = self._start(
                [sys.executable, "client.py", "--follow", str(self.path)], "client", None
            )[0]
        except BaseException:
            self.close()
            raise

    def _start(
        self, command: list[str], name: str, ready: re.Pattern[bytes] | None
    ) -> tuple[subprocess.Popen[bytes], str]:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*command, "--env-file", os.devnull] if name != "client" else command,
                cwd=ROOT, stdout=out, stderr=out, env=self.env, start_new_session=True,
            )  # fmt: skip
        self.processes.append(proc)
        deadline = time.monotonic() + 60
        while ready is not None:
            found = ready.search(log.read_bytes())
            if found:
                return proc, found.group(1).decode()
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()}")
            time.sleep(0.05)
        return proc, ""

    def events(self, counts: list[tuple[float, int]], stop: threading.Event) -> None:
        """Read the API's event stream (in a thread), noting each count of entries."""
        request = urllib.request.Request(
            f"{self.api_url}/stream/events?interval=0.2",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            for raw in response:
                if stop.is_set():
                    return
                if raw.startswith(b"data: "):
                    data = json.loads(raw[6:])
                    if "entries" in data:
                        counts.append((time.monotonic(), int(data["entries"])))

    def pss_mib(self) -> tuple[float, float]:
        """PSS of the server's process tree and of the client (MiB)."""
        return pss_kib(self.server.pid) / 1024, pss_kib(self.client.pid) / 1024

    def close(self) -> None:
        for proc in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@contextlib.contextmanager
def stack(**settings: str) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="loglens-stream-") as folder:
        running = Stack(Path(folder), **settings)
        try:
            yield running
        finally:
            running.close()


def counted_lag(
    rate: int, seconds: float, memory: list[tuple[float, float, float]] | None = None
) -> tuple[list[float], int, int]:
    """Lags of the batches written at `rate` for `seconds`, the lines written and the
    entries counted in the API at the end (with `memory`: PSS samples every 10 s)."""
    with stack() as running:
        counts: list[tuple[float, int]] = []
        stop = threading.Event()
        threading.Thread(target=running.events, args=(counts, stop), daemon=True).start()
        if memory is not None:
            started = time.monotonic()

            def sample() -> None:
                while not stop.wait(10):
                    memory.append((time.monotonic() - started, *running.pss_mib()))

            threading.Thread(target=sample, daemon=True).start()
        time.sleep(1.0)
        written = Written()
        write(running.path, rate, seconds, written)
        total = written.lines[-1] if written.lines else 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (counts and counts[-1][1] >= total):
            time.sleep(0.1)
        stop.set()
        return lags(counts, written), total, max((n for _at, n in counts), default=0)


def alert_latencies(bursts: int) -> tuple[list[float], int]:
    """Seconds from each burst's write to the POST of its alert, through the server."""
    received: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
    hook = webhook(received)
    try:
        with tempfile.TemporaryDirectory(prefix="loglens-rules-") as folder:
            rules = Path(folder) / "rules.toml"
            rules.write_text(RULES)
            url = f"http://127.0.0.1:{hook.server_address[1]}/"
            with stack(ALERT_RULES_FILE=str(rules), ALERT_WEBHOOK_URL=url) as running:
                time.sleep(1.0)
                written = write_bursts(running.path, bursts, 3.0)
                return burst_latencies(received, written)
    finally:
        hook.shutdown()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def main() -> None:
    """Run the stream benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=50_000, help="lines a second (50,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of writing (20)")
    parser.add_argument("--alerts", type=int, default=0, help="bursts for the alert latency")
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="soak length (0: none)")
    parser.add_argument("--soak-rate", type=int, default=10_000, help="soak lines/s (10,000)")
    args = parser.parse_args()

    print(f"one stream at {args.rate:,} lines/s for {args.seconds:g} s (2 cores, shared):")
    tail = run(["tail", "-n", "+1", "-F"], TailCounter(), args.rate, args.seconds)
    print("  " + describe("tail -F", tail, args.seconds))
    found = counted_lag(args.rate, args.seconds)
    print("  " + describe("loglens", found, args.seconds) + "  (write -> counted in the API)")
    if found[0] and tail[0]:
        print(f"  loglens adds {_p99(found[0]) - _p99(tail[0]):.3f} s p99 over tail -F"
              "  (targets: p99 <= 2 s; at 50,000 lines/s under 1 s)")  # fmt: skip

    if args.alerts:
        latencies, posted = alert_latencies(args.alerts)
        print(f"alerts: {len(latencies)} of {args.alerts} bursts alerted ({posted} POSTs)")
        if latencies:
            ordered = sorted(latencies)
            print(f"  write -> webhook POST: p50 {ordered[len(ordered) // 2]:.2f} s  "
                  f"p99 {_p99(latencies):.2f} s  max {ordered[-1]:.2f} s"
                  "  (target: p99 <= 5 s)")  # fmt: skip

    if args.soak_minutes:
        memory: list[tuple[float, float, float]] = []
        soak = counted_lag(args.soak_rate, args.soak_minutes * 60, memory)
        print(f"soak {args.soak_minutes:g} min at {args.soak_rate:,} lines/s:")
        print("  " + describe("loglens", soak, args.soak_minutes * 60))
        after_minute = [sample for sample in memory if sample[0] >= 60] or memory
        if after_minute:
            # Each store of a stream's results holds its rows for a moment (tens of MiB
            # for a fraction of a second): a sample can fall on one. A leak raises the
            # floor, so compare the floors (and the medians) of the first and last 5
            # minutes after the first.
            window = max(1, min(30, len(after_minute) // 2))
            first, last = after_minute[:window], after_minute[-window:]
            for column, what in ((1, "server tree"), (2, "client")):
                floor = [min(s[column] for s in part) for part in (first, last)]
                median = [statistics.median(s[column] for s in part) for part in (first, last)]
                print(f"  PSS {what}: floor {floor[0]:.0f} -> {floor[1]:.0f} MiB "
                      f"({floor[1] - floor[0]:+.1f}), median {median[0]:.0f} -> "
                      f"{median[1]:.0f} MiB ({median[1] - median[0]:+.1f}); peak "
                      f"{max(s[column] for s in after_minute):.0f} MiB"
                      "  (target: growth < 20 MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
