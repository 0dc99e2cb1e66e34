"""Hostile inputs meet the processor's limits: over-long lines, gzip bombs, nested gzip.

Real files, `python processor.py` and `python server.py` in subprocesses. Memory bounds
are shown by `benchmarks/bench_limits.py` and by the block sizes the unit tests check.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

from loglens.config import RATIO_FREE_BYTES
from loglens.protocol import FrameType
from tests.conftest import MakeLog, run_cli
from tests.integration.conftest import ServerFactory, rows, stored_files
from tests.integration.wire import upload

LONG_LINE = b"2024-01-01 00:00:00,000 ERROR [main] a.B: dump " + b"A" * (50 * 1024 * 1024)
SMALL_LIMIT = {"MAX_LINE_BYTES": "64KiB"}
REPEATED = b"2024-01-01 00:00:00,000 INFO [main] a.B: the same line again and again\n"


def bomb() -> bytes:
    """A gzip of ordinary log lines, past RATIO_FREE_BYTES and over 200 times its size."""
    content = REPEATED * (RATIO_FREE_BYTES // len(REPEATED) + 50_000)
    packed = gzip.compress(content)
    assert len(packed) * 200 < len(content)
    return packed


def counts(report: dict[str, Any]) -> tuple[Any, ...]:
    return report["entries"], report["levels"], report["lines"]


def test_a_50_mib_line_is_one_too_long_line_and_the_rest_is_analysed(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, truth = make_log("log4j", lines=400)
    log = path.read_bytes()
    reference = tmp_path / "reference.log"
    reference.write_bytes(log + log)
    with_long = tmp_path / "long.log"
    with_long.write_bytes(log + LONG_LINE + b"\n" + log)
    packed = tmp_path / "long.log.gz"
    packed.write_bytes(gzip.compress(with_long.read_bytes(), compresslevel=1))

    run = run_cli(str(reference), "--json", env=SMALL_LIMIT)
    assert run.code == 0, run.err
    expected = json.loads(run.out)
    entries, levels, lines = counts(expected)
    assert entries == 2 * truth.entries

    # The file as it is, gzipped (its ratio is allowed: a line of one letter packs well),
    # and on stdin: one line rejected as too long, its start as the sample; no more.
    ratio = {"MAX_COMPRESSION_RATIO": "5000"}
    for args, stdin, env in (
        ([str(with_long)], b"", SMALL_LIMIT),
        ([str(with_long)], b"", {**SMALL_LIMIT, "CHUNK_BYTES": "64KiB", "WORKERS": "2"}),
        ([str(packed)], b"", {**SMALL_LIMIT, **ratio}),
        (["-"], with_long.read_bytes(), SMALL_LIMIT),
    ):
        run = run_cli(*args, "--json", stdin=stdin, env=env)
        assert run.code == 0, (args, env, run.err)
        report = json.loads(run.out)
        assert counts(report) == (entries, levels, lines + 1), (args, env)
        assert report["rejected"]["too_long"] == 1
        [sample] = report["rejected_samples"]["too_long"]
        assert sample["text"].startswith("2024-01-01 00:00:00,000 ERROR [main] a.B: dump AAA")
        assert sample["line"] == log.count(b"\n") + 1
        assert report["bytes"] == len(with_long.read_bytes())

    # With the default limit (1 MiB) the line is just as rejected.
    run = run_cli(str(with_long), "--json")
    assert run.code == 0, run.err
    assert json.loads(run.out)["rejected"]["too_long"] == 1


def test_lines_just_under_the_limit_are_kept(tmp_path: Path) -> None:
    line = b"2024-01-01 00:00:00,000 WARN [main] a.B: " + b"x" * 2000
    path = tmp_path / "edge.log"
    path.write_bytes(line[:1024] + b"\n" + line[:1025] + b"\n" + line + b"\n")
    run = run_cli(str(path), "--json", env={"MAX_LINE_BYTES": "1KiB"})
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["entries"] == 1 and report["levels"] == {"WARNING": 1}
    assert report["rejected"] == {"too_long": 2}


def test_a_gzip_bomb_fails_its_file_by_the_ratio_and_the_others_go_on(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, truth = make_log("spark")
    packed = tmp_path / "bomb.log.gz"
    packed.write_bytes(bomb())
    run = run_cli(str(packed), str(path), "--json", env={"WORKERS": "2", "CHUNK_BYTES": "1MiB"})
    assert run.code == 1
    size = len(packed.read_bytes())
    allowed = max(RATIO_FREE_BYTES, 100 * size)
    assert (
        f"{packed}: not analysed: its {size:,} bytes of gzip decompress to more than "
        f"{allowed:,} bytes (past 16 MiB, a gzip may hold MAX_COMPRESSION_RATIO=100 times "
        "its size): a gzip bomb? If not, raise MAX_COMPRESSION_RATIO" in run.err
    )
    assert "Traceback" not in run.err
    report = json.loads(run.out)
    assert [item["file"] for item in report["formats"]] == [str(path)]
    assert report["entries"] == truth.entries


def test_a_gzip_past_max_decompressed_bytes_fails_naming_it(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("log4j", lines=6000)
    packed = tmp_path / "big.log.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    env = {"MAX_DECOMPRESSED_BYTES": "200KiB", "CHUNK_BYTES": "64KiB", "WORKERS": "2"}
    run = run_cli(str(packed), "--json", env=env)
    assert run.code == 1
    assert (
        f"{packed}: not analysed: it decompresses to more than 204,800 bytes, the most "
        "allowed (MAX_DECOMPRESSED_BYTES=204,800)" in run.err
    )
    assert "no input could be analysed" in run.err
    env["MAX_DECOMPRESSED_BYTES"] = "100MiB"
    assert run_cli(str(packed), "--json", env=env).code == 0


def test_a_truncated_gzip_is_reported_not_a_traceback(make_log: MakeLog, tmp_path: Path) -> None:
    path, _ = make_log("log4j", lines=6000)
    packed = tmp_path / "cut.log.gz"
    whole = gzip.compress(path.read_bytes())
    packed.write_bytes(whole[: len(whole) // 2])
    run = run_cli(str(packed), "--json", env={"CHUNK_BYTES": "64KiB", "WORKERS": "2"})
    assert run.code == 1
    assert f"{packed}: not valid gzip" in run.err
    assert "Traceback" not in run.err


async def _processed(address: str, data: bytes, **fields: Any) -> tuple[str, str | None]:
    frames = await upload(address, "s3cret", data, wait=True, **fields)
    assert frames[-1].type is FrameType.PROCESSED, frames[-1]
    return frames[-1].field("state"), frames[-1].field("error")


def test_the_processor_holds_a_gzip_sent_as_plain_to_the_limits(
    server_factory: ServerFactory,
) -> None:
    server = server_factory()
    packed = bomb()
    state, error = asyncio.run(_processed(server.address, packed))
    assert state == "failed"
    assert error is not None and "MAX_COMPRESSION_RATIO=100" in error
    assert f"its {len(packed):,} bytes of gzip decompress to more than" in error
    assert rows(server, "SELECT state FROM jobs") == [("failed",)]


def test_the_server_refuses_a_gzip_inside_the_gzip_and_a_bomb(
    server_factory: ServerFactory,
) -> None:
    server = server_factory()
    packed = bomb()
    nested = asyncio.run(
        upload(server.address, "s3cret", gzip.compress(packed), compression="gzip")
    )
    assert nested[-1].type is FrameType.ERROR
    assert nested[-1].field("code") == "bad_gzip"
    assert "gzip inside a gzip" in nested[-1].field("message")
    # A bomb declared as gzip: the server stops decompressing at the ratio, stores nothing.
    frames = asyncio.run(upload(server.address, "s3cret", packed, compression="gzip"))
    assert frames[-1].type is FrameType.ERROR
    assert frames[-1].field("code") == "decompressed_too_large"
    message = frames[-1].field("message")
    assert f"its {len(packed):,} bytes of gzip decompress to more than" in message
    assert "MAX_COMPRESSION_RATIO=100" in message
    assert rows(server, "SELECT COUNT(*) FROM jobs") == [(0,)]
    assert not [path for path in stored_files(server) if "blobs" in path.parts]


def test_a_gzip_log_sent_as_plain_is_still_analysed(
    server_factory: ServerFactory, make_log: MakeLog
) -> None:
    server = server_factory()
    path, truth = make_log("log4j")
    frames = asyncio.run(upload(server.address, "s3cret", gzip.compress(path.read_bytes()),
                                wait=True))  # fmt: skip
    assert (frames[-1].field("state"), frames[-1].field("error")) == ("done", None)
    assert frames[-1].field("report")["entries"] == truth.entries
