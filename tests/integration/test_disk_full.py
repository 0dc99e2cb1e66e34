"""A full disk under STORAGE_PATH: a real tmpfs of a few MiB, a real server, real uploads.

The client gets the retryable `insufficient_storage`, the operator a warning, and the
upload's partial files are deleted (its row failed), so the space comes back.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
from pathlib import Path

import pytest

from loglens.client.models import UploadEvent
from loglens.client.upload import upload_file
from loglens.protocol import HANDSHAKE, ErrorCode, Frame, FrameType, encode
from tests.integration.conftest import (
    BOTH_RECEIVE_PATHS,
    DISK_BYTES,
    ServerFactory,
    ServerHandle,
    rows,
)
from tests.integration.test_client import run_client
from tests.integration.wire import Peer, header, upload

pytestmark = BOTH_RECEIVE_PATHS

LINE = b"2024-05-01 10:00:00,000 ERROR [main] db.Pool: connection to db-1 refused\n"
SMALL = LINE * 100


@pytest.fixture
def server(small_disk: Path, server_factory: ServerFactory) -> ServerHandle:
    """A server whose STORAGE_PATH is on the small disk (its database is not)."""
    return server_factory(STORAGE_PATH=str(small_disk))


def partial_files(disk: Path) -> list[Path]:
    """What is left in `partial/`."""
    return sorted((disk / "partial").iterdir())


def statuses(server: ServerHandle) -> list[str]:
    """The status of every upload, in order."""
    return [status for (status,) in rows(server, "SELECT status FROM uploads ORDER BY id")]


def fill(disk: Path) -> Path:
    """Write a file on `disk` until it is full; return it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 64 * 1024)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


async def assert_small_upload_is_stored(server: ServerHandle) -> None:
    """The server takes uploads again."""
    frames = await upload(server.address, "s3cret", SMALL + b"later\n")
    assert [f.type for f in frames] == [FrameType.ACCEPTED, FrameType.STORED]


def insufficient_storage(frame: Frame) -> str:
    """The message of an `insufficient_storage` ERROR frame."""
    assert frame.type is FrameType.ERROR, frame
    assert frame.field("code") == ErrorCode.INSUFFICIENT_STORAGE.value, frame.body
    assert ErrorCode.INSUFFICIENT_STORAGE.retryable
    return str(frame.field("message"))


def assert_warned_not_a_bug(server: ServerHandle) -> None:
    """The operator is told, with no traceback and no `internal` error."""
    log = server.log()
    assert "WARNING" in log and "free some disk space" in log
    assert "Traceback" not in log and "bug while serving" not in log


