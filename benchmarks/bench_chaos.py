"""Uploads and jobs under faults: random SIGKILLs of the server, its processor and workers.

    python benchmarks/bench_chaos.py [--clients 20] [--files 100] [--kills 10]
                                     [--seconds S] [--size 256KiB] [--rate 2MiB]
                                     [--parallel 1] [--workers 2] [--sample 5]
                                     [--seed 12]
                                     [--timeout 900]

Generates CLIENTS x FILES small logs of distinct lines (seeded). Runs, one after the other:
1. the baseline: a fresh `python server.py` and CLIENTS `python client.py` subprocesses,
   each uploading its FILES straight to the server, no faults; elapsed until every job is done;
2. the chaos run: a fresh server on a fixed port behind a throttling TCP proxy written here
   (asyncio, loopback, RATE bytes/s per connection and direction, so that kills land
   mid-transfer); the same clients with many retries; KILLS SIGKILLs at seeded random moments
   within the first SECONDS s after the first upload begins (by default about the time a
   client takes to send its files through the proxy, PARALLEL at a time), each of the server
   (restarted on the same port, storage and database once its orphaned processor has gone),
   the processor (the server replaces it) or one pool worker, found in the process tree.
After each run, with the server up until every job is done (at most TIMEOUT s), it checks:
every file's blob exists and its SHA-256 is the file's, every upload row is stored, one job
and one results row per blob, level counts written once (per blob and in the running
totals), no job failed, every client exited 0 without a traceback, and for SAMPLE files the
entries and levels equal `python processor.py --json` on the same file.
Target (issue 12): 20 x 100 x 10 kills -> 0 lost, 0 duplicated, 0 client crashes, 0 failed.
Exit status 1 if any check fails. Temporary folders and processes are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.proctree import process_tree  # noqa: E402
from benchmarks.uploadkit import TOKEN  # noqa: E402
from loglens.config import parse_size  # noqa: E402
from loglens.errors import ConfigError  # noqa: E402

HOST = "127.0.0.1"
KINDS = ("server", "processor", "worker")
_LISTENING = re.compile(r"listening on \S+:(\d+)")
_PROCESSOR_PID = re.compile(r"processor started \(pid (\d+)\)")
_LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR")
_START_SECONDS = 60.0
_ORPHAN_SECONDS = 20.0
_TARGET_SECONDS = 10.0  # how long a kill waits for a processor or worker to exist
_PROXY_SLICES = 20  # a connection's rate is paced in slices of 1/20 s
# Settings a server or client could otherwise pick up from the caller's environment.
_SETTINGS = re.compile(
    r"^(HOST|PORT|STORAGE_PATH|DB_PATH|AUTH_TOKENS|AUTH_TOKENS_FILE|WORKERS|MAX_\w+|"
    r"IDLE_TIMEOUT|BROKER_URL|DIRECT_RECEIVE_BYTES|LOGLENS_\w+)$"
)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without loglens settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not _SETTINGS.match(k)}
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port free at this moment."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def is_resource_tracker(pid: int) -> bool:
    """Whether `pid` is multiprocessing's resource tracker (left to exit by itself)."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def generate_logs(folder: Path, clients: int, files: int, size: int, seed: int) -> list[list[Path]]:
    """`clients` lists of `files` logs of about `size` bytes, every line distinct."""
    rng = random.Random(seed)
    plan: list[list[Path]] = []
    for client in range(clients):
        mine = folder / f"client-{client:03d}"
        mine.mkdir(parents=True)
        paths = []
        for index in range(files):
            lines, total, n = [], 0, 0
            while total < size:
                second = n % 86400
                line = (
                    f"2024-05-{1 + client % 28:02d} {second // 3600:02d}:{second // 60 % 60:02d}:"
                    f"{second % 60:02d},{n % 1000:03d} {rng.choice(_LEVELS)} [client-{client}] "
                    f"file {index} request {n} took {rng.randrange(1, 900)} ms\n"
                )
                lines.append(line)
                total += len(line)
                n += 1
            path = mine / f"file-{index:04d}.log"
            path.write_text("".join(lines))
            paths.append(path)
        plan.append(paths)
    return plan


