"""The upload server over real sockets: a real `python server.py`, real SQLite, real files."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from typing import Any

import pytest

from loglens.protocol import (
    FRAME_HEAD,
    HANDSHAKE,
    MAGIC,
    FrameType,
    encode,
)
from tests.conftest import MakeLog
from tests.integration.conftest import (
    BOTH_RECEIVE_PATHS,
    ServerFactory,
    ServerHandle,
    blob,
    rows,
    stored_files,
)
from tests.integration.wire import Peer, header, upload

LINES = b"".join(
    b"2024-05-01 10:00:%02d,000 ERROR [main] db.Pool: connection %d to db-%d refused\n"
    % (i % 60, i, i % 7)
    for i in range(2000)
)


pytestmark = BOTH_RECEIVE_PATHS


async def test_upload_is_stored_verified_and_recorded(
    loglens_server: ServerHandle, receive_path: str
) -> None:
    frames = await upload(loglens_server.address, "s3cret", LINES, name="app.log")
    assert [f.type for f in frames] == [FrameType.ACCEPTED, FrameType.STORED]
    stored = frames[-1].body or {}
    assert stored["sha256"] == hashlib.sha256(LINES).hexdigest()
    assert stored["duplicate"] is False
    assert blob(loglens_server, LINES).read_bytes() == LINES
    assert rows(
        loglens_server,
        "SELECT operator, original_name, size, sha256, status FROM uploads WHERE id = ?",
        stored["upload_id"],
    ) == [("alice", "app.log", len(LINES), stored["sha256"], "stored")]
    assert not list((loglens_server.storage_path / "partial").iterdir())
    assert f"upload {stored['upload_id']} by alice stored: app.log" in loglens_server.log()
    by_thread = f"upload {stored['upload_id']}: its bytes are received by a thread of its own"
    assert (by_thread in loglens_server.log()) == (receive_path == "direct thread")


async def test_wait_returns_the_analysis(loglens_server: ServerHandle) -> None:
    frames = await upload(loglens_server.address, "hunter2", LINES, wait=True)
    assert [f.type for f in frames] == [FrameType.ACCEPTED, FrameType.STORED, FrameType.PROCESSED]
    processed = frames[-1].body or {}
    assert processed["state"] == "done", processed
    report = processed["report"]
    assert report["levels"] == {"ERROR": 2000}
    assert report["top_errors"][0]["count"] == 2000
    assert report["first_timestamp"] == "2024-05-01T10:00:00Z"


async def test_same_content_is_stored_and_analysed_once(loglens_server: ServerHandle) -> None:
    first = await upload(loglens_server.address, "s3cret", LINES, wait=True)
    # Another operator proves it holds the content by sending it (issue 13, item 6).
    again = await upload(loglens_server.address, "hunter2", LINES, name="copy.log", wait=True)
    assert again[0].body == {"upload_id": again[0].field("upload_id"), "offset": 0,
                             "duplicate": False}  # fmt: skip
    assert again[1].field("duplicate") is True
    assert again[1].field("job_id") == first[1].field("job_id")
    assert again[-1].field("report") == first[-1].field("report")
    assert rows(loglens_server, "SELECT count(*) FROM blobs") == [(1,)]
    assert rows(loglens_server, "SELECT attempts, state FROM jobs") == [(1, "done")]
    assert rows(loglens_server, "SELECT operator FROM uploads ORDER BY id") == [
        ("alice",),
        ("bob",),
    ]


async def test_a_dropped_upload_resumes_byte_identical(loglens_server: ServerHandle) -> None:
    data = LINES * 20
    cut = len(data) // 3 + 12345
    first = await upload(loglens_server.address, "s3cret", data, stop_at=cut)
    upload_id = first[0].field("upload_id")
    resumed = await upload(loglens_server.address, "s3cret", data, resume=upload_id)
    accepted, stored = resumed[0].body or {}, resumed[-1].body or {}
    assert accepted["upload_id"] == upload_id
    assert 0 < accepted["offset"] <= cut  # at most what was sent; never more
    assert stored["upload_id"] == upload_id
    assert blob(loglens_server, data).read_bytes() == data


async def test_a_new_connection_resumes_an_idle_upload_of_the_same_bytes(
    loglens_server: ServerHandle,
) -> None:
    data = LINES * 5
    await upload(loglens_server.address, "s3cret", data, stop_at=len(data) // 2)
    await asyncio.sleep(0.5)  # let the server see the first connection end
    frames = await upload(loglens_server.address, "s3cret", data)
    assert frames[-1].type is FrameType.STORED
    assert rows(loglens_server, "SELECT count(*), max(status) FROM uploads") == [(1, "stored")]
    assert blob(loglens_server, data).read_bytes() == data


def _error(frames: list[Any]) -> tuple[str, str]:
    last = frames[-1]
    assert last.type is FrameType.ERROR, frames
    return last.field("code"), last.field("message")


async def _still_serving(server: ServerHandle) -> None:
    frames = await upload(server.address, "hunter2", b"2024-05-01 10:00:00,000 INFO ok\n")
    assert frames[-1].type is FrameType.STORED


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"token": "wrong"}, "unauthorized", "token is not valid"),
        ({"token": ""}, "unauthorized", "no token"),
        ({"size": -1}, "bad_header", "'size'"),
        ({"sha256": "xyz"}, "bad_header", "'sha256'"),
        ({"compression": "zstd"}, "bad_header", "'compression'"),
    ],
)
async def test_a_bad_header_is_refused_before_a_byte_is_stored(
    loglens_server: ServerHandle, fields: dict[str, Any], code: str, words: str
) -> None:
    frames = await upload(loglens_server.address, "s3cret", LINES, **fields)
    assert _error(frames)[0] == code
    assert words in _error(frames)[1]
    assert rows(loglens_server, "SELECT count(*) FROM uploads") == [(0,)]
    assert stored_files(loglens_server) == []
    await _still_serving(loglens_server)


async def test_a_hash_mismatch_stores_nothing(loglens_server: ServerHandle) -> None:
    frames = await upload(loglens_server.address, "s3cret", LINES, sha256="0" * 64)
    code, message = _error(frames)
    assert code == "hash_mismatch"
    assert hashlib.sha256(LINES).hexdigest() in message
    assert stored_files(loglens_server) == []
    assert rows(loglens_server, "SELECT status FROM uploads") == [("failed",)]
    assert rows(loglens_server, "SELECT count(*) FROM jobs") == [(0,)]
    await _still_serving(loglens_server)


async def test_a_path_like_name_never_becomes_a_path(loglens_server: ServerHandle) -> None:
    name = "../../../../tmp/evil.log"
    frames = await upload(loglens_server.address, "s3cret", LINES, name=name)
    assert frames[-1].type is FrameType.STORED
    assert stored_files(loglens_server) == [blob(loglens_server, LINES)]
    assert not (loglens_server.root / "evil.log").exists()
    assert rows(loglens_server, "SELECT original_name FROM uploads") == [(name,)]


async def test_a_gzip_bomb_is_stopped_at_the_cap(server_factory: ServerFactory) -> None:
    server = server_factory(MAX_DECOMPRESSED_BYTES="1MiB")
    bomb = gzip.compress(b"A" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    code, message = _error(await upload(server.address, "s3cret", bomb, compression="gzip"))
    assert code == "decompressed_too_large"
    assert "MAX_DECOMPRESSED_BYTES" in message
    assert stored_files(server) == []
    await _still_serving(server)


async def test_gzip_uploads_are_stored_decompressed(loglens_server: ServerHandle) -> None:
    packed = gzip.compress(LINES)
    frames = await upload(loglens_server.address, "s3cret", packed, compression="gzip")
    stored = frames[-1].body or {}
    assert stored["sha256"] == hashlib.sha256(packed).hexdigest()
    assert stored["content_sha256"] == hashlib.sha256(LINES).hexdigest()
    assert blob(loglens_server, LINES).read_bytes() == LINES


async def test_bad_gzip_is_refused(loglens_server: ServerHandle) -> None:
    code, _ = _error(await upload(loglens_server.address, "s3cret", LINES, compression="gzip"))
    assert code == "bad_gzip"
    assert stored_files(loglens_server) == []


async def test_an_upload_larger_than_allowed_is_refused(server_factory: ServerFactory) -> None:
    server = server_factory(MAX_UPLOAD_BYTES="1KiB")
    code, message = _error(await upload(server.address, "s3cret", LINES))
    assert code == "upload_too_large"
    assert "MAX_UPLOAD_BYTES" in message
    assert rows(server, "SELECT count(*) FROM uploads") == [(0,)]


async def _accepted(server: ServerHandle) -> Peer:
    peer = await _accepted_for(server, LINES)
    assert (await peer.frame()).type is FrameType.ACCEPTED
    return peer


async def test_an_oversized_frame_is_refused_before_its_body(loglens_server: ServerHandle) -> None:
    peer = await _accepted(loglens_server)
    # Only the frame head: the server must answer without waiting for 100 MB of body.
    await peer.send(FRAME_HEAD.pack(FrameType.DATA, 100 * 1024 * 1024))
    frame = await peer.frame()
    assert (frame.field("code"), "MAX_FRAME_BYTES" in frame.field("message")) == (
        "frame_too_large",
        True,
    )
    assert await peer.closed()
    await _still_serving(loglens_server)


async def test_an_oversized_header_is_refused(loglens_server: ServerHandle) -> None:
    peer = await Peer.connect(loglens_server.address)
    await peer.handshake_reply()
    await peer.send(FRAME_HEAD.pack(FrameType.UPLOAD, 10 * 1024 * 1024))
    assert (await peer.frame()).field("code") == "header_too_large"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x42\x00\x00\x00\x00", "malformed_frame"),  # unknown frame type
        (FRAME_HEAD.pack(FrameType.UPLOAD, 3) + b"{{{", "malformed_frame"),
        (FRAME_HEAD.pack(FrameType.UPLOAD, 2) + b"[]", "malformed_frame"),
        (encode(FrameType.DATA, b"hello"), "unexpected_frame"),
        (encode(FrameType.STORED, {}), "unexpected_frame"),
    ],
)
async def test_a_malformed_frame_gets_an_error(
    loglens_server: ServerHandle, payload: bytes, code: str
) -> None:
    peer = await Peer.connect(loglens_server.address)
    await peer.handshake_reply()
    await peer.send(payload)
    assert (await peer.frame()).field("code") == code
    assert await peer.closed()
    await _still_serving(loglens_server)


async def test_a_wrong_handshake_is_refused(loglens_server: ServerHandle) -> None:
    peer = await Peer.connect(loglens_server.address, handshake=b"GET /")
    assert (await peer.frame()).field("code") == "malformed_frame"
    peer = await Peer.connect(loglens_server.address, handshake=MAGIC + b"\x09")
    assert await peer.handshake_reply() == HANDSHAKE  # the server says which it speaks
    assert (await peer.frame()).field("code") == "unsupported_version"


async def test_an_early_end_is_a_truncated_upload(loglens_server: ServerHandle) -> None:
    peer = await _accepted(loglens_server)
    await peer.send(encode(FrameType.DATA, LINES[:1000]) + encode(FrameType.END))
    frame = await peer.frame()
    assert frame.field("code") == "size_mismatch"
    assert "1,000 of" in frame.field("message")
    assert rows(loglens_server, "SELECT count(*) FROM blobs") == [(0,)]


async def test_more_bytes_than_announced_are_refused(loglens_server: ServerHandle) -> None:
    peer = await _accepted(loglens_server)
    await peer.send(encode(FrameType.DATA, LINES + b"extra"))
    assert (await peer.frame()).field("code") == "size_mismatch"
    assert stored_files(loglens_server) == []


async def test_a_silent_client_is_timed_out(server_factory: ServerFactory) -> None:
    server = server_factory(IDLE_TIMEOUT="0.5")
    peer = await _accepted(server)
    frame = await peer.frame()
    assert frame.field("code") == "idle_timeout"
    assert "IDLE_TIMEOUT" in frame.field("message")


async def test_connections_beyond_the_limit_are_told_to_retry(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(MAX_CONNECTIONS="2")
    held = [await _accepted(server), await _accepted(server)]
    extra = await Peer.connect(server.address)
    assert await extra.handshake_reply() == HANDSHAKE
    assert (await extra.frame()).field("code") == "server_busy"
    for peer in held:
        await peer.close()
    await asyncio.sleep(0.5)
    await _still_serving(server)


def test_sigterm_stops_gracefully_and_keeps_queued_jobs(
    server_factory: ServerFactory, make_log: MakeLog
) -> None:
    server = server_factory(WORKERS="1")
    asyncio.run(upload(server.address, "s3cret", LINES))
    assert server.stop() == 0
    assert "server stopped" in server.log()
    assert rows(server, "SELECT count(*) FROM uploads WHERE status = 'stored'") == [(1,)]
    states = rows(server, "SELECT state FROM jobs")
    assert states in ([("done",)], [("queued",)])  # finished in time, or left for a restart


async def test_a_resume_takes_over_a_connection_that_still_hangs(
    loglens_server: ServerHandle,
) -> None:
    data = LINES * 10
    stale = await _accepted_for(loglens_server, data)
    upload_id = (await stale.frame()).field("upload_id")
    await stale.send(encode(FrameType.DATA, data[:300_000]))  # then it goes silent
    frames = await upload(loglens_server.address, "s3cret", data, resume=upload_id)
    assert frames[-1].type is FrameType.STORED
    assert frames[0].field("offset") <= 300_000
    assert (await stale.frame()).field("code") == "not_resumable"
    assert blob(loglens_server, data).read_bytes() == data


async def _accepted_for(server: ServerHandle, data: bytes) -> Peer:
    peer = await Peer.connect(server.address)
    assert await peer.handshake_reply() == HANDSHAKE
    await peer.send(encode(FrameType.UPLOAD, header("s3cret", data)))
    return peer


async def test_an_upload_unfinished_for_too_long_is_given_up(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(PARTIAL_TTL="0.5")
    await upload(server.address, "s3cret", LINES, stop_at=len(LINES) // 2)
    await asyncio.sleep(1)
    server.stop()
    server.start()  # the sweep runs at start, then every hour
    assert rows(server, "SELECT status, error FROM uploads") == [
        ("failed", "abandoned: never finished")
    ]
    assert stored_files(server) == []


async def test_resuming_an_upload_stored_meanwhile_records_nothing_new(
    loglens_server: ServerHandle,
) -> None:
    first = await upload(loglens_server.address, "s3cret", LINES, wait=True)
    upload_id = first[0].field("upload_id")
    again = await upload(loglens_server.address, "s3cret", LINES, resume=upload_id, wait=True)
    assert again[0].body == {"upload_id": upload_id, "offset": len(LINES), "duplicate": False}
    assert again[1].field("job_id") == first[1].field("job_id")
    assert again[-1].field("report") == first[-1].field("report")
    assert rows(loglens_server, "SELECT count(*) FROM uploads") == [(1,)]


async def test_silence_inside_a_data_frame_is_timed_out(server_factory: ServerFactory) -> None:
    server = server_factory(IDLE_TIMEOUT="0.5")
    peer = await _accepted(server)
    # Half a frame's body, then nothing: the frame must be in within the idle time.
    await peer.send(FRAME_HEAD.pack(FrameType.DATA, 1000) + LINES[:500])
    frame = await peer.frame()
    assert (frame.field("code"), "during the upload" in frame.field("message")) == (
        "idle_timeout",
        True,
    )
    assert await peer.closed()
    assert rows(server, "SELECT status FROM uploads") == [("receiving",)]  # resumable


async def test_a_big_upload_hears_progress_once_bytes_are_durable(
    loglens_server: ServerHandle,
) -> None:
    # Just past one PROGRESS interval (256 MiB): its fsync is told before STORED.
    data = LINES * (256 * 1024 * 1024 // len(LINES) + 2)
    frames = await upload(loglens_server.address, "s3cret", data, chunk=1024 * 1024)
    kinds = [frame.type for frame in frames]
    assert (kinds[0], kinds[-1]) == (FrameType.ACCEPTED, FrameType.STORED)
    offsets = [int(frame.field("offset")) for frame in frames if frame.type is FrameType.PROGRESS]
    assert len(offsets) == 1
    # The offset held when the fsync began: the frame that crossed the line may still
    # have been on its way to the file.
    assert 255 * 1024 * 1024 <= offsets[0] <= len(data)
    assert blob(loglens_server, data).stat().st_size == len(data)


async def test_uploads_sent_without_waiting_for_answers_are_all_stored(
    loglens_server: ServerHandle,
) -> None:
    # Two small uploads on one connection in one write, before any answer: the server
    # has read the second one's frames with the first one's; whichever way it reads the
    # first one's DATA, they must not be lost.
    first, second = LINES[:3000], LINES[:3000].replace(b"refused", b"reset")
    batch = b"".join(
        encode(FrameType.UPLOAD, header("s3cret", data))
        + encode(FrameType.DATA, data)
        + encode(FrameType.END, {})
        for data in (first, second)
    )
    peer = await Peer.connect(loglens_server.address)
    assert await peer.handshake_reply() == HANDSHAKE
    await peer.send(batch)
    kinds = [(await peer.frame()).type for _ in range(4)]
    await peer.close()
    assert kinds == [FrameType.ACCEPTED, FrameType.STORED] * 2
    assert blob(loglens_server, first).read_bytes() == first
    assert blob(loglens_server, second).read_bytes() == second


async def test_sigterm_leaves_an_upload_in_flight_resumable(server_factory: ServerFactory) -> None:
    server = server_factory()
    data = LINES * 4
    peer = await _accepted_for(server, data)
    upload_id = (await peer.frame()).field("upload_id")
    half = len(data) // 2
    await peer.send(encode(FrameType.DATA, data[:half]))
    # The upload stays silent: after its grace the server gives up on it and exits.
    assert await asyncio.to_thread(server.stop) == 0
    frame = await peer.frame()
    assert frame.field("code") == "shutting_down"
    await peer.close()
    assert rows(server, "SELECT status FROM uploads") == [("receiving",)]
    server.start()
    resumed = await upload(server.address, "s3cret", data, resume=upload_id)
    assert (resumed[0].field("offset"), resumed[-1].type) == (half, FrameType.STORED)
    assert blob(server, data).read_bytes() == data
