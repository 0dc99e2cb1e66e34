"""Following a growing log: lag, sustained rate and memory of `processor.py --follow`.

    python benchmarks/bench_follow.py [--rate 50000] [--seconds 20] [--soak-minutes 0]

A writer (this process) appends Python-logging lines to a file at `--rate` lines a second,
in batches every 20 ms, for `--seconds`; `python processor.py --follow FILE --json` reads
it, and prints the report so far every `--interval` seconds. A batch's lag is the time
from its write to the first report (read here) that counts its last line. Printed: the lag
(p50, p99, max) and the rate the follower kept up with, with the same figures for the
baseline in the same run, `tail -n +1 -F FILE` read by this process (the floor: bytes
copied from the file, nothing analysed).

With `--alerts N`, the alert path: the follower runs with a rule (20 errors within a
minute of log time) and a webhook receiver on loopback; the writer appends N bursts of 50
errors, each after quiet minutes of log time (more than alerts merge over: each burst is
an incident of its own), a few seconds apart; the
latency of each is from its write to the POST of its alert (issue 17's target for the
server: 5 s p99).

With `--soak-minutes M`, the same at `--soak-rate` (10,000 lines/s) for M minutes, the
follower's PSS sampled every 10 s: its growth from the end of the first minute to the
end (issue 17's target: under 20 MiB over 30 minutes), and the lag over the whole soak.
Targets (issue 17): 50,000 lines/s on one stream with lag under 1 s.
"""

from __future__ import annotations

import argparse
import bisect
import http.server
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.proctree import process_tree  # noqa: E402
from loglens.analysis.alerts import MERGE_GAP_MINUTES  # noqa: E402

BATCH_SECONDS = 0.02
LEVELS = ("INFO",) * 80 + ("WARNING",) * 12 + ("ERROR",) * 6 + ("DEBUG",) * 2
MESSAGES = (
    "Request {n} served in {ms} ms for user{u}",
    "Cache miss for key order:{n}",
    "Connection to db-{u} failed after {ms} retries",
    "Worker {u} picked job {n}",
    "Payment {n} declined: insufficient funds",
)


@dataclass
class Written:
    """When each batch was written: the line count after it, and the time."""

    lines: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def make_lines(count: int, seed: int) -> list[bytes]:
    """`count` distinct-looking log lines to cycle through."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        message = rng.choice(MESSAGES).format(
            n=rng.randrange(10**6), ms=rng.randrange(1000), u=rng.randrange(50)
        )
        stamp = f"2025-01-30 12:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d},{i % 1000:03d}"
        out.append(f"{stamp} {rng.choice(LEVELS)} [app.{rng.randrange(8)}] {message}\n".encode())
    return out


def write(path: Path, rate: int, seconds: float, written: Written) -> None:
    """Append lines to `path` at `rate` a second for `seconds`, recording each batch."""
    pool = make_lines(50_000, seed=rate)
    per_batch = max(1, round(rate * BATCH_SECONDS))
    total, start = 0, time.monotonic()
    with path.open("ab", buffering=0) as out:
        batch = 0
        while time.monotonic() - start < seconds:
            lines = [pool[(total + i) % len(pool)] for i in range(per_batch)]
            out.write(b"".join(lines))
            total += per_batch
            written.lines.append(total)
            written.times.append(time.monotonic())
            batch += 1
            delay = start + batch * BATCH_SECONDS - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def lags(reports: list[tuple[float, int]], written: Written) -> list[float]:
    """How long each written batch waited to be counted: from its write to the first
    report that counts its last line (a batch never counted is left out, and said)."""
    seen = sorted(reports)
    counted = [lines for _at, lines in seen]
    best = [max(counted[: i + 1]) for i in range(len(counted))]  # counts only grow
    out = []
    for lines, wrote_at in zip(written.lines, written.times, strict=True):
        index = bisect.bisect_left(best, lines)
        if index < len(seen):
            out.append(max(0.0, seen[index][0] - wrote_at))
    return out


def run(
    command: list[str],
    parse: Callable[[bytes], int | None],
    rate: int,
    seconds: float,
    memory: list[tuple[float, int]] | None = None,
) -> tuple[list[float], int, int]:
    """Follow a file being written with `command`; return the lags, lines written, and the
    lines the follower had counted once the writer stopped and it caught up (or gave up)."""
    with tempfile.TemporaryDirectory(prefix="loglens-follow-") as folder:
        path = Path(folder) / "app.log"
        path.touch()
        proc = subprocess.Popen(
            [*command, str(path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        reports: list[tuple[float, int]] = []
        assert proc.stdout is not None
        stdout = proc.stdout

        def read() -> None:
            for raw in stdout:
                counted = parse(raw)
                if counted is not None:
                    reports.append((time.monotonic(), counted))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        stop = threading.Event()
        if memory is not None:
            started = time.monotonic()

            def sample() -> None:
                while not stop.wait(10):
                    kib = pss_kib(proc.pid)
                    if kib and not stop.is_set():
                        memory.append((time.monotonic() - started, kib))

            threading.Thread(target=sample, daemon=True).start()
        time.sleep(1.0)  # the follower starts (and imports polars) before the first line
        written = Written()
        write(path, rate, seconds, written)
        total = written.lines[-1] if written.lines else 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (reports and reports[-1][1] >= total):
            time.sleep(0.1)
        stop.set()  # before the process ends: its last sample is of it running
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(5)
        counted = max((lines for _at, lines in reports), default=0)
        return lags(reports, written), total, counted


def pss_kib(root: int) -> int:
    """PSS of a process and its children (KiB)."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except OSError:
            continue
    return total