class Server:
    """A `python server.py` on a fixed port in its own session; restartable in place."""

    def __init__(self, root: Path, port: int, workers: int) -> None:
        self.root = root
        # An empty settings file: no .env of the caller's is read (client.py wants a file).
        self.env_file = root / "empty.env"
        self.port = port
        self.workers = workers
        self.storage = root / "storage"
        self.db_path = root / "loglens.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.orphans_killed = 0

    @property
    def log_path(self) -> Path:
        """The log of the current start (each start writes its own)."""
        return self.root / f"server-{self.starts}.log"

    def log(self) -> str:
        """What the current start has logged so far."""
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        """Start it and wait until it listens and its processor is ready."""
        self.starts += 1
        self.env_file.touch()
        env = clean_env(
            HOST=HOST,
            PORT=str(self.port),
            STORAGE_PATH=str(self.storage),
            DB_PATH=str(self.db_path),
            AUTH_TOKENS=f"bench:{TOKEN}",
            WORKERS=str(self.workers),
        )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), "--env-file", str(self.env_file)],
                stdout=log, stderr=log, env=env, cwd=self.root, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            text = self.log()
            if _LISTENING.search(text) and "processor ready" in text:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{text}")
            time.sleep(0.05)
        raise RuntimeError(f"the server was not ready within {_START_SECONDS:g} s:\n{self.log()}")

    def processor_pid(self) -> int | None:
        """The current processor's pid, if it is alive."""
        found = _PROCESSOR_PID.findall(self.log())
        return int(found[-1]) if found and alive(int(found[-1])) else None

    def workers_pids(self) -> list[int]:
        """The live pool workers of the current processor."""
        processor = self.processor_pid()
        if processor is None:
            return []
        return [
            pid
            for pid in process_tree(processor)[1:]
            if alive(pid) and not is_resource_tracker(pid)
        ]

    def kill_and_restart(self) -> None:
        """SIGKILL the server process alone, wait for its orphans to exit (kill those that
        do not within a bound, and count them), start it again on the same port."""
        assert self.process is not None
        orphans = [p for p in process_tree(self.process.pid)[1:] if not is_resource_tracker(p)]
        self.process.kill()
        self.process.wait(10)
        deadline = time.monotonic() + _ORPHAN_SECONDS
        while any(alive(p) for p in orphans) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in orphans:
            if alive(pid):
                self.orphans_killed += 1
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.start()

    def stop(self) -> None:
        """Kill it and its processes but the resource trackers (they clean up and exit)."""
        if self.process is None:
            return
        for pid in process_tree(self.process.pid):
            if not is_resource_tracker(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Rows of a read-only query of its database."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            return db.execute(sql, args).fetchall()


class ThrottlingProxy:
    """A loopback TCP proxy to `target_port`, `rate` bytes/s per connection and direction,
    run by its own event loop in a thread."""

    def __init__(self, target_port: int, rate: int) -> None:
        self.target_port = target_port
        self.rate = rate
        self.port = 0
        self.connections = 0
        self.open = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        """Listen on a free loopback port (`self.port`)."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        # asyncio holds tasks weakly: a connection whose sockets wait on nothing the loop
        # holds would be collected mid-flight; held here, it counts as still open instead.
        this = asyncio.current_task()
        assert this is not None
        self._handlers.add(this)
        try:
            await self._relay(reader, writer)
        finally:
            self.open -= 1
            self._handlers.discard(this)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:  # the server is down: the client sees a dropped connection
            writer.transport.abort()
            return
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._handlers.update(pumps)
        try:
            done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            self._handlers.difference_update(pumps)
        # Every finished pump's exception is looked at (any() would stop at the first).
        failures = [task.exception() for task in done]
        if any(failures):  # a reset: drop both sides at once
            for task in pending:
                task.cancel()
            writer.transport.abort()
            up_writer.transport.abort()
            await asyncio.gather(*pending, return_exceptions=True)
            return
        writer.close()
        up_writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy at `rate` bytes/s until EOF, then pass the EOF on (a half close)."""
        chunk = max(1, self.rate // _PROXY_SLICES)
        start = time.monotonic()
        sent = 0
        while data := await reader.read(chunk):
            writer.write(data)
            await writer.drain()
            sent += len(data)
            ahead = sent / self.rate - (time.monotonic() - start)
            if ahead > 0:
                await asyncio.sleep(ahead)
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()

    def stop(self) -> int:
        """Stop listening, drop the connections still open, stop the loop; return how many
        connections were still open (none should be once every client has exited)."""
        if not self._thread.is_alive():
            return 0
        future = asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop)
        still_open = future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        return still_open

    async def _drop_all(self) -> int:
        if self._server is not None:
            self._server.close()
        still_open = self.open
        this = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not this]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return still_open


