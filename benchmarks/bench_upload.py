"""Upload throughput, concurrency and end-to-end time of the real server, in one run.

    python benchmarks/bench_upload.py [--rounds 3] [--size 1GiB] [--clients 200]
                                      [--client-size 5MiB] [--workers N] [--no-same]

Generates (once, cached under benchmarks/out/) a big log with the project's generator and
cuts CLIENTS distinct pieces of CLIENT_SIZE from it at line starts. Each round, on a fresh
`python server.py` (port 0, its own storage and database in a temporary folder under
benchmarks/out/, started and quiet before any clock runs), measures one after the other:
1. the raw socket copy of the big file (see `benchmarks/uploadkit.py`): sendfile over
   loopback to another process that writes it to a file in the server's storage folder
   and fsyncs it: the physical limit;
2. the same file uploaded with `upload_file(..., wait=True)`: MiB/s until STORED (send
   while hashing — the client hashes files of 64 MiB or more as it sends them and puts
   the SHA-256 in END —, the server's last fsync, verification and rename), split at the
   client's
   progress events, and the end-to-end time until PROCESSED (the job done, its results in
   the database), then checked in the database read-only;
3. `python processor.py FILE --json` on the same file (the end-to-end baseline is the
   upload time of step 2 plus this);
4. CLIENTS concurrent `upload_file` calls of the distinct pieces, in one asyncio loop in
   this process, on a fresh server; then (unless --no-same) all of them the same piece.
Targets (issue 3): upload >= 50 % of raw; zero failures; end to end <= 1.1x.
Before each measurement it waits (at most --quiet-wait s) until the machine uses fewer than
--quiet-cpus CPUs, as other people's tests come and go. Every figure is a median of the
rounds, each round shown; "others" is the CPU the rest of the machine used meanwhile, in
CPUs (of os.cpu_count()).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_throughput import OUT, ensure_log  # noqa: E402
from benchmarks.uploadkit import (  # noqa: E402
    TOKEN,
    ServerProcess,
    machine_cpu,
    process_cpu,
    raw_copy,
    tree_cpu,
    wait_for_machine,
)
from loglens.client import UploadError, UploadEvent, upload_file  # noqa: E402
from loglens.config import parse_size  # noqa: E402

MIB = 1024 * 1024
Settle = Callable[[], object]
_JOB_DONE = re.compile(r"job \d+ \(.*\): done in ([\d.]+) s")


class Clock:
    """CPU seconds of this process, of the server's process (its loop and I/O threads) and
    of its processor's tree, and of the whole machine, since the clock was made; what the
    machine used beyond ours is the others'."""

    def __init__(self, server: ServerProcess | None = None) -> None:
        self.server = server
        self.start = time.perf_counter()
        self._at = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        server = tree = 0.0
        if self.server is not None:
            server, tree = process_cpu(self.server.pid), tree_cpu(self.server.pid)
        return time.process_time(), server, tree - server, machine_cpu()

    def lap(self, extra_cpu: float = 0.0) -> Usage:
        """The time and CPU since the clock was made; `extra_cpu`: other processes of ours."""
        now = self._read()
        wall = time.perf_counter() - self.start
        client, server, processor, machine = (b - a for a, b in zip(self._at, now, strict=True))
        processor = max(0.0, processor)  # two reads of /proc a moment apart
        others = max(0.0, machine - client - server - processor - extra_cpu) / wall
        return Usage(wall, client, server, processor, others)


@dataclass(frozen=True)
class Usage:
    """Seconds of a measurement, the CPU seconds of each of its parts, others' CPUs."""

    wall: float
    client: float  # this process (the raw sender, the upload clients)
    server: float  # the server's process (the raw receiver's, for the raw copy)
    processor: float  # the server's processor process and its workers
    others: float  # CPUs the rest of the machine used, on average


@dataclass
class BigRound:
    """One round of the 1 GiB measurements."""

    raw: Usage
    stored: Usage  # start of upload_file → STORED
    processed: Usage  # start of upload_file → PROCESSED
    stages: dict[str, float]  # seconds per client stage: hashing, sending, verifying
    analysis: float  # the processor's own "done in" time for the job
    local: Usage  # python processor.py FILE --json


