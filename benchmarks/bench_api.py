"""Latency of the HTTP API over a big results database, against fixed-cost baselines.

    python benchmarks/bench_api.py [--uploads 1000] [--distinct 200] [--entries 10000000]
                                   [--requests 300] [--concurrency 1] [--rounds 1]
                                   [--target-ms 100]

Builds once (cached under benchmarks/out/api-…/): `--distinct` logs written by
`python -m loglens.synth big` in several formats, each analysed for real by the
processor's own code; their real results are stored by `loglens.storage.Database` under
`--uploads` uploads of eight operators (each upload its own blob, so every upload's entries
count), enough lines that the uploads hold at least `--entries` entries in all.

Then starts `python -m loglens api` on port 0 over that database and times, in one run,
sequential keep-alive GETs of: `/healthz` (HTTP + FastAPI, no token, no database), `/me`
(+ token check) and a raw `SELECT 1` through aiosqlite (a database round-trip); then
`/logs/stats`, `/timeline`, `/anomalies`, `/categories` and `/trend` with and without
filters, first with the answer cache off (`--cache-mb 0`: every answer computed by the
Reader), then again with it on ([cached]:
repeated views of unchanged data). Prints p50/p99 per request and the ratio to `/healthz`'s
p50, and the machine's load average around each round (other work on it moves p99).
With `--rounds N` all of it runs N times, with fresh API processes, and the table shows
the median of each figure over the rounds (and the range of p99).

Target: p99 < `--target-ms` (100) for /logs/stats and /timeline without the cache; the
exit status is 0 only when every uncached query meets it (the cached figures are shown,
not judged).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import math
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "out"
TOKEN = "bench-token"
OPERATORS = 8
# Formats with a year in their timestamps, so every log lands where its seed puts it.
FORMATS = ("log4j", "python", "jsonl", "logfmt", "syslog5424", "hdfs", "spark", "zookeeper")
TARGET_P99_MS = 100.0
_LISTENING = re.compile(r"loglens api listening on http://([^:/\s]+):(\d+)")


def ensure_logs(folder: Path, distinct: int, lines: int) -> list[Path]:
    """Generate the distinct logs with the project's generator (cached)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(distinct):
        fmt = FORMATS[i % len(FORMATS)]
        path = folder / f"{i:04d}-{fmt}.log"
        if not path.exists():
            partial = path.with_suffix(".partial")
            subprocess.run(
                [sys.executable, "-m", "loglens.synth", "big", str(partial), "--lines",
                 str(lines + (i * 7919) % (lines // 2) - lines // 4), "--format", fmt,
                 "--seed", str(i + 1)],
                check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
            )  # fmt: skip
            partial.rename(path)
        paths.append(path)
    return paths


def analyse_logs(paths: list[Path]) -> list[Any]:
    """Each log analysed as the processor does, turned into the rows it stores."""
    from loglens.analysis.report import build_report
    from loglens.config import load_config
    from loglens.processor.local import analyse
    from loglens.processor.options import file_source, options_from_config
    from loglens.storage.write.results import results_from_analysis

    config = load_config({"WORKERS": "1"})  # one core: others benchmark on this machine
    options = options_from_config(config)
    results = []
    for path in paths:
        analysis = analyse([file_source(path, path.name)], options)
        if analysis.problems:
            raise SystemExit(f"{path}: {analysis.problems}")
        summary, templates, findings = analysis.summary, analysis.templates, analysis.findings
        report = build_report(summary, templates, config.top_n, findings)
        results.append(results_from_analysis(summary, templates, report, findings))
    return results


async def store(db_path: Path, paths: list[Path], results: list[Any], uploads: int) -> None:
    """Store upload `i` with the real results of log `i % distinct`, each its own blob."""
    from loglens.storage import Database

    async with await Database.open(db_path) as db:
        for i in range(uploads):
            k = i % len(paths)
            size = paths[k].stat().st_size
            sha = f"{i:064x}"  # a distinct content per upload: every upload's entries count
            upload_id = await db.create_upload(
                f"op{i % OPERATORS}", paths[k].name, size, sha, "none"
            )
            stored = await db.store_upload(upload_id, sha, size, str(paths[k]))
            job = await db.start_job(stored.job_id, "bench")
            assert job is not None
            assert await db.finish_job(job.id, "bench", results[k])


def ensure_database(uploads: int, distinct: int, entries: int) -> Path:
    """The benchmark database, built unless cached; returns its path."""
    lines = math.ceil(entries / uploads * 1.25)  # some lines continue entries or are noise
    folder = OUT / f"api-{uploads}-{distinct}-{lines}"
    db_path = folder / "loglens.db"
    done = folder / "complete"
    if done.exists() and done.read_text() == _schema_mark():
        return db_path
    started = time.perf_counter()
    print(f"generating {distinct} logs of ~{lines:,} lines in {folder} …", file=sys.stderr)
    paths = ensure_logs(folder / "logs", distinct, lines)
    print(f"analysing them ({time.perf_counter() - started:.0f} s) …", file=sys.stderr)
    results = analyse_logs(paths)
    print(f"storing {uploads} uploads ({time.perf_counter() - started:.0f} s) …", file=sys.stderr)
    db_path.unlink(missing_ok=True)
    asyncio.run(store(db_path, paths, results, uploads))
    done.write_text(_schema_mark())
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return db_path


def _schema_mark() -> str:
    """A fingerprint of the schema the database was built with (rebuilt when it changes)."""
    from loglens.storage import schema

    text = schema.SCHEMA + repr(getattr(schema, "ROLLUPS", ()))
    return hashlib.sha256(text.encode()).hexdigest()


def describe(db_path: Path) -> dict[str, Any]:
    """What the database holds."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        one = db.execute(
            "SELECT COUNT(*), SUM(r.entries), MIN(r.first_ts), MAX(r.last_ts) FROM uploads AS u"
            " JOIN results AS r ON r.blob_id = u.blob_id"
        ).fetchone()
        counts = {
            table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("timeline", "templates", "level_counts", "rejected_samples")
        }
    return {"uploads": one[0], "entries": one[1], "first": one[2], "last": one[3], **counts}


class Api:
    """`python -m loglens api` on port 0 over the benchmark database."""

    def __init__(self, db_path: Path, log_path: Path, cache_mb: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("API_HOST", "API_PORT")}
        env.update({"AUTH_TOKENS": f"bench:{TOKEN}", "PYTHONPATH": str(ROOT)})
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "loglens", "api", "--env-file", os.devnull,
                 "--host", "127.0.0.1", "--port", "0", "--db-path", str(db_path),
                 "--cache-mb", str(cache_mb)],
                stdout=log, stderr=log, env=env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            match = _LISTENING.search(log_path.read_text(errors="replace"))
            if match:
                self.host, self.port = match.group(1), int(match.group(2))
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the API did not start:\n{log_path.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def time_gets(api: Api, path: str, requests: int, concurrency: int) -> list[float]:
    """Seconds per GET of `path`, over keep-alive connections, after a warm-up."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    timings: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        conn = http.client.HTTPConnection(api.host, api.port, timeout=60)
        mine = []
        for i in range(count + 5):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
            if i >= 5:  # warm-up
                mine.append(elapsed)
        conn.close()
        with lock:
            timings.extend(mine)

    threads = [
        threading.Thread(target=client, args=(requests // concurrency,)) for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def time_select_one(db_path: Path, requests: int) -> list[float]:
    """Seconds per `SELECT 1` through aiosqlite on a read-only connection (no HTTP)."""
    import aiosqlite

    async def run() -> list[float]:
        timings = []
        async with aiosqlite.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            for i in range(requests + 5):
                started = time.perf_counter()
                async with conn.execute("SELECT 1") as cursor:
                    await cursor.fetchall()
                if i >= 5:
                    timings.append(time.perf_counter() - started)
        return timings

    return asyncio.run(run())


def percentile(values: list[float], share: float) -> float:
    """The `share` quantile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] * 1000


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the database, serve it, time the endpoints and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=200, help="logs analysed for real")
    parser.add_argument("--entries", type=int, default=10_000_000, help="at least, in all")
    parser.add_argument("--requests", type=int, default=300, help="timed GETs per query")
    parser.add_argument("--concurrency", type=int, default=1, help="clients at once")
    parser.add_argument("--rounds", type=int, default=1, help="runs of it all; medians shown")
    parser.add_argument(
        "--target-ms", type=float, default=TARGET_P99_MS, help="p99 target, without the cache"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be at least 1")

    db_path = ensure_database(args.uploads, args.distinct, args.entries)
    held = describe(db_path)
    print(
        f"database: {held['uploads']:,} uploads, {held['entries']:,} entries "
        f"({held['first'][:10]} to {held['last'][:10]}); rows: {held['timeline']:,} timeline, "
        f"{held['templates']:,} templates, {held['level_counts']:,} level counts"
    )
    if held["uploads"] < args.uploads or held["entries"] < args.entries:
        print("warning: fewer uploads or entries than asked for", file=sys.stderr)
    first, last = date.fromisoformat(held["first"][:10]), date.fromisoformat(held["last"][:10])
    week = first + (last - first) / 2
    window = f"start={week.isoformat()}&end={(week + timedelta(days=7)).isoformat()}"
    baselines: tuple[tuple[str, str | None], ...] = (
        ("baseline: /healthz (no token, no db)", "/healthz"),
        ("baseline: /me (token check, no db)", "/me"),
        ("baseline: SELECT 1 via aiosqlite (no http)", None),
    )
    queries = (
        ("/logs/stats", "/logs/stats"),
        ("/logs/stats?operator=op3", "/logs/stats?operator=op3"),
        ("/logs/stats?level=ERROR", "/logs/stats?level=ERROR"),
        ("/logs/stats?start&end (one week)", f"/logs/stats?{window}"),
        ("/timeline (auto: day)", "/timeline"),
        ("/timeline?bucket=hour", "/timeline?bucket=hour"),
        ("/timeline?bucket=minute", "/timeline?bucket=minute"),
        ("/timeline?operator=op3 (auto)", "/timeline?operator=op3"),
        ("/timeline?start&end (one week, auto)", f"/timeline?{window}"),
        ("/anomalies", "/anomalies"),
        ("/categories", "/categories"),
        ("/trend?by=category&bucket=day", "/trend?by=category&bucket=day"),
    )
    figures: dict[str, list[tuple[float, float, float]]] = {}  # label -> (p50, p99, mean)
    loads: list[str] = []
    for _round in range(args.rounds):
        before = os.getloadavg()[0]
        for label, timings in run_round(db_path, baselines, queries, args):
            p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
            figures.setdefault(label, []).append((p50, p99, statistics.fmean(timings) * 1000))
        loads.append(f"{before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(json.dumps({"database": held}, default=str), file=sys.stderr)
    return report(figures, loads, args)


def run_round(
    db_path: Path,
    baselines: tuple[tuple[str, str | None], ...],
    queries: tuple[tuple[str, str], ...],
    args: argparse.Namespace,
) -> list[tuple[str, list[float]]]:
    """One round: the baselines and the queries without the cache, then with it."""
    results: list[tuple[str, list[float]]] = []
    for cache_mb, runs in ((0, (*baselines, *queries)), (64, queries)):
        api = Api(db_path, db_path.parent / f"api-{cache_mb}.log", cache_mb)
        try:
            for label, path in runs:
                if path is None:
                    timings = time_select_one(db_path, args.requests)
                else:
                    timings = time_gets(api, path, args.requests, args.concurrency)
                cached = cache_mb > 0 and not label.startswith("baseline")
                results.append((f"{label} [cached]" if cached else label, timings))
        finally:
            api.stop()
    return results


def report(
    figures: dict[str, list[tuple[float, float, float]]],
    loads: list[str],
    args: argparse.Namespace,
) -> int:
    """Print the table of medians over the rounds; 0 if the uncached queries meet the target."""
    rounds = f"median of {args.rounds} rounds, " if args.rounds > 1 else ""
    print(
        f"\n{args.requests} requests each, {args.concurrency} client(s) at once; {rounds}"
        "first without the answer cache (--cache-mb 0), then [cached] with it"
    )
    print(f"load average (1 min) before -> after each round: {'; '.join(loads)}")
    spread = args.rounds > 1
    print(
        f"{'query':<46} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'p50/healthz':>12}"
        + (f" {'p99 range':>15}" if spread else "")
    )
    base = statistics.median(p50 for p50, _p99, _mean in next(iter(figures.values())))
    failed = []
    for label, values in figures.items():
        p50, p99, mean = (statistics.median(column) for column in zip(*values, strict=True))
        line = f"{label:<46} {p50:8.2f} {p99:8.2f} {mean:8.2f} {p50 / base:11.1f}x"
        if spread:
            line += f" {min(v[1] for v in values):7.1f}-{max(v[1] for v in values):<7.1f}"
        print(line)
        if not label.startswith("baseline") and "[cached]" not in label and p99 >= args.target_ms:
            failed.append(label)
    verdict = "met" if not failed else f"missed by {', '.join(failed)}"
    print(f"\ntarget p99 < {args.target_ms:g} ms, without the cache: {verdict}")
    print(json.dumps({"figures": figures, "loads": loads}), file=sys.stderr)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