def loglens_lines(raw: bytes) -> int | None:
    """Lines counted in one JSON report of `processor.py --follow --json`."""
    try:
        return int(json.loads(raw)["lines"])
    except (ValueError, KeyError, TypeError):
        return None


class TailCounter:
    """Counts the lines `tail -F` copies (the baseline's parser: one call per line)."""

    def __init__(self) -> None:
        self.lines = 0

    def __call__(self, raw: bytes) -> int | None:
        self.lines += 1
        return self.lines if self.lines % 1000 == 0 else None


def describe(name: str, found: tuple[list[float], int, int], seconds: float) -> str:
    """One line of figures for a contender."""
    lag, total, counted = found
    if not lag:
        return f"{name:9} no report matched a written line ({counted:,} of {total:,} counted)"
    ordered = sorted(lag)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"{name:9} lag p50 {statistics.median(ordered):6.3f} s  p99 {p99:6.3f} s  "
        f"max {ordered[-1]:6.3f} s; {counted:,} of {total:,} lines counted "
        f"({total / seconds:,.0f} lines/s written)"
    )


RULES = """
[[rule]]
name = "error burst"
level = ["ERROR", "CRITICAL"]
threshold = 20
window = "1m"
"""


def alert_latencies(bursts: int, interval: float) -> tuple[list[float], int]:
    """Seconds from each burst's write to the POST of its alert; and the alerts POSTed."""
    received: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
    server = webhook(received)
    with tempfile.TemporaryDirectory(prefix="loglens-alerts-") as folder:
        path, rules = Path(folder) / "app.log", Path(folder) / "rules.toml"
        rules.write_text(RULES)
        path.touch()
        env = {**os.environ, "ALERT_RULES_FILE": str(rules),
               "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_address[1]}/"}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "processor.py", "--follow", "--json", "--interval", str(interval),
             str(path)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        time.sleep(1.0)
        written = write_bursts(path, bursts, 3 * interval + 1)
        latencies, posted = burst_latencies(received, written)
        proc.terminate()
        proc.wait(30)
    server.shutdown()
    return latencies, posted


