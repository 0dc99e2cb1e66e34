"""Hostile peers against a real server (issue 13): bodies that crashed handlers, crowds of
connections that never authenticate, token guessing, and dedup asked to vouch for content
the asker never sent.

The attackers connect from other loopback addresses (127.0.0.2 and up; Linux routes all
of 127/8 to the loopback), so that the limits per address tell them from the real client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loglens.client.models import UploadError
from loglens.client.upload import upload_file
from loglens.protocol import FRAME_HEAD, HANDSHAKE, ErrorCode, Frame, FrameType, encode
from tests.integration.conftest import ServerFactory, ServerHandle, rows
from tests.integration.wire import Peer, header, upload

LINES = b"".join(
    b"2024-05-01 10:00:%02d,000 ERROR [main] card 4111-1111-1111-%04d declined\n" % (i % 60, i)
    for i in range(500)
)
SMALL = b"2024-05-01 10:00:00,000 INFO ok\n"


async def connect_from(server: ServerHandle, source: str) -> Peer:
    """A connection from the loopback address `source`, its handshake sent."""
    reader, writer = await asyncio.open_connection(server.host, server.port, local_addr=(source, 0))
    writer.write(HANDSHAKE)
    await writer.drain()
    return Peer(reader, writer)


async def upload_from(server: ServerHandle, source: str, token: str, data: bytes) -> Frame:
    """Upload `data` whole from `source`; the last frame the server sent."""
    peer = await connect_from(server, source)
    try:
        assert await peer.handshake_reply() == HANDSHAKE
        await peer.send(encode(FrameType.UPLOAD, header(token, data)))
        frame = await peer.frame()
        if frame.type is not FrameType.ACCEPTED:
            return frame
        rest = data[int(frame.field("offset")) :]
        await peer.send((encode(FrameType.DATA, rest) if rest else b"") + encode(FrameType.END))
        return await peer.frame()
    finally:
        await peer.close()


def assert_no_traceback(server: ServerHandle) -> None:
    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    assert "bug while serving" not in log


async def still_serving(server: ServerHandle) -> None:
    frames = await upload(server.address, "hunter2", SMALL)
    assert frames[-1].type is FrameType.STORED, frames


# -- 1. bodies that crashed handlers before auth --------------------------------------------


def _raw_upload(body: bytes) -> bytes:
    return FRAME_HEAD.pack(FrameType.UPLOAD, len(body)) + body


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"token": "\\ud800", "name": "a", "size": 1, "sha256": null}', "'token'"),
        (b'{"token": "s3cret", "name": "\\udc80", "size": 1, "sha256": null}', "'name'"),
        (b"[" * 5000, "nests deeper"),
        (
            b'{"token": "s3cret", "size": 1, "sha256": null, "resume": 18446744073709551616}',
            "'resume' is out of range",
        ),
        (b'{"token": "s3cret", "size": 1, "sha256": null, "mtime": NaN}', "NaN"),
        (b'{"token": "s3cret", "size": 1, "sha256": null, "mtime": 1e999}', "'mtime'"),
        (b'{"\\udfff": 1}', "lone surrogate"),
        (b'{"token": "s3cret", "x": ' + b"[" * 60 + b"]" * 60 + b"}", "nests deeper"),
    ],
)
async def test_a_hostile_upload_body_is_a_clear_protocol_error(
    loglens_server: ServerHandle, body: bytes, words: str
) -> None:
    peer = await Peer.connect(loglens_server.address)
    assert await peer.handshake_reply() == HANDSHAKE
    await peer.send(_raw_upload(body))
    frame = await peer.frame()
    assert frame.type is FrameType.ERROR
    assert frame.field("code") == "malformed_frame"
    assert not ErrorCode(frame.field("code")).retryable
    assert words in frame.field("message")
    assert await peer.closed()
    await still_serving(loglens_server)
    assert_no_traceback(loglens_server)
    assert rows(loglens_server, "SELECT count(*) FROM uploads WHERE operator = 'alice'") == [(0,)]


async def test_an_error_quoting_a_huge_value_stays_readable(
    loglens_server: ServerHandle,
) -> None:
    peer = await Peer.connect(loglens_server.address)
    assert await peer.handshake_reply() == HANDSHAKE
    body = header("s3cret", SMALL, resume="x" * 60_000)
    await peer.send(encode(FrameType.UPLOAD, body))
    frame = await peer.frame()  # read with the client's own limit for control frames
    assert frame.field("code") == "bad_header"
    assert len(frame.field("message")) <= 2000
    assert_no_traceback(loglens_server)


# -- 4. crowds that never authenticate -------------------------------------------------------


async def test_a_silent_or_dripping_connection_is_cut_at_the_handshake_deadline(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(HANDSHAKE_TIMEOUT="1")  # IDLE_TIMEOUT stays 60 s
    started = time.monotonic()
    silent = await connect_from(server, "127.0.0.2")
    dripping = await connect_from(server, "127.0.0.3")
    assert await dripping.handshake_reply() == HANDSHAKE
    frame = _raw_upload(b'{"token": "s3cret", "name": "' + b"a" * 200 + b'"}')

    async def drip() -> None:
        for byte in frame[:-1]:
            with contextlib.suppress(ConnectionError):
                await dripping.send(bytes([byte]))
            await asyncio.sleep(0.1)

    dripper = asyncio.create_task(drip())
    try:
        assert await silent.handshake_reply() == HANDSHAKE
        for peer in (silent, dripping):
            error = await peer.frame()
            assert error.field("code") == "handshake_timeout"
            assert "HANDSHAKE_TIMEOUT" in error.field("message")
    finally:
        dripper.cancel()
    # Cut at the deadline, well before the 60 s of IDLE_TIMEOUT or the 20 s of dripping.
    assert time.monotonic() - started < 15
    await still_serving(server)


async def test_connections_in_their_handshake_are_limited_per_address(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(MAX_HANDSHAKES_PER_ADDRESS="3")
    held = [await connect_from(server, "127.0.0.2") for _ in range(3)]
    for peer in held:
        assert await peer.handshake_reply() == HANDSHAKE
    extra = await connect_from(server, "127.0.0.2")
    assert await extra.handshake_reply() == HANDSHAKE
    error = await extra.frame()
    assert error.field("code") == "server_busy"
    assert "127.0.0.2" in error.field("message")
    assert "MAX_HANDSHAKES_PER_ADDRESS" in error.field("message")
    # Another address is served; and an authenticated connection frees its slot.
    assert (await upload_from(server, "127.0.0.1", "s3cret", SMALL)).type is FrameType.STORED
    await held[0].send(encode(FrameType.UPLOAD, header("s3cret", LINES)))
    assert (await held[0].frame()).type is FrameType.ACCEPTED
    assert (await upload_from(server, "127.0.0.2", "s3cret", SMALL)).type is FrameType.STORED
    assert_no_traceback(server)


@contextlib.asynccontextmanager
async def crowd(server: ServerHandle, sources: list[str], count: int) -> AsyncIterator[int]:
    """`count` connections that never authenticate, from `sources` in turn, some silent,
    some dripping a byte now and then; yields how many the server let in."""
    peers: list[Peer] = []
    for start in range(0, count, 100):  # a batch at a time: the listen backlog is 100
        batch = [connect_from(server, sources[i % len(sources)]) for i in range(start, start + 100)]
        peers += await asyncio.gather(*batch[: count - start])

    async def drip(peer: Peer) -> None:
        with contextlib.suppress(ConnectionError):
            for byte in _raw_upload(b'{"token": "guess"}'):
                await asyncio.sleep(0.5)
                await peer.send(bytes([byte]))

    drippers = [asyncio.create_task(drip(peer)) for peer in peers[::2]]
    try:
        yield len(peers)
    finally:
        for task in drippers:
            task.cancel()
        await asyncio.gather(*drippers, return_exceptions=True)
        for peer in peers:
            peer.writer.transport.abort()


async def test_a_real_upload_finishes_under_a_thousand_idle_connections_from_one_address(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(LINES * 20)
    async with crowd(loglens_server, ["127.0.0.2"], 1000):
        result = await upload_file(path, loglens_server.address, "s3cret", retries=0)
    assert result.size == len(LINES) * 20 and not result.duplicate
    assert result.attempts == 1
    assert "refused: server_busy" in loglens_server.log()
    assert_no_traceback(loglens_server)


async def test_a_real_upload_gets_in_when_many_addresses_fill_the_handshakes(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(MAX_CONNECTIONS="40")
    path = tmp_path / "app.log"
    path.write_bytes(LINES)
    sources = [f"127.0.1.{i}" for i in range(1, 201)]  # one connection each
    async with crowd(server, sources, 200):
        result = await upload_file(path, server.address, "s3cret", retries=0)
    assert result.attempts == 1
    assert "pushed out of its handshake" in server.log()
    assert_no_traceback(server)


# -- 5. token guessing -------------------------------------------------------------------


async def test_wrong_tokens_lock_the_address_out_even_for_the_right_token(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(AUTH_FAILURE_LIMIT="3", AUTH_LOCKOUT_SECONDS="600")
    codes = [(await upload_from(server, "127.0.0.2", f"guess{i}", SMALL)) for i in range(3)]
    assert [f.field("code") for f in codes] == ["unauthorized", "unauthorized", "too_many_failures"]
    message = codes[-1].field("message")
    assert message.startswith("too many failed logins from 127.0.0.2; try again in 600 s")
    right = await upload_from(server, "127.0.0.2", "s3cret", SMALL)
    assert right.field("code") == "too_many_failures"
    assert not ErrorCode.TOO_MANY_FAILURES.retryable
    # Another address is not locked out.
    assert (await upload_from(server, "127.0.0.1", "s3cret", SMALL)).type is FrameType.STORED
    log = server.log()
    assert "WARNING" in log and "wrong upload token (1 of 3 from 127.0.0.2" in log
    assert "127.0.0.2: locked out for 600 s after 3 wrong tokens" in log
    assert_no_traceback(server)


async def test_a_lockout_ends(server_factory: ServerFactory) -> None:
    server = server_factory(AUTH_FAILURE_LIMIT="1", AUTH_LOCKOUT_SECONDS="1")
    first = await upload_from(server, "127.0.0.2", "guess", SMALL)
    assert first.field("code") == "too_many_failures"
    deadline = time.monotonic() + 30
    while (last := await upload_from(server, "127.0.0.2", "s3cret", SMALL)).type is not (
        FrameType.STORED
    ):
        assert last.field("code") == "too_many_failures"
        assert time.monotonic() < deadline, "the lockout never ended"
        await asyncio.sleep(0.2)


async def test_the_client_reports_a_lockout_without_retrying(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(AUTH_FAILURE_LIMIT="2", AUTH_LOCKOUT_SECONDS="600")
    path = tmp_path / "app.log"
    path.write_bytes(SMALL)
    codes = []
    for _ in range(2):
        with pytest.raises(UploadError) as failed:
            await upload_file(path, server.address, "wrong", retries=5)
        codes.append(failed.value.code)
    assert codes == ["unauthorized", "too_many_failures"]
    with pytest.raises(UploadError) as locked:
        await upload_file(path, server.address, "s3cret", retries=5)
    assert locked.value.code == "too_many_failures"
    assert "try again in" in str(locked.value)


# -- 6. dedup vouches only for content the asker sent -------------------------------------


async def test_a_hash_alone_does_not_get_another_operators_content(
    loglens_server: ServerHandle,
) -> None:
    first = await upload(loglens_server.address, "s3cret", LINES, wait=True)
    assert first[-1].field("state") == "done"
    # bob knows the SHA-256 and size, not the bytes: he sends END at once.
    peer = await Peer.connect(loglens_server.address)
    assert await peer.handshake_reply() == HANDSHAKE
    await peer.send(encode(FrameType.UPLOAD, header("hunter2", LINES, wait=True)))
    accepted = await peer.frame()
    assert accepted.body == {"upload_id": accepted.field("upload_id"), "offset": 0,
                             "duplicate": False}  # fmt: skip
    await peer.send(encode(FrameType.END))
    seen = [await peer.frame()]
    while seen[-1].type is not FrameType.ERROR:
        seen.append(await peer.frame())
    assert [f.type for f in seen] == [FrameType.ERROR]  # no STORED, no PROCESSED
    assert seen[-1].field("code") == "size_mismatch"
    assert b"4111" not in b"".join(repr(f.body).encode() for f in seen)
    bobs = rows(loglens_server, "SELECT status FROM uploads WHERE operator = 'bob'")
    assert bobs in ([("receiving",)], [("failed",)])  # never stored in his name


async def test_the_same_operator_keeps_the_cheap_dedup(loglens_server: ServerHandle) -> None:
    await upload(loglens_server.address, "s3cret", LINES)
    again = await upload(loglens_server.address, "s3cret", LINES, name="again.log")
    assert again[0].field("offset") == len(LINES)
    assert again[0].field("duplicate") is True
    assert again[-1].field("duplicate") is True


async def test_the_client_sends_the_bytes_of_content_only_others_stored(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(LINES)
    alice = await upload_file(path, loglens_server.address, "s3cret", wait=True)
    bob = await upload_file(path, loglens_server.address, "hunter2", wait=True)
    assert (bob.bytes_sent, bob.duplicate, bob.job_id) == (len(LINES), True, alice.job_id)
    assert bob.report == alice.report
    alice_again = await upload_file(path, loglens_server.address, "s3cret")
    assert (alice_again.bytes_sent, alice_again.duplicate) == (0, True)
    expected = hashlib.sha256(LINES).hexdigest()
    assert rows(loglens_server, "SELECT DISTINCT sha256 FROM uploads") == [(expected,)]