@dataclass
class Outcome:
    """The figures of one run."""

    elapsed: float = 0.0
    kills: Counter[str] = field(default_factory=Counter)
    missed_kills: int = 0  # no processor or worker appeared within _TARGET_SECONDS
    proxy_left_open: int = 0  # proxied connections still open after the clients exited
    lost: int = 0
    duplicated: int = 0
    rows_not_stored: int = 0
    upload_rows: int = 0
    client_crashes: int = 0
    jobs_failed: int = 0
    jobs_not_done: int = 0
    mismatched: int = 0
    orphans_killed: int = 0
    in_flight: list[int] = field(default_factory=list)  # proxied connections at each kill
    connections: int = 0
    problems: list[str] = field(default_factory=list)


def start_clients(
    plan: list[list[Path]], port: int, retries: int, parallel: int, folder: Path
) -> list[subprocess.Popen[bytes]]:
    """One `python client.py` per list of files, its stderr in a file under `folder`."""
    env = clean_env()
    options = ["--server", f"{HOST}:{port}", "--token", TOKEN, "--quiet",
               "--env-file", str(folder / "empty.env"), "--retries", str(retries),
               "--timeout", "20", "--parallel", str(parallel)]  # fmt: skip
    clients = []
    for index, paths in enumerate(plan):
        command = [sys.executable, str(ROOT / "client.py"), *map(str, paths), *options]
        with open(folder / f"client-{index:03d}.err", "wb") as err:
            client = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=folder
            )
        clients.append(client)
    return clients


def wait_jobs(server: Server, blobs: int, deadline: float) -> None:
    """Wait until the database holds `blobs` jobs, none queued or running."""
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            [(total, open_jobs)] = server.query(
                "SELECT count(*), coalesce(sum(state IN ('queued', 'running')), 0) FROM jobs"
            )
            if total == blobs and open_jobs == 0:
                return
        time.sleep(0.2)


def kill_one(kind: str, server: Server, rng: random.Random, outcome: Outcome) -> None:
    """SIGKILL one process of `kind`; the server is restarted in place."""
    if kind == "server":
        server.kill_and_restart()
        outcome.kills[kind] += 1
        return
    pids: list[int] = []
    deadline = time.monotonic() + _TARGET_SECONDS
    while not pids and time.monotonic() < deadline:  # a processor may be starting its pool
        if kind == "processor":
            processor = server.processor_pid()
            pids = [processor] if processor is not None else []
        else:
            pids = server.workers_pids()
        if not pids:
            time.sleep(0.05)
    if not pids:
        outcome.missed_kills += 1
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(rng.choice(pids), signal.SIGKILL)
        outcome.kills[kind] += 1


def run(plan: list[list[Path]], root: Path, args: argparse.Namespace, chaos: bool) -> Outcome:
    """One run: clients upload the plan, through the proxy with kills if `chaos`."""
    outcome = Outcome()
    rng = random.Random(args.seed)
    schedule = sorted(rng.uniform(0.5, args.seconds) for _ in range(args.kills)) if chaos else []
    kinds = [rng.choice(KINDS) for _ in schedule]
    blobs = len({sha256(path) for paths in plan for path in paths})
    root.mkdir()
    server = Server(root, free_port(), args.workers)
    proxy = ThrottlingProxy(server.port, args.rate) if chaos else None
    clients: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        port = server.port
        if proxy is not None:
            proxy.start()
            port = proxy.port
        start = time.monotonic()
        deadline = start + args.timeout
        clients = start_clients(plan, port, 1000 if chaos else 0, args.parallel, root)
        # The kill clock starts with the first upload, not with the clients' start-up.
        kill_clock = start
        while proxy is not None and not proxy.connections and time.monotonic() < deadline:
            time.sleep(0.01)
            kill_clock = time.monotonic()
        for moment, kind in zip(schedule, kinds, strict=True):
            while time.monotonic() - kill_clock < moment:
                time.sleep(0.01)
            if proxy is not None:
                outcome.in_flight.append(proxy.open)
            kill_one(kind, server, rng, outcome)
        for client in clients:
            try:
                client.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                outcome.problems.append(f"client {client.pid} still running at the deadline")
                client.kill()
                client.wait()
        if any(client.returncode == 0 for client in clients):
            wait_jobs(server, blobs, deadline)
        outcome.elapsed = time.monotonic() - start
        outcome.orphans_killed = server.orphans_killed
        outcome.connections = proxy.connections if proxy is not None else 0
        for index, client in enumerate(clients):
            err = (root / f"client-{index:03d}.err").read_text(errors="replace")
            if client.returncode != 0 or "Traceback" in err:
                outcome.client_crashes += 1
                last = err.strip().splitlines()[-1:] or ["(no stderr)"]
                outcome.problems.append(f"client {index} exit {client.returncode}: {last[0]}")
        verify(plan, server, rng, args.sample, outcome)
        return outcome
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
        if proxy is not None:
            outcome.proxy_left_open = proxy.stop()
        server.stop()


def sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(
    plan: list[list[Path]], server: Server, rng: random.Random, sample: int, outcome: Outcome
) -> None:
    """Count what was lost, duplicated, failed or wrong in the server's storage and database."""
    files = [path for paths in plan for path in paths]
    blobs = {row[0]: row for row in server.query("SELECT sha256, id, path FROM blobs")}
    uploads = Counter(
        (str(name), str(status))
        for name, status in server.query("SELECT original_name, status FROM uploads")
    )
    outcome.upload_rows = sum(uploads.values())
    outcome.rows_not_stored = sum(n for (_, status), n in uploads.items() if status != "stored")
    for path in files:
        digest = sha256(path)
        row = blobs.get(digest)
        stored = row is not None and (server.storage / str(row[2])).is_file()
        if not stored or uploads[(str(path), "stored")] == 0:
            outcome.lost += 1
            outcome.problems.append(f"lost: {path.name} of {path.parent.name}")
        elif row is not None and sha256(server.storage / str(row[2])) != digest:
            outcome.lost += 1
            outcome.problems.append(f"corrupt blob: {path.name} of {path.parent.name}")
    [(jobs, job_blobs, results, result_blobs)] = server.query(
        "SELECT (SELECT count(*) FROM jobs), (SELECT count(DISTINCT blob_id) FROM jobs), "
        "(SELECT count(*) FROM results), (SELECT count(DISTINCT blob_id) FROM results)"
    )
    doubled = server.query(
        "SELECT r.blob_id FROM results r LEFT JOIN level_counts l ON l.blob_id = r.blob_id "
        "GROUP BY r.blob_id HAVING coalesce(sum(l.count), 0) != r.entries"
    )
    [(per_blob, running_total)] = server.query(
        "SELECT (SELECT coalesce(sum(count), 0) FROM level_counts), "
        "(SELECT coalesce(sum(count), 0) FROM level_counts_all)"
    )
    outcome.duplicated = jobs - job_blobs + results - result_blobs + len(doubled)
    if per_blob != running_total:
        outcome.duplicated += 1
        outcome.problems.append(f"running level totals {running_total} != per blob {per_blob}")
    states = dict(server.query("SELECT state, count(*) FROM jobs GROUP BY state"))
    outcome.jobs_failed = states.get("failed", 0)
    done = states.get("done", 0)
    # Blobs whose job is missing, queued or running, and done jobs without results.
    outcome.jobs_not_done = max(0, len(blobs) - done - outcome.jobs_failed)
    outcome.jobs_not_done += max(0, done - result_blobs)
    for error in server.query("SELECT error FROM jobs WHERE state = 'failed' LIMIT 3"):
        outcome.problems.append(f"job failed: {error[0]}")
    for path in rng.sample(files, min(sample, len(files))):
        outcome.mismatched += not matches_processor(path, server)


def matches_processor(path: Path, server: Server) -> bool:
    """Whether the stored entries and levels of `path` equal `processor.py --json`'s."""
    local = subprocess.run(
        [sys.executable, str(ROOT / "processor.py"), str(path), "--json", "--quiet",
         "--workers", "1", "--env-file", str(server.env_file)],
        capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
    )  # fmt: skip
    if local.returncode != 0:
        return False
    expected = json.loads(local.stdout)
    digest = sha256(path)
    entries = server.query(
        "SELECT r.entries FROM results r JOIN blobs b ON b.id = r.blob_id WHERE b.sha256 = ?",
        digest,
    )
    levels = dict(
        server.query(
            "SELECT l.level, l.count FROM level_counts l JOIN blobs b ON b.id = l.blob_id "
            "WHERE b.sha256 = ?",
            digest,
        )
    )
    return entries == [(expected["entries"],)] and levels == expected["levels"]