@dataclass
class ManyRound:
    """One round of concurrent uploads."""

    usage: Usage
    seconds: list[float] = field(default_factory=list)  # each upload's, the succeeded ones
    failures: list[str] = field(default_factory=list)
    retried: int = 0
    stored: int = 0  # uploads the database says are stored
    jobs: int = 0


def ensure_pieces(big: Path, count: int, size: int) -> list[Path]:
    """`count` distinct files of `size` bytes cut from `big` at line starts (cached)."""
    folder = OUT / f"pieces-{count}x{size}-{big.stem}"
    if not folder.is_dir():
        if count * size > big.stat().st_size:
            raise SystemExit(f"{big.name} is too small for {count} pieces of {size:,} bytes")
        print(f"cutting {count} pieces of {size:,} bytes from {big.name} …", file=sys.stderr)
        partial = folder.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        step = big.stat().st_size // count
        with big.open("rb") as source:
            for index in range(count):
                source.seek(index * step)
                if index:
                    source.readline()  # to the start of the next line
                data = source.read(size)
                if len(data) < size:
                    raise SystemExit(
                        f"{big.name} is too small for {count} pieces of {size:,} bytes"
                    )
                (partial / f"{index:04d}.log").write_bytes(data)
        partial.rename(folder)
    return sorted(folder.glob("*.log"))


def measure_big(path: Path, root: Path, workers: int, settle: Settle) -> BigRound:
    """The raw copy, the upload until PROCESSED, and processor.py, on one fresh server."""
    server = ServerProcess(root, workers).start()
    try:
        settle()
        clock = Clock(server)
        _seconds, receiver_cpu = raw_copy(path, server.storage)
        lap = clock.lap(receiver_cpu)
        raw = Usage(lap.wall, lap.client, receiver_cpu, 0.0, lap.others)
        stages: dict[str, float] = {}
        stored: list[Usage] = []
        settle()
        clock = Clock(server)

        def progress(event: UploadEvent) -> None:
            stages.setdefault(event.stage, time.perf_counter())
            if event.stage == "analysing" and not stored:  # right after STORED
                stored.append(clock.lap())

        result = asyncio.run(
            upload_file(path, server.address, TOKEN, wait=True, retries=0, progress=progress)
        )
        processed = clock.lap()
        if result.state != "done" or not stored:
            raise SystemExit(f"the upload was not analysed: {result.state}: {result.error}")
        _check_job(server, result.job_id)
        analysis = [float(m) for m in _JOB_DONE.findall(server.log())]
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    stored_at = clock.start + stored[0].wall
    split = {
        "hashing": stages["connecting"] - clock.start,
        "sending": stages["verifying"] - stages["connecting"],
        "verifying": stored_at - stages["verifying"],
    }
    settle()
    local = run_processor(path, workers)
    return BigRound(raw, stored[0], processed, split, analysis[0] if analysis else math.nan, local)


def _check_job(server: ServerProcess, job_id: int | None) -> None:
    """The job is done and its results are in the database (read-only)."""
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT jobs.state, results.entries FROM jobs JOIN results USING (blob_id) "
            "WHERE jobs.id = ?",
            (job_id,),
        ).fetchone()
    if row is None or row[0] != "done" or not row[1]:
        raise SystemExit(f"job {job_id}: no results in the database: {row}")


def run_processor(path: Path, workers: int) -> Usage:
    """Time `python processor.py FILE --json` with its CPU and the others'."""
    command = [sys.executable, "processor.py", str(path), "--json", "--quiet"]
    command += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = Clock()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    usage = clock.lap(cpu)
    return Usage(usage.wall, cpu, 0.0, 0.0, usage.others)


def measure_many(files: Sequence[Path], root: Path, workers: int, settle: Settle) -> ManyRound:
    """Upload all `files` at once, each with its own `upload_file`, on a fresh server."""
    server = ServerProcess(root, workers).start()
    try:
        settle()
        clock = Clock(server)
        outcomes = asyncio.run(_upload_all(files, server.address))
        usage = clock.lap()
        with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
            stored = db.execute("SELECT count(*) FROM uploads WHERE status = 'stored'").fetchone()
            jobs = db.execute("SELECT count(*) FROM jobs").fetchone()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    result = ManyRound(usage, stored=stored[0], jobs=jobs[0])
    for seconds, outcome in outcomes:
        if isinstance(outcome, str):
            result.failures.append(outcome)
        else:
            result.seconds.append(seconds)
            result.retried += outcome > 1
    return result