def webhook(received: queue.Queue[tuple[float, dict[str, Any]]]) -> http.server.HTTPServer:
    """A webhook receiver on loopback, serving in a thread: each POST goes to `received`
    with when it came. `shutdown()` it after."""

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((time.monotonic(), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def write_bursts(path: Path, bursts: int, pause: float) -> dict[str, float]:
    """Append `bursts` bursts of 50 errors in a minute of log time, each after quiet minutes
    (more than the merge gap of alerts: each burst is an incident of its own), `pause`
    seconds apart; when each was written, by its minute (`YYYY-MM-DDTHH:MM`)."""
    written: dict[str, float] = {}
    with path.open("a") as out:
        for burst in range(bursts):
            minute = (MERGE_GAP_MINUTES + 5) * burst
            for tick in range(6 * (MERGE_GAP_MINUTES + 4)):  # a line every 10 s
                at = minute + tick // 6
                stamp = f"2025-01-30 {10 + at // 60:02d}:{at % 60:02d}:{tick % 6 * 10:02d}"
                out.write(f"{stamp},000 INFO [app.web] request {tick} served\n")
            at = minute + MERGE_GAP_MINUTES + 4
            out.write("".join(
                f"2025-01-30 {10 + at // 60:02d}:{at % 60:02d}:{n:02d},500 ERROR [db.pool] "
                f"connection to db-{n % 3} lost\n" for n in range(50)
            ))  # fmt: skip
            out.flush()
            written[f"2025-01-30T{10 + at // 60:02d}:{at % 60:02d}"] = time.monotonic()
            time.sleep(pause)
        at = (MERGE_GAP_MINUTES + 5) * bursts
        out.write(f"2025-01-30 {10 + at // 60:02d}:{at % 60:02d}:59,000 INFO [app.web] end\n")
    return written


def burst_latencies(
    received: queue.Queue[tuple[float, dict[str, Any]]], written: dict[str, float]
) -> tuple[list[float], int]:
    """Seconds from each burst's write to the POST of its alert (waiting up to 30 s for
    them), and how many alerts were POSTed."""
    deadline = time.monotonic() + 30
    latencies: list[float] = []
    posted = 0
    while len(latencies) < len(written) and time.monotonic() < deadline:
        try:
            came, event = received.get(timeout=1)
        except queue.Empty:
            continue
        posted += 1
        if event["event"] == "firing" and event["window_start"][:16] in written:
            latencies.append(came - written[event["window_start"][:16]])
    return latencies, posted


def main() -> None:
    """Run the follow benchmark (and the soak, if asked) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=50_000, help="lines a second (50,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of writing (20)")
    parser.add_argument("--interval", type=float, default=0.5, help="report interval (0.5)")
    parser.add_argument("--alerts", type=int, default=0, help="bursts for the alert latency")
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="soak length (0: none)")
    parser.add_argument("--soak-rate", type=int, default=10_000, help="soak lines/s (10,000)")
    args = parser.parse_args()
    follower = [sys.executable, "processor.py", "--follow", "--json", "--interval",
                str(args.interval)]  # fmt: skip
    tail = ["tail", "-n", "+1", "-F"]
    print(f"{args.rate:,} lines/s for {args.seconds:.0f} s, reports every {args.interval} s")
    print(describe("tail -F", run(tail, TailCounter(), args.rate, args.seconds), args.seconds))
    found = run(follower, loglens_lines, args.rate, args.seconds)
    print(describe("loglens", found, args.seconds))
    if args.alerts:
        latencies, posted = alert_latencies(args.alerts, args.interval)
        ordered = sorted(latencies) or [float("nan")]
        print(
            f"alerts: {len(latencies)} of {args.alerts} bursts alerted ({posted} POSTs); write to"
            f" POST p50 {statistics.median(ordered):.2f} s, max {ordered[-1]:.2f} s"
            " (target for the server: 5 s p99)"
        )
    if args.soak_minutes:
        memory: list[tuple[float, int]] = []
        seconds = args.soak_minutes * 60
        found = run(follower, loglens_lines, args.soak_rate, seconds, memory)
        print(f"soak: {args.soak_rate:,} lines/s for {args.soak_minutes:g} min")
        print(describe("loglens", found, seconds))
        after_warm_up = [kib for at, kib in memory if at >= 60] or [kib for _at, kib in memory]
        if after_warm_up:
            growth = (after_warm_up[-1] - after_warm_up[0]) / 1024
            print(
                f"PSS: {after_warm_up[0] / 1024:.0f} MiB after the first minute, "
                f"{after_warm_up[-1] / 1024:.0f} MiB at the end, growth {growth:+.1f} MiB "
                "(target < 20 MiB over 30 min)"
            )
    print(f"pid {os.getpid()} done")


if __name__ == "__main__":
    main()
