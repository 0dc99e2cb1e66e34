"""Streams over the protocol (a bare peer): appended, made durable, analysed as they grow."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loglens.errors import StorageError
from loglens.protocol import FrameType, encode
from loglens.storage import Database
from loglens.storage.dialect import Target
from loglens.storage.read.filters import Filters, Page
from loglens.storage.read.queries import Reader
from tests.conftest import MakeLog
from tests.integration.conftest import ServerFactory, ServerHandle, rows
from tests.integration.postgres import sql_rows
from tests.integration.test_storage import analysed
from tests.integration.wire import Peer

TIMEOUT = 60.0


def lines(start: int, count: int, error_every: int = 10) -> bytes:
    """Log4j-like lines numbered from `start`; every `error_every`-th is an ERROR."""
    out = []
    for n in range(start, start + count):
        level = "ERROR" if n % error_every == 0 else "INFO"
        out.append(
            f"2024-05-01 12:{n // 600 % 60:02d}:{n // 10 % 60:02d},{n % 1000:03d} {level} "
            f"[main] com.example.Service - request {n} took {n % 97} ms\n"
        )
    return "".join(out).encode()


def wait_for(condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll until `condition()` is truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def entries_of(server: ServerHandle, upload_id: int) -> int:
    found = rows(
        server,
        "SELECT r.entries FROM results AS r JOIN uploads AS u ON u.blob_id = r.blob_id"
        " WHERE u.id = ?",
        upload_id,
    )
    return int(found[0][0]) if found else 0


def levels_of(server: ServerHandle, upload_id: int) -> dict[str, int]:
    return dict(
        rows(server, "SELECT level, count FROM upload_levels WHERE upload_id = ?", upload_id)
    )


async def open_stream(server: ServerHandle, **fields: Any) -> tuple[Peer, dict[str, Any]]:
    peer = await Peer.connect(server.address)
    await peer.handshake_reply()
    body = {"token": server.tokens["alice"], "name": "live.log", "kind": "stream", **fields}
    await peer.send(encode(FrameType.UPLOAD, body))
    accepted = await peer.frame()
    assert accepted.type is FrameType.ACCEPTED, accepted.body
    assert accepted.body is not None
    return peer, accepted.body


async def progress_to(peer: Peer, offset: int) -> None:
    """Read PROGRESS frames until one says `offset` is durable."""
    while True:
        frame = await peer.frame()
        assert frame.type is FrameType.PROGRESS, frame.body
        assert frame.body is not None
        if frame.body["offset"] >= offset:
            assert frame.body["offset"] == offset
            return


async def test_a_stream_is_counted_while_it_grows_and_ends_as_a_job(
    loglens_server: ServerHandle,
) -> None:
    server = loglens_server
    peer, accepted = await open_stream(server)
    upload_id = accepted["upload_id"]
    assert accepted["offset"] == 0
    first, second = lines(0, 1000), lines(1000, 500)
    await peer.send(encode(FrameType.DATA, first))
    await progress_to(peer, len(first))
    await asyncio.to_thread(wait_for, lambda: entries_of(server, upload_id) == 1000)
    assert levels_of(server, upload_id) == {"ERROR": 100, "INFO": 900}
    # Not only counts: its templates, timeline and categories are there while it runs.
    [(template, count)] = rows(
        server,
        "SELECT template, SUM(count) FROM upload_templates WHERE upload_id = ?"
        " AND level = 'ERROR' GROUP BY template",
        upload_id,
    )
    assert count == 100 and "request <*> took <*> ms" in template
    timeline = rows(server, "SELECT SUM(count) FROM upload_timeline WHERE upload_id = ?", upload_id)
    assert timeline == [(1000,)]
    categories = rows(server, "SELECT category, count FROM upload_categories WHERE upload_id = ?",
                      upload_id)  # fmt: skip
    assert sum(count for _category, count in categories) >= 100, categories
    # While it runs, the stream is an upload like any other: stored, its job running.
    kind, status, ended = rows(
        server, "SELECT kind, status, ended_at FROM uploads WHERE id = ?", upload_id
    )[0]
    assert (kind, status, ended) == ("stream", "stored", None)
    assert rows(server, "SELECT state FROM jobs AS j JOIN uploads AS u ON u.blob_id = j.blob_id"
                " WHERE u.id = ?", upload_id) == [("running",)]  # fmt: skip

    await peer.send(encode(FrameType.DATA, second[:777]))  # a line cut in two frames
    await peer.send(encode(FrameType.DATA, second[777:]))
    await peer.send(encode(FrameType.END))
    while (frame := await peer.frame()).type is FrameType.PROGRESS:
        pass
    assert frame.type is FrameType.STORED, frame.body
    assert frame.body is not None
    whole = first + second
    assert frame.body["size"] == len(whole)
    assert frame.body["sha256"] == hashlib.sha256(whole).hexdigest()
    await peer.close()

    def done() -> bool:
        return rows(
            server,
            "SELECT j.state FROM jobs AS j JOIN uploads AS u ON u.blob_id = j.blob_id"
            " WHERE u.id = ?",
            upload_id,
        ) == [("done",)]

    await asyncio.to_thread(wait_for, done)
    assert entries_of(server, upload_id) == 1500
    assert levels_of(server, upload_id) == {"ERROR": 150, "INFO": 1350}
    size, sha256, ended = rows(
        server, "SELECT size, sha256, ended_at FROM uploads WHERE id = ?", upload_id
    )[0]
    assert (size, sha256) == (len(whole), hashlib.sha256(whole).hexdigest()) and ended
    stored = server.storage_path / "streams" / f"{upload_id}.log"
    assert stored.read_bytes() == whole


async def test_a_stream_resumes_at_the_durable_offset_and_counts_each_line_once(
    loglens_server: ServerHandle,
) -> None:
    server = loglens_server
    peer, accepted = await open_stream(server)
    upload_id = accepted["upload_id"]
    first = lines(0, 400)
    await peer.send(encode(FrameType.DATA, first))
    await progress_to(peer, len(first))
    await peer.close()  # dropped: the stream stays open

    peer, accepted = await open_stream(server, resume=upload_id)
    assert accepted == {"upload_id": upload_id, "offset": len(first), "duplicate": False}
    await peer.send(encode(FrameType.DATA, lines(400, 100)))
    await progress_to(peer, len(first) + len(lines(400, 100)))
    await asyncio.to_thread(wait_for, lambda: entries_of(server, upload_id) == 500)
    assert levels_of(server, upload_id) == {"ERROR": 50, "INFO": 450}
    await peer.close()


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"size": 10}, "a stream has no 'size'"),
        ({"sha256": "0" * 64}, "a stream has no 'sha256'"),
        ({"compression": "gzip"}, "'compression' must be \"none\""),
        ({"kind": "pipe"}, "'kind' must be one of file, stream"),
        ({"resume": 999}, "stream 999 cannot be resumed"),
    ],
)
async def test_a_bad_stream_header_is_refused_and_named(
    loglens_server: ServerHandle, fields: dict[str, Any], words: str
) -> None:
    peer = await Peer.connect(loglens_server.address)
    await peer.handshake_reply()
    body = {"token": loglens_server.tokens["alice"], "name": "x", "kind": "stream", **fields}
    await peer.send(encode(FrameType.UPLOAD, body))
    frame = await peer.frame()
    assert frame.type is FrameType.ERROR
    assert frame.body is not None and words in frame.body["message"]
    assert await peer.closed()


async def test_another_operator_cannot_resume_a_stream(loglens_server: ServerHandle) -> None:
    server = loglens_server
    peer, accepted = await open_stream(server)
    await peer.close()
    other = await Peer.connect(server.address)
    await other.handshake_reply()
    body = {"token": server.tokens["bob"], "name": "x", "kind": "stream",
            "resume": accepted["upload_id"]}  # fmt: skip
    await other.send(encode(FrameType.UPLOAD, body))
    frame = await other.frame()
    assert frame.type is FrameType.ERROR and frame.body is not None
    assert frame.body["code"] == "not_resumable"


async def test_a_stream_in_the_database_is_read_while_it_runs_then_ends(
    database: Target, tmp_path: Path, make_log: MakeLog
) -> None:
    """On SQLite and PostgreSQL: a stream is readable with its live results, which replace
    each other (the sums over every upload too), and ends as a job does."""
    small, _ = make_log("log4j", lines=200)
    big, _ = make_log("log4j", lines=500, name="more.log")
    async with await Database.open(database) as db:
        record = await db.create_stream("alice", "live.log")
        assert record.path == f"streams/{record.upload_id}.log" and not record.ended
        assert await db.stream(record.upload_id) == record
        assert await db.stream_of_blob(record.blob_id) == record
        assert await db.start_job(record.job_id, "r") is not None
        for path, size in ((small, 1000), (big, 2000)):
            assert await db.store_live_results(record.job_id, "r", analysed(path, "x"), size)
            async with await Reader.open(database) as reader:
                stats = await reader.stats(Filters(upload=record.upload_id))
                everything = await reader.stats(Filters())
                listed, _total = await reader.uploads(Filters(), Page())
            assert stats["entries"] == everything["entries"] == analysed(path, "x").entries
            assert [(u["kind"], u["size"], u["ended_at"]) for u in listed] == [
                ("stream", size, None)
            ]
        # Another runner's results are refused; an open stream cannot end twice.
        assert not await db.store_live_results(record.job_id, "other", analysed(small, "x"), 1)
        await db.end_stream(record.upload_id, 2500, "a" * 64)
        with pytest.raises(StorageError, match="no open stream"):
            await db.end_stream(record.upload_id, 2500, "a" * 64)
        assert await db.finish_job(record.job_id, "r", analysed(big, "x"))
        upload = await db.upload(record.upload_id)
        assert upload is not None and (upload.kind, upload.size, upload.sha256) == (
            "stream",
            2500,
            "a" * 64,
        )
        assert upload.ended_at is not None
        assert (await db.stream(record.upload_id) or record).ended


async def test_a_stream_through_a_server_on_postgresql(
    server_factory: ServerFactory, postgres_url: str
) -> None:
    server = server_factory(DATABASE_URL=postgres_url)
    peer, accepted = await open_stream(server)
    data = lines(0, 600)
    await peer.send(encode(FrameType.DATA, data))
    await progress_to(peer, len(data))

    def levels() -> dict[str, int]:
        found = sql_rows(
            postgres_url,
            "SELECT level, count FROM upload_levels WHERE upload_id = ?",
            (accepted["upload_id"],),
        )
        return {str(level): int(count) for level, count in found}

    await asyncio.to_thread(wait_for, lambda: sum(levels().values()) == 600)
    assert levels() == {"ERROR": 60, "INFO": 540}
    await peer.send(encode(FrameType.END))
    while (frame := await peer.frame()).type is FrameType.PROGRESS:
        pass
    assert frame.type is FrameType.STORED and frame.body is not None
    assert frame.body["size"] == len(data)
    await peer.close()


async def test_a_stream_past_max_upload_bytes_is_refused_and_keeps_what_came(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(MAX_UPLOAD_BYTES="4KiB")
    peer, accepted = await open_stream(server)
    first = lines(0, 30)  # under 4 KiB
    await peer.send(encode(FrameType.DATA, first))
    await progress_to(peer, len(first))
    await peer.send(encode(FrameType.DATA, lines(30, 60)))
    frame = await peer.frame()
    while frame.type is FrameType.PROGRESS:
        frame = await peer.frame()
    assert frame.type is FrameType.ERROR and frame.body is not None
    assert frame.body["code"] == "upload_too_large" and "MAX_UPLOAD_BYTES" in frame.body["message"]
    stored = server.storage_path / "streams" / f"{accepted['upload_id']}.log"
    assert stored.read_bytes() == first  # nothing lost, nothing half-written


async def test_an_upload_frame_inside_a_stream_is_unexpected(loglens_server: ServerHandle) -> None:
    peer, _accepted = await open_stream(loglens_server)
    await peer.send(encode(FrameType.UPLOAD, {"token": "x"}))
    frame = await peer.frame()
    assert frame.type is FrameType.ERROR and frame.body is not None
    assert frame.body["code"] == "unexpected_frame"
    assert "expected DATA or END in a stream, got UPLOAD" in frame.body["message"]
    assert await peer.closed()