async def _upload_all(
    files: Sequence[Path], address: tuple[str, int]
) -> list[tuple[float, int | str]]:
    """Each upload's seconds and attempts, or its failure."""

    async def one(path: Path) -> tuple[float, int | str]:
        start = time.perf_counter()
        try:
            result = await upload_file(path, address, TOKEN)
        except UploadError as exc:
            return time.perf_counter() - start, f"{exc.code}: {exc.message}"
        return time.perf_counter() - start, result.attempts

    return await asyncio.gather(*(one(path) for path in files))


_CPU_PARTS: list[tuple[str, Callable[[Usage], float]]] = [
    ("client (this loop)", lambda u: u.client),
    ("server process", lambda u: u.server),
    ("processor", lambda u: u.processor),
    ("others", lambda u: u.others * u.wall),
]


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


def _cells(values: Sequence[float], form: str) -> str:
    rounds = " ".join(format(value, form) for value in values)
    middle = statistics.median_low(values) if form.endswith("d") else statistics.median(values)
    return f"{format(middle, form)}  ({rounds})"


def report_big(rounds: list[BigRound], size: int) -> None:
    """Print parts 1 and 3."""
    mib = size / MIB

    def rate(usages: Callable[[BigRound], Usage]) -> list[float]:
        return [mib / usages(r).wall for r in rounds]

    raw, up = rate(lambda r: r.raw), rate(lambda r: r.stored)
    ratios = [a / b for a, b in zip(up, raw, strict=True)]
    print(f"\n1. one upload of {mib:,.0f} MiB over loopback; median (each round)")
    print(f"   raw socket copy   MiB/s {_cells(raw, '6.0f')}")
    print(f"   loglens upload    MiB/s {_cells(up, '6.0f')}   (start of upload_file → STORED)")
    print(f"   loglens / raw           {_cells(ratios, '6.2f')}   target >= 0.50")
    for stage, what in (
        ("hashing", "client hashes before connecting (only files under 64 MiB)"),
        ("sending", "header, DATA frames; the client hashes meanwhile, the server writes, "
                    "hashes, fsyncs every 256 MiB"),
        ("verifying", "END → STORED: server's last fsync, hash check, rename, database"),
    ):  # fmt: skip
        print(f"   {stage:<10} s {_cells([r.stages[stage] for r in rounds], '6.2f')}   {what}")
    print("   CPU s   raw: sender (sendfile) " + _cells([r.raw.client for r in rounds], "5.2f")
          + ", receiver " + _cells([r.raw.server for r in rounds], "5.2f"))  # fmt: skip
    print("   CPU s   loglens: client " + _cells([r.stored.client for r in rounds], "5.2f")
          + ", server process " + _cells([r.stored.server for r in rounds], "5.2f"))  # fmt: skip
    print("   others' CPUs: raw copy " + _cells([r.raw.others for r in rounds], "4.2f")
          + "; upload " + _cells([r.stored.others for r in rounds], "4.2f"))  # fmt: skip
    print(f"\n3. end to end for the {mib:,.0f} MiB file; median (each round)")
    e2e = [r.processed.wall for r in rounds]
    base = [r.stored.wall + r.local.wall for r in rounds]
    print(f"   upload → PROCESSED            s {_cells(e2e, '6.2f')}   (results in the database)")
    print(f"   the job's analysis (its log)  s {_cells([r.analysis for r in rounds], '6.2f')}")
    print(f"   processor.py FILE --json      s {_cells([r.local.wall for r in rounds], '6.2f')}")
    print(f"   upload + processor.py         s {_cells(base, '6.2f')}")
    ratios = [a / b for a, b in zip(e2e, base, strict=True)]
    print(f"   end to end / (upload + processor.py) {_cells(ratios, '5.2f')}   target <= 1.10")
    after = [(r.processed.wall - r.stored.wall) for r in rounds]
    print(f"   STORED → PROCESSED            s {_cells(after, '6.2f')}")
    others = [r.processed.others for r in rounds]
    print(f"   others' CPUs: end to end {_cells(others, '4.2f')}; processor.py "
          f"{_cells([r.local.others for r in rounds], '4.2f')}")  # fmt: skip