def report(args: argparse.Namespace, files: int, base: Outcome, chaos: Outcome) -> bool:
    """Print the figures; whether every check passed."""
    kills = ", ".join(f"{kind} {chaos.kills[kind]}" for kind in KINDS)
    ratio = chaos.elapsed / base.elapsed if base.elapsed else float("nan")
    print(f"clients {args.clients} ({args.parallel} file(s) at once each), files {files} "
          f"({args.files} each, ~{args.size:,} B), "
          f"workers {args.workers}, seed {args.seed}")  # fmt: skip
    print(f"proxy: {args.rate:,} B/s per connection; {chaos.connections} connections, "
          f"{chaos.proxy_left_open} still open at the end; open at each kill: "
          f"{chaos.in_flight}; kills within the first {args.seconds:.1f} s")  # fmt: skip
    print(
        f"kills: {sum(chaos.kills.values())} of {args.kills} ({kills}); "
        f"missed (no target within {_TARGET_SECONDS:g} s) "
        f"{chaos.missed_kills}; orphans killed {chaos.orphans_killed}"
    )
    print(f"{'':34}{'baseline':>10}{'chaos':>10}")
    rows = [
        ("elapsed (s)", f"{base.elapsed:.1f}", f"{chaos.elapsed:.1f}"),
        ("lost", base.lost, chaos.lost),
        ("duplicated", base.duplicated, chaos.duplicated),
        ("client crashes", base.client_crashes, chaos.client_crashes),
        ("jobs failed", base.jobs_failed, chaos.jobs_failed),
        ("jobs not done", base.jobs_not_done, chaos.jobs_not_done),
        ("upload rows", base.upload_rows, chaos.upload_rows),
        ("rows not stored", base.rows_not_stored, chaos.rows_not_stored),
        (f"sample != processor.py (of {min(args.sample, files)})", base.mismatched,
         chaos.mismatched),
    ]  # fmt: skip
    for name, left, right in rows:
        print(f"{name:34}{left!s:>10}{right!s:>10}")
    print(f"chaos / baseline elapsed: {ratio:.2f}x")
    ok = True
    for name, outcome in (("baseline", base), ("chaos", chaos)):
        bad = (
            outcome.lost + outcome.duplicated + outcome.client_crashes + outcome.jobs_failed
            + outcome.jobs_not_done + outcome.rows_not_stored + outcome.mismatched
        )  # fmt: skip
        ok = ok and bad == 0 and not outcome.problems
        for problem in outcome.problems[:10]:
            print(f"{name}: {problem}")
    print("PASS" if ok else "FAIL")
    return ok


def size_arg(text: str) -> int:
    """A byte size argument such as `256KiB`."""
    try:
        return parse_size(text, "size")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that a killed benchmark still cleans up."""

    def handle(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, handle)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the baseline and the chaos run and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--files", type=int, default=100, help="files per client")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument(
        "--seconds", type=float, help="window of the kills (default: FILES x SIZE / RATE)"
    )
    parser.add_argument("--parallel", type=int, default=1, help="files at once per client")
    parser.add_argument("--size", type=size_arg, default=256 * 1024, help="bytes per file")
    parser.add_argument("--rate", type=size_arg, default=2 * 1024 * 1024, help="proxy B/s")
    parser.add_argument("--workers", type=int, default=2, help="the server's pool workers")
    parser.add_argument("--sample", type=int, default=5, help="files checked by processor.py")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=900.0, help="bound per run (s)")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    if min(args.clients, args.files, args.size, args.rate) < 1 or args.kills < 0:
        parser.error("--clients, --files, --size and --rate must be positive, --kills >= 0")
    if args.seconds is None:  # about the time one client takes to send its files
        args.seconds = max(
            1.0, args.files * args.size / (args.rate * min(args.parallel, args.files))
        )
    if args.seconds <= 0.5 or args.timeout <= args.seconds or args.parallel < 1:
        parser.error("--seconds must be over 0.5 and under --timeout, --parallel positive")
    folder = Path(tempfile.mkdtemp(prefix="bench_chaos-"))
    try:
        plan = generate_logs(folder / "logs", args.clients, args.files, args.size, args.seed)
        base = run(plan, folder / "baseline", args, chaos=False)
        chaos = run(plan, folder / "chaos", args, chaos=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if report(args, args.clients * args.files, base, chaos) else 1


if __name__ == "__main__":
    sys.exit(main())
