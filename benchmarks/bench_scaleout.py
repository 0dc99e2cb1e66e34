"""The Celery scale-out against the embedded processor, on the same machine, in one run.

    python -m benchmarks.bench_scaleout [--size 1GiB] [--workers 2] [--broker URL] [--runs 1]

One big generated log (cached under benchmarks/out/) is stored as a blob and analysed by
the processor process as a job, from the job message to its "done":
- embedded: BROKER_URL empty, a pool of WORKERS=N processes (the default mode);
- distributed: BROKER_URL set (RabbitMQ by default), N `python -m loglens worker`
  processes of one pool process each, the processor merging what they send back.
Both jobs' stored reports must be equal. Prints the seconds and the ratio (target <= 1.15),
then two costs measured apart:
- per-task overhead: a task of one tiny block sent to a worker and answered, one after
  the other, less the same block summarised in this process;
- the reduce's cost per block: reading a partial file back (JSON + Arrow, SHA-256 checked)
  and merging it in order as the processor does, over the tasks of the file's first blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_throughput import OUT, ensure_log  # noqa: E402
from loglens import messages  # noqa: E402
from loglens.config import Config, load_config, parse_size  # noqa: E402
from loglens.processor.service import run_processor  # noqa: E402
from loglens.storage import Database  # noqa: E402

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
TIMEOUT = 3600.0


def main() -> int:
    """Run the benchmark; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB", help="log size (1GiB)")
    parser.add_argument("--format", default="log4j", help="log format (log4j)")
    parser.add_argument("--workers", type=int, default=2, help="workers, both modes (2)")
    parser.add_argument("--broker", default=RABBITMQ, help="BROKER_URL (local RabbitMQ)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each mode; best kept (1)")
    parser.add_argument("--tiny-tasks", type=int, default=200, help="tasks for the overhead")
    args = parser.parse_args()
    log = ensure_log(parse_size(args.size, "--size"), args.format, 1)
    with tempfile.TemporaryDirectory(dir=OUT, prefix="scaleout-") as scratch:
        storage = Path(scratch, "storage")
        blob = storage / "ab" / "blob"
        blob.parent.mkdir(parents=True)
        try:
            os.link(log, blob)  # the same bytes and mtime, no copy of a gigabyte
        except OSError:
            shutil.copy2(log, blob)
        queue = f"loglens-bench-{uuid.uuid4().hex[:8]}"
        base = {"STORAGE_PATH": str(storage), "WORKERS": str(args.workers)}
        remote = {**base, "BROKER_URL": args.broker, "BROKER_QUEUE": queue}
        size = blob.stat().st_size
        print(f"{log.name}: {size / 2**20:,.0f} MiB, {args.workers} workers, {args.broker}")
        times: dict[str, list[float]] = {"embedded": [], "distributed": []}
        reports: dict[str, list[dict[str, Any]]] = {"embedded": [], "distributed": []}
        with _workers(remote, args.workers, Path(scratch)):
            for run in range(args.runs):
                for mode, env in (("embedded", base), ("distributed", remote)):
                    db = Path(scratch, f"{mode}-{run}.db")
                    seconds, report = _job(load_config({**env, "DB_PATH": str(db)}), blob)
                    times[mode].append(seconds)
                    reports[mode].append(report)
                    print(f"  {mode:12} run {run + 1}: {seconds:7.2f} s")
            overhead = _task_overhead(load_config(remote), storage, args.tiny_tasks)
        embedded, distributed = min(times["embedded"]), min(times["distributed"])
        first = reports["embedded"][0]
        same = all(report == first for mode in reports.values() for report in mode)
        if not same:
            for mode, made in reports.items():
                for run, report in enumerate(made):
                    where = OUT / f"scaleout-report-{mode}-{run + 1}.json"
                    where.write_text(json.dumps(report, indent=1, sort_keys=True))
                    print(f"  {mode} run {run + 1}: {_differences(first, report)} -> {where}")
        print(f"embedded     {embedded:7.2f} s  {size / 2**20 / embedded:7.1f} MiB/s")
        print(f"distributed  {distributed:7.2f} s  {size / 2**20 / distributed:7.1f} MiB/s")
        print(f"ratio distributed / embedded: {distributed / embedded:.3f} (target <= 1.15)")
        print(f"identical reports (every run of both modes): {same}")
        print(f"per-task overhead: {overhead * 1000:.2f} ms (round trip less the work)")
        reading, merging, blocks = _reduce_cost(load_config(base), storage, blob)
        print(
            f"reduce per block: {reading:.2f} ms to read a partial back and check it, "
            f"{merging:.2f} ms to merge it (the pool merges too), over {blocks} blocks"
        )
    return 0 if same else 1


@contextmanager
def _workers(env: dict[str, str], count: int, folder: Path) -> Iterator[None]:
    """`count` workers of one pool process each, stopped at the end."""
    started = []
    for number in range(count):
        log = (folder / f"worker-{number}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "loglens", "worker", "--concurrency", "1",
             "--hostname", f"bench{number}@%h", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        started.append((process, log))
    try:
        for number in range(count):
            ping = [sys.executable, "-m", "loglens", "worker", "--ping", "--timeout", "2",
                    "--hostname", f"bench{number}@%h"]  # fmt: skip
            deadline = time.monotonic() + 120
            while subprocess.run(ping, env={**os.environ, **env}, cwd=ROOT,
                                 capture_output=True).returncode:  # fmt: skip
                if time.monotonic() > deadline:
                    raise SystemExit(f"worker {number} did not start")
        yield
    finally:
        for process, log in started:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(120)
            log.close()


def _job(config: Config, blob: Path) -> tuple[float, dict[str, Any]]:
    """Run one job on `blob` in a processor process; return its seconds and report."""
    job_id = asyncio.run(_queue(config.db_path))
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=run_processor, args=(theirs, config))
    process.start()
    theirs.close()
    try:
        _wait(ours, "ready")
        started = time.perf_counter()
        ours.send(messages.job(job_id, str(blob), "big.log"))
        state = _wait(ours, "state", final=True)
        seconds = time.perf_counter() - started
        if state["state"] != "done":
            raise SystemExit(f"the job failed: {state['error']}")
    finally:
        ours.close()
        process.join(120)
    report = asyncio.run(_report(config.db_path, job_id))
    return seconds, report