def report_many(title: str, rounds: list[ManyRound], total: int) -> None:
    """Print part 2 for one kind of content."""
    print(f"\n2. {title}; median (each round)")
    rates = [total / MIB / r.usage.wall for r in rounds]
    print(f"   aggregate MiB/s          {_cells(rates, '6.0f')}   (first start → last STORED)")
    p50 = [percentile(r.seconds, 0.50) for r in rounds]
    p99 = [percentile(r.seconds, 0.99) for r in rounds]
    print(f"   upload time p50 s        {_cells(p50, '6.2f')}   (hash + connect + send + STORED)")
    print(f"   upload time p99 s        {_cells(p99, '6.2f')}")
    print(f"   failures                 {_cells([len(r.failures) for r in rounds], '6d')}"
          "   target 0")  # fmt: skip
    print(f"   uploads retried          {_cells([r.retried for r in rounds], '6d')}")
    print(f"   stored / jobs (database) {', '.join(f'{r.stored}/{r.jobs}' for r in rounds)}")
    for name, pick in _CPU_PARTS:
        cpus = [pick(r.usage) / r.usage.wall for r in rounds]
        print(f"   CPUs {name:<19} {_cells(cpus, '6.2f')}")
    for failure in sorted({f for r in rounds for f in r.failures})[:5]:
        print(f"   failure: {failure}")


def main() -> None:
    """Measure and print."""
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--size", default="1GiB", help="size of the big log (1GiB)")
    parser.add_argument("--format", default="log4j", help="generator format (log4j)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent uploads (200)")
    parser.add_argument("--client-size", default="5MiB", help="bytes of each (5MiB)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1,
        help="analysis workers of the server and of processor.py (CPUs)",
    )  # fmt: skip
    parser.add_argument("--no-same", action="store_true", help="skip the same-content run")
    parser.add_argument(
        "--quiet-cpus", type=float, default=0.5,
        help="before each measurement, wait until the machine uses fewer CPUs (0.5) …",
    )  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=10, help="… for at most S s (10)")
    args = parser.parse_args()
    big = ensure_log(parse_size(args.size, "--size"), args.format, args.seed)
    piece = parse_size(args.client_size, "--client-size")
    pieces = ensure_pieces(big, args.clients, piece)
    size = big.stat().st_size
    work = Path(tempfile.mkdtemp(prefix="upload-bench-", dir=OUT))
    bigs: list[BigRound] = []
    distinct: list[ManyRound] = []
    same: list[ManyRound] = []
    started = time.perf_counter()

    def settle() -> float:
        return wait_for_machine(args.quiet_cpus, args.quiet_wait)

    try:
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds} …", file=sys.stderr)
            bigs.append(measure_big(big, work / f"big{number}", args.workers, settle))
            distinct.append(measure_many(pieces, work / f"distinct{number}", args.workers, settle))
            if not args.no_same:
                copies = [pieces[0]] * len(pieces)
                same.append(measure_many(copies, work / f"same{number}", args.workers, settle))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(f"file: {big.name}: {size / MIB:,.0f} MiB; {args.clients} pieces of "
          f"{piece / MIB:g} MiB; {os.cpu_count()} CPUs; server WORKERS={args.workers}")  # fmt: skip
    print(f"rounds: {args.rounds}, each: raw copy, upload (wait), processor.py, "
          f"{args.clients} distinct{'' if args.no_same else ', ' + str(args.clients) + ' same'}"
          f"; {time.perf_counter() - started:.0f} s in all; load average at the end "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")  # fmt: skip
    print("raw copy: socket.sendfile over loopback to another process that recv_into()s "
          "1 MiB buffers, writes them to a file in the server's storage folder, fsyncs it, "
          "answers")  # fmt: skip
    report_big(bigs, size)
    report_many(f"{args.clients} concurrent clients x {piece / MIB:g} MiB, distinct files, "
                "one asyncio loop", distinct, args.clients * piece)  # fmt: skip
    if same:
        report_many(f"{args.clients} concurrent clients x {piece / MIB:g} MiB, the same file",
                    same, args.clients * piece)  # fmt: skip


if __name__ == "__main__":
    main()
