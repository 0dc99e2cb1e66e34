"""Uploads whose SHA-256 comes in END (the header's is null): a real server, real files."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path
from typing import Any

import pytest

from loglens.client import UploadError, UploadEvent, upload_file
from loglens.protocol import HANDSHAKE, FrameType, encode
from tests.integration.conftest import BOTH_RECEIVE_PATHS, ServerHandle, blob, rows, stored_files
from tests.integration.wire import Peer, header, sha256_of, upload

LINES = b"".join(
    b"2024-05-01 10:00:%02d,000 WARN [main] cache.Store: eviction %d of shard-%d\n"
    % (i % 60, i, i % 5)
    for i in range(3000)
)


pytestmark = BOTH_RECEIVE_PATHS


async def test_the_hash_in_end_is_verified_and_recorded(loglens_server: ServerHandle) -> None:
    frames = await upload(loglens_server.address, "s3cret", LINES, sha256=None, wait=True)
    assert [f.type for f in frames] == [FrameType.ACCEPTED, FrameType.STORED, FrameType.PROCESSED]
    assert frames[0].body == {"upload_id": frames[0].field("upload_id"), "offset": 0,
                              "duplicate": False}  # fmt: skip
    stored = frames[1].body or {}
    assert (stored["sha256"], stored["size"], stored["duplicate"]) == (
        sha256_of(LINES), len(LINES), False,
    )  # fmt: skip
    assert frames[-1].field("state") == "done"
    assert frames[-1].field("report")["levels"] == {"WARNING": 3000}
    assert blob(loglens_server, LINES).read_bytes() == LINES
    assert rows(loglens_server, "SELECT sha256, status FROM uploads") == [
        (sha256_of(LINES), "stored")
    ]
    assert not list((loglens_server.storage_path / "partial").iterdir())


async def test_a_hash_mismatch_at_end_stores_nothing(loglens_server: ServerHandle) -> None:
    frames = await upload(
        loglens_server.address, "s3cret", LINES, sha256=None, end={"sha256": "0" * 64}
    )
    last = frames[-1]
    assert last.type is FrameType.ERROR
    assert last.field("code") == "hash_mismatch"
    assert sha256_of(LINES) in last.field("message")
    assert "END said " + "0" * 64 in last.field("message")
    assert stored_files(loglens_server) == []
    assert rows(loglens_server, "SELECT status FROM uploads") == [("failed",)]
    assert rows(loglens_server, "SELECT count(*) FROM blobs") == [(0,)]
    assert rows(loglens_server, "SELECT count(*) FROM jobs") == [(0,)]
    # Still serving.
    again = await upload(loglens_server.address, "hunter2", LINES, sha256=None)
    assert again[-1].type is FrameType.STORED


@pytest.mark.parametrize(
    ("fields", "end", "words"),
    [
        ({"sha256": None}, {}, "END must carry 'sha256'"),
        ({"sha256": None}, {"sha256": "XYZ"}, "END must carry 'sha256'"),
        ({}, {"sha256": sha256_of(LINES)}, "only when the UPLOAD header's was null"),
    ],
)
async def test_an_end_that_breaks_the_hash_rule_is_refused(
    loglens_server: ServerHandle, fields: dict[str, Any], end: dict[str, Any], words: str
) -> None:
    frames = await upload(loglens_server.address, "s3cret", LINES, end=end, **fields)
    last = frames[-1]
    assert (last.type, last.field("code")) == (FrameType.ERROR, "malformed_frame")
    assert words in last.field("message")
    assert rows(loglens_server, "SELECT count(*) FROM uploads WHERE status = 'stored'") == [(0,)]
    assert rows(loglens_server, "SELECT count(*) FROM blobs") == [(0,)]
    # At most the received bytes, kept unfinished in partial/ for a resume.
    assert all(p.parent.name == "partial" for p in stored_files(loglens_server))


async def test_content_already_stored_is_recognised_when_installed(
    loglens_server: ServerHandle,
) -> None:
    first = await upload(loglens_server.address, "s3cret", LINES, wait=True)
    again = await upload(
        loglens_server.address, "hunter2", LINES, name="copy.log", sha256=None, wait=True
    )
    # The server could not know before the bytes came: it received them, then found the blob.
    assert again[0].field("duplicate") is False and again[0].field("offset") == 0
    stored = again[1].body or {}
    assert stored["duplicate"] is True
    assert stored["sha256"] == sha256_of(LINES)
    assert stored["job_id"] == first[1].field("job_id")
    assert again[-1].field("report") == first[-1].field("report")
    assert rows(loglens_server, "SELECT count(*) FROM blobs") == [(1,)]
    assert rows(loglens_server, "SELECT attempts, state FROM jobs") == [(1, "done")]
    assert rows(loglens_server, "SELECT operator, sha256, duplicate FROM uploads ORDER BY id") == [
        ("alice", sha256_of(LINES), 0),
        ("bob", sha256_of(LINES), 1),
    ]
    assert stored_files(loglens_server) == [blob(loglens_server, LINES)]


async def test_a_dropped_deferred_upload_resumes_byte_identical(
    loglens_server: ServerHandle,
) -> None:
    data = LINES * 20
    cut = len(data) // 3 + 4321
    first = await upload(loglens_server.address, "s3cret", data, sha256=None, stop_at=cut)
    upload_id = first[0].field("upload_id")
    assert rows(loglens_server, "SELECT sha256, status FROM uploads") == [("", "receiving")]
    resumed = await upload(loglens_server.address, "s3cret", data, sha256=None, resume=upload_id)
    accepted, stored = resumed[0].body or {}, resumed[-1].body or {}
    assert accepted["upload_id"] == upload_id
    assert 0 < accepted["offset"] <= cut
    assert (stored["upload_id"], stored["sha256"]) == (upload_id, sha256_of(data))
    assert blob(loglens_server, data).read_bytes() == data
    assert rows(loglens_server, "SELECT count(*), max(sha256) FROM uploads") == [
        (1, sha256_of(data))
    ]


async def test_a_deferred_upload_is_resumed_only_by_a_deferred_header(
    loglens_server: ServerHandle,
) -> None:
    data = LINES * 5
    first = await upload(loglens_server.address, "s3cret", data, sha256=None, stop_at=1000)
    upload_id = first[0].field("upload_id")
    await asyncio.sleep(0.5)  # let the server see the first connection end
    hashed = await upload(loglens_server.address, "s3cret", data, resume=upload_id)
    assert hashed[-1].field("code") == "not_resumable"
    # Without `resume`, a deferred header cannot name "the same bytes": a new upload.
    fresh = await upload(loglens_server.address, "s3cret", data, sha256=None)
    assert fresh[0].field("upload_id") != upload_id and fresh[0].field("offset") == 0
    assert fresh[-1].type is FrameType.STORED


async def test_resuming_a_deferred_upload_stored_meanwhile_checks_end(
    loglens_server: ServerHandle,
) -> None:
    first = await upload(loglens_server.address, "s3cret", LINES, sha256=None)
    upload_id = first[0].field("upload_id")
    again = await upload(loglens_server.address, "s3cret", LINES, sha256=None, resume=upload_id)
    assert again[0].body == {"upload_id": upload_id, "offset": len(LINES), "duplicate": False}
    assert again[-1].field("sha256") == sha256_of(LINES)
    wrong = await upload(
        loglens_server.address, "s3cret", LINES, sha256=None, resume=upload_id,
        end={"sha256": "1" * 64},
    )  # fmt: skip
    assert wrong[-1].field("code") == "hash_mismatch"
    assert rows(loglens_server, "SELECT count(*), min(status) FROM uploads") == [(1, "stored")]


async def test_the_client_hashes_a_big_file_while_sending_it(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(LINES * 30)
    stages: list[str] = []

    def seen(event: UploadEvent) -> None:
        if not stages or stages[-1] != event.stage:
            stages.append(event.stage)

    result = await upload_file(
        path, loglens_server.address, "s3cret", defer_hash_bytes=1024, progress=seen
    )
    assert "hashing" not in stages  # nothing before connecting
    assert result.sha256 == sha256_of(path.read_bytes())
    assert result.bytes_sent == path.stat().st_size
    assert rows(loglens_server, "SELECT sha256, status FROM uploads") == [(result.sha256, "stored")]
    # The same content again by the same operator, hashed first: known at once, nothing
    # sent (another operator sends the bytes: issue 13, item 6).
    again = await upload_file(path, loglens_server.address, "s3cret")
    assert (again.duplicate, again.bytes_sent, again.job_id) == (True, 0, result.job_id)


async def test_the_client_resumes_a_deferred_upload(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    data = LINES * 30
    path = tmp_path / "big.log"
    path.write_bytes(data)
    [accepted] = await upload(
        loglens_server.address, "s3cret", data, sha256=None, stop_at=len(data) // 2
    )
    first_id = int(accepted.field("upload_id"))
    result = await upload_file(
        path, loglens_server.address, "s3cret", resume=first_id, defer_hash_bytes=1024
    )
    [held] = result.offsets
    assert result.upload_id == first_id
    assert 0 < held <= len(data) // 2
    assert result.bytes_sent == len(data) - held
    assert result.sha256 == sha256_of(data)
    assert blob(loglens_server, data).read_bytes() == data


async def test_a_big_file_changed_while_sent_is_named(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    path = tmp_path / "moving.log"
    path.write_bytes(LINES * 30)

    def rewrite(event: UploadEvent) -> None:
        if event.stage == "connecting":  # a new size, new bytes
            path.write_bytes(LINES.replace(b"WARN", b"ERROR") * 30)

    with pytest.raises(UploadError) as caught:
        await upload_file(
            path, loglens_server.address, "s3cret", defer_hash_bytes=1024, progress=rewrite
        )
    assert caught.value.code == "file_changed"
    assert "the file changed while it was being uploaded" in caught.value.message
    assert rows(loglens_server, "SELECT count(*) FROM uploads WHERE status = 'stored'") == [(0,)]


async def test_a_null_sha256_needs_the_key(loglens_server: ServerHandle) -> None:
    body = header("s3cret", LINES)
    del body["sha256"]
    peer = await Peer.connect(loglens_server.address)
    try:
        assert await peer.handshake_reply() == HANDSHAKE
        await peer.send(encode(FrameType.UPLOAD, body))
        frame = await peer.frame()
        assert (frame.field("code"), "'sha256'" in frame.field("message")) == (
            "bad_header",
            True,
        )
    finally:
        await peer.close()


async def test_a_deferred_gzip_upload_is_stored_decompressed(loglens_server: ServerHandle) -> None:
    packed = gzip.compress(LINES)
    frames = await upload(loglens_server.address, "s3cret", packed, sha256=None, compression="gzip")
    stored = frames[-1].body or {}
    assert (stored["sha256"], stored["content_sha256"]) == (sha256_of(packed), sha256_of(LINES))
    assert blob(loglens_server, LINES).read_bytes() == LINES
    assert rows(loglens_server, "SELECT sha256, compression FROM uploads") == [
        (sha256_of(packed), "gzip")
    ]