def _wait(conn: Connection, kind: str, final: bool = False) -> dict[str, Any]:
    while True:
        if not conn.poll(TIMEOUT):
            raise SystemExit("the processor said nothing for an hour")
        message: dict[str, Any] = conn.recv()
        if message["type"] == kind and (not final or message["state"] in ("done", "failed")):
            return message


async def _queue(db_path: Path) -> int:
    async with await Database.open(db_path) as db:
        upload_id = await db.create_upload("bench", "big.log", 1, "0" * 64, "none")
        stored = await db.store_upload(upload_id, "b" * 64, 1, "big.log")
        return stored.job_id


async def _report(db_path: Path, job_id: int) -> dict[str, Any]:
    async with await Database.open(db_path) as db:
        report = await db.job_report(job_id)
    assert report is not None
    return report


def _task_overhead(config: Config, storage: Path, count: int) -> float:
    """Seconds a task costs beyond its work: a task of one tiny block sent to a worker and
    answered, `count` times one after the other, less that block summarised here."""
    from loglens.distributed.app import make_app
    from loglens.distributed.tasks import TASK_NAME
    from loglens.distributed.wire import job_folder, task_message, write_lease
    from loglens.processor.local import run_task

    tiny = storage / "ab" / "tiny"
    tiny.write_text("".join(f"2024-01-01 00:00:{n:02d},000 INFO [main] c.Tiny: step {n}\n"
                            for n in range(20)))  # fmt: skip
    (task,) = _file_tasks(config, tiny, 1)
    job_id = 999_999
    message = task_message(job_id, write_lease(storage, job_id, "ab/tiny"), "ab/tiny", task)
    app = make_app(config)
    try:
        app.send_task(TASK_NAME, args=[message]).get(timeout=120)  # the worker warms up
        started = time.perf_counter()
        for _ in range(count):
            answer = app.send_task(TASK_NAME, args=[message]).get(timeout=120)
            assert "partial" in answer, answer
        remote = (time.perf_counter() - started) / count
    finally:
        app.close()
        shutil.rmtree(job_folder(storage, job_id), ignore_errors=True)
    started = time.perf_counter()
    for _ in range(count):
        run_task(task)
    return remote - (time.perf_counter() - started) / count


def _reduce_cost(
    config: Config, storage: Path, blob: Path, tasks: int = 16
) -> tuple[float, float, int]:
    """Milliseconds per block to read a partial file back (SHA-256 checked) and to merge
    it in order as the processor does, over the file's first `tasks` tasks."""
    from loglens.distributed.partials import dump_summary, read_partial, write_partial
    from loglens.distributed.wire import job_folder, partial_name
    from loglens.processor.local import _OrderedMerge, run_task

    job_id = 999_998
    written = []
    for task in _file_tasks(config, blob, tasks):
        name = storage / partial_name(job_id, task.index)
        written.append((task, name, write_partial(name, dump_summary(run_task(task)))))
    reading = merging = 0.0
    merge = _OrderedMerge({0: "big.log"}, [])
    for task, name, sha256 in written:
        started = time.perf_counter()
        summary, _worker = read_partial(name, sha256)
        between = time.perf_counter()
        merge.add(task, summary)
        merging += time.perf_counter() - between
        reading += between - started
    started = time.perf_counter()
    merge.finish()
    merging += time.perf_counter() - started
    shutil.rmtree(job_folder(storage, job_id), ignore_errors=True)
    blocks = sum(len(task.blocks) for task, _name, _sha in written)
    return reading / blocks * 1000, merging / blocks * 1000, blocks


def _file_tasks(config: Config, path: Path, count: int) -> list[Any]:
    """The first `count` block tasks of a file, as the processor makes them."""
    from itertools import islice

    from loglens.processor.local import _detect, _tasks
    from loglens.processor.options import file_source, options_from_config

    options = options_from_config(config)
    source = file_source(path, path.name)
    detection, head = _detect(source, options)
    return list(islice(_tasks([(0, source, detection, head)], options, None, _refuse), count))


def _differences(one: Any, other: Any, where: str = "") -> list[str]:
    """Where two reports differ (JSON paths, the first few)."""
    if isinstance(one, dict) and isinstance(other, dict):
        found = []
        for key in sorted(set(one) | set(other)):
            found += _differences(one.get(key), other.get(key), f"{where}.{key}")
        return found[:10]
    if isinstance(one, list) and isinstance(other, list) and len(one) == len(other):
        found = []
        for number, (a, b) in enumerate(zip(one, other, strict=True)):
            found += _differences(a, b, f"{where}[{number}]")
        return found[:10]
    return [] if one == other else [where or "."]


def _refuse(_number: int, problem: Exception) -> None:
    raise problem


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
