"""Jobs survive crashes: a server killed with jobs queued and running finishes each once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

from tests.conftest import MakeLog, run_cli
from tests.integration.conftest import ServerFactory, ServerHandle, rows
from tests.integration.wire import upload

_PROCESSOR_PID = re.compile(r"processor started \(pid (\d+)\)")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition: Any, timeout: float = 60, what: str = "condition") -> None:
    """Poll `condition()` until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def mtime(path: Path) -> float:
    """A file's modification time, sent so that year-less stamps get the same year."""
    return path.stat().st_mtime


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without the file names, which differ between an upload and a local path."""
    keep = dict(report)
    keep.pop("formats")
    keep.pop("rejected_samples")
    keep["top_errors"] = [{k: v for k, v in t.items() if k != "file"} for t in keep["top_errors"]]
    keep["anomalies"] = [
        {**a, "examples": [e["line"] for e in a["examples"]]} for a in keep["anomalies"]
    ]
    return keep


def _a_job_running(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> tuple[ServerHandle, Path, int]:
    """A server whose processor is running the job of a big upload: the server, the
    uploaded file and the processor's pid."""
    server = server_factory(WORKERS="1", CHUNK_BYTES="1MiB")
    sample, _ = make_log("log4j", lines=3000)
    big = tmp_path / "big.log"
    big.write_bytes(sample.read_bytes() * 60)  # long enough to be caught running
    os.utime(big, (sample.stat().st_mtime,) * 2)
    asyncio.run(upload(server.address, "s3cret", big.read_bytes(), name=big.name, mtime=mtime(big)))
    wait_until(lambda: rows(server, "SELECT state FROM jobs") == [("running",)], what="running")
    return server, big, int(_PROCESSOR_PID.findall(server.log())[-1])


def test_a_killed_server_finishes_every_job_once_after_restart(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server, big, processor = _a_job_running(server_factory, make_log, tmp_path)
    others = [make_log(fmt, lines=800)[0] for fmt in ("syslog", "python", "jsonl", "apache_access")]
    frozen = [processor, *descendants(processor)]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)  # hold the processor where it is
    for path in others:
        data = path.read_bytes()
        asyncio.run(upload(server.address, "hunter2", data, name=path.name, mtime=mtime(path)))
    assert sorted(rows(server, "SELECT state, count(*) FROM jobs GROUP BY state")) == [
        ("queued", 4),
        ("running", 1),
    ]

    server.kill()
    for pid in frozen:
        os.kill(pid, signal.SIGCONT)
    # The orphaned processor sees its pipe close and exits without finishing its job.
    wait_until(lambda: not any(alive(pid) for pid in frozen), 30, "the processor to exit")

    server.start()
    wait_until(
        lambda: rows(server, "SELECT count(*) FROM jobs WHERE state = 'done'") == [(5,)],
        120,
        "every job to finish",
    )
    assert rows(server, "SELECT attempts, count(*) FROM jobs GROUP BY attempts") == [
        (1, 4),
        (2, 1),
    ]
    # Each job's results were written once: one row per blob, counts not doubled.
    assert rows(server, "SELECT count(*) FROM results") == [(5,)]
    for path in (big, *others):
        expected = run_cli(str(path), "--json")
        assert expected.code == 0, expected.err
        [(report,)] = rows(
            server,
            "SELECT r.report_json FROM results r JOIN blobs b ON b.id = r.blob_id "
            "WHERE b.first_name = ?",
            path.name,
        )
        assert comparable(json.loads(report)) == comparable(json.loads(expected.out)), path.name
        levels = dict(
            rows(
                server,
                "SELECT l.level, l.count FROM level_counts l JOIN blobs b ON b.id = l.blob_id "
                "WHERE b.first_name = ?",
                path.name,
            )
        )
        assert levels == json.loads(expected.out)["levels"]


def test_a_dead_processor_is_replaced_and_its_job_runs_again(
    server_factory: ServerFactory, make_log: MakeLog, tmp_path: Path
) -> None:
    server, big, first = _a_job_running(server_factory, make_log, tmp_path)
    for pid in [first, *descendants(first)]:
        os.kill(pid, signal.SIGKILL)  # the processor and its workers die: out of memory, say

    wait_until(lambda: rows(server, "SELECT state FROM jobs") == [("done",)], 120, "the rerun")
    assert rows(server, "SELECT attempts FROM jobs") == [(2,)]
    assert "the processor exited unexpectedly" in server.log()
    assert int(_PROCESSOR_PID.findall(server.log())[-1]) != first
    # The server kept serving throughout.
    frames = asyncio.run(upload(server.address, "hunter2", big.read_bytes()[:100_000], wait=True))
    assert frames[-1].field("state") == "done"