async def test_upload_bigger_than_the_free_space_is_refused_and_leaves_nothing(
    server: ServerHandle, small_disk: Path
) -> None:
    data = LINE * (12 * 1024 * 1024 // len(LINE))
    frames = await upload(server.address, "s3cret", data)
    message = insufficient_storage(frames[0])
    assert f"{len(data):,} more bytes" in message and "free" in message
    assert partial_files(small_disk) == []
    assert statuses(server) == ["failed"]
    assert_warned_not_a_bug(server)
    await assert_small_upload_is_stored(server)


async def test_the_real_client_retries_afresh_and_names_insufficient_storage(
    server: ServerHandle, small_disk: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(LINE * (12 * 1024 * 1024 // len(LINE)))
    run = run_client(str(big), "--retries", "2", "--quiet", server=server, cwd=tmp_path)
    assert run.code == 1
    # Each retry starts a new upload: the refused one was deleted, nothing to resume.
    needs = f"it needs {big.stat().st_size:,} more bytes and the server has {DISK_BYTES:,} free"
    assert needs in run.err and "gave up after 3 attempts" in run.err, run.err
    assert "not_resumable" not in run.err and "cannot be resumed" not in run.err, run.err
    assert partial_files(small_disk) == []
    assert statuses(server) == ["failed"] * 3


async def test_concurrent_uploads_cannot_all_pass_the_free_space_check(
    server: ServerHandle, small_disk: Path
) -> None:
    first = LINE * (5 * 1024 * 1024 // len(LINE))
    second = first + b"other\n"
    holder = await Peer.connect(server.address)
    try:
        assert await holder.handshake_reply() == HANDSHAKE
        await holder.send(encode(FrameType.UPLOAD, header("s3cret", first)))
        accepted = await holder.frame()
        assert accepted.type is FrameType.ACCEPTED
        await holder.send(encode(FrameType.DATA, first[: 1024 * 1024]))
        # The first upload's 5 MiB are promised: the second does not fit beside them.
        frames = await upload(server.address, "s3cret", second)
        assert "promised to uploads in progress" in insufficient_storage(frames[0])
        for start in range(1024 * 1024, len(first), 1024 * 1024):
            await holder.send(encode(FrameType.DATA, first[start : start + 1024 * 1024]))
        await holder.send(encode(FrameType.END, {}))
        assert (await holder.frame()).type is FrameType.STORED
    finally:
        await holder.close()
    assert partial_files(small_disk) == []
    assert statuses(server) == ["stored", "failed"]


async def test_disk_filling_up_mid_upload_fails_it_and_frees_its_space(
    server: ServerHandle, small_disk: Path
) -> None:
    data = LINE * (4 * 1024 * 1024 // len(LINE))
    peer = await Peer.connect(server.address)
    try:
        assert await peer.handshake_reply() == HANDSHAKE
        await peer.send(encode(FrameType.UPLOAD, header("s3cret", data)))
        assert (await peer.frame()).type is FrameType.ACCEPTED
        filler = fill(small_disk)  # someone else fills the disk meanwhile
        with contextlib.suppress(ConnectionError):  # the server may close first
            for start in range(0, len(data), 256 * 1024):
                await peer.send(encode(FrameType.DATA, data[start : start + 256 * 1024]))
            await peer.send(encode(FrameType.END, {}))
        message = insufficient_storage(await peer.frame())
    finally:
        await peer.close()
    assert "disk filled up while receiving it" in message
    assert partial_files(small_disk) == []
    assert statuses(server) == ["failed"]
    assert_warned_not_a_bug(server)
    filler.unlink()
    await assert_small_upload_is_stored(server)


async def test_the_client_starts_afresh_after_the_disk_filled_up_mid_upload(
    server: ServerHandle, small_disk: Path, tmp_path: Path
) -> None:
    data = LINE * (4 * 1024 * 1024 // len(LINE))
    path = tmp_path / "app.log"
    path.write_bytes(data)
    filler: list[Path] = []
    notes: list[str] = []

    def on_event(event: UploadEvent) -> None:
        notes.append(event.note)
        if event.stage == "sending" and event.upload_id is not None and not filler:
            filler.append(fill(small_disk))  # the disk fills up once the upload is accepted
        if event.stage == "retrying":
            filler[0].unlink(missing_ok=True)  # and the operator frees it

    result = await upload_file(path, server.address, "s3cret", retries=2, progress=on_event)
    # The server deleted the failed upload: the retry starts a new one, not a resume.
    assert result.attempts == 2 and result.offsets == (0, 0)
    assert not any("cannot be resumed" in note for note in notes), notes
    assert any("disk filled up while receiving it" in note for note in notes), notes
    assert statuses(server) == ["failed", "stored"]
    assert partial_files(small_disk) == []


async def test_disk_full_while_decompressing_is_not_bad_gzip(
    server: ServerHandle, small_disk: Path
) -> None:
    packed = gzip.compress(LINE * (16 * 1024 * 1024 // len(LINE)))
    assert len(packed) < DISK_BYTES // 4
    frames = await upload(server.address, "s3cret", packed, compression="gzip")
    assert frames[0].type is FrameType.ACCEPTED
    message = insufficient_storage(frames[-1])
    assert "decompressing it" in message
    assert partial_files(small_disk) == []
    assert statuses(server) == ["failed"]
    assert_warned_not_a_bug(server)
    await assert_small_upload_is_stored(server)
