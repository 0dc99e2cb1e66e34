"""Running the same command again resumes an unfinished upload, whatever the file's size."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from loglens.client import UploadOptions, prepare_file, upload
from loglens.client.resume import ResumeRecord
from loglens.protocol import FrameType
from tests.conftest import ROOT
from tests.integration.conftest import SERVER_SETTINGS, ServerFactory, ServerHandle, rows
from tests.integration.test_faults import received, wait_until, write_big_log
from tests.integration.wire import upload as wire_upload

_MIB = 1024 * 1024
_RESUMED = re.compile(rb"stored as upload (\d+) .*; resumed at byte ([\d,]+)")
LINES = b"".join(b"2024-05-01 10:00:%02d,000 INFO [main] request %d served\n" % (n % 60, n)
                 for n in range(2000))  # fmt: skip


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_MIB):
            digest.update(chunk)
    return digest.hexdigest()


def test_the_same_command_resumes_a_big_upload_after_ctrl_c(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory()
    big = tmp_path / "big.log"
    write_big_log(big, 160)  # hashed while sent: 64 MiB and more
    size = big.stat().st_size
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.pop("LOGLENS_RESUME_DIR", None)
    env.update(LOGLENS_SERVER=server.address, LOGLENS_TOKEN="s3cret", XDG_CACHE_HOME=str(cache))
    command = [sys.executable, str(ROOT / "client.py"), str(big), "--quiet"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        wait_until(lambda: received(server) >= 16 * _MIB, 60, "16 MiB to reach the server")
        # Stopped before Ctrl-C, so that the upload is certainly unfinished when it ends:
        # 140 MiB are left, more than any socket buffer holds.
        first.send_signal(signal.SIGSTOP)
        assert 16 * _MIB <= received(server) < size
        first.send_signal(signal.SIGINT)
        first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=30)
    finally:
        first.kill()
    assert first.returncode == 130, err.decode()
    assert b"run the same command again to resume" in err
    [record] = (cache / "loglens" / "uploads").glob("*.json")
    [(first_id, status)] = rows(server, "SELECT id, status FROM uploads")
    assert status == "receiving"

    again = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    assert again.returncode == 0, again.stderr.decode()
    match = _RESUMED.search(again.stdout)
    assert match is not None, again.stdout.decode()
    assert int(match.group(1)) == first_id
    assert 16 * _MIB <= int(match.group(2).replace(b",", b"")) < size
    stored = rows(
        server,
        "SELECT u.id, u.status, u.sha256, b.path FROM uploads u "
        "LEFT JOIN blobs b ON b.id = u.blob_id",
    )
    digest = sha256_file(big)
    assert [row[:3] for row in stored] == [(first_id, "stored", digest)]
    assert sha256_file(server.storage_path / stored[0][3]) == digest
    assert list(server.storage_path.glob("partial/*")) == []
    assert not record.exists()  # forgotten once stored


async def test_a_record_naming_another_operators_upload_starts_a_new_one(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    data = LINES * 20
    path = tmp_path / "big.log"
    path.write_bytes(data)
    # Alice's upload, unfinished.
    [accepted] = await wire_upload(
        loglens_server.address, "s3cret", data, sha256=None, stop_at=len(data) // 2
    )
    alices = int(accepted.field("upload_id"))
    # Bob's record names it (a hand-edited cache, or a token changed): the server refuses.
    payload = await prepare_file(path, "big.log", defer_hash_bytes=1024)
    state = tmp_path / "state"
    ResumeRecord(state, loglens_server.address, "hunter2", payload).save(alices)
    refused = await wire_upload(loglens_server.address, "hunter2", data, sha256=None, resume=alices)
    assert refused[-1].type is FrameType.ERROR
    assert refused[-1].field("code") == "not_resumable"
    options = UploadOptions(retries=0, resume_dir=state)  # the restart is no retry
    result = await upload(payload, loglens_server.address, "hunter2", options)
    assert result.upload_id != alices and result.offsets == (0,)
    assert rows(loglens_server, "SELECT id, operator, status FROM uploads ORDER BY id") == [
        (alices, "alice", "receiving"),
        (result.upload_id, "bob", "stored"),
    ]
    assert list(state.glob("*.json")) == []


async def test_a_changed_file_is_never_resumed(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    data = LINES * 20
    path = tmp_path / "big.log"
    path.write_bytes(data)
    [accepted] = await wire_upload(
        loglens_server.address, "s3cret", data, sha256=None, stop_at=len(data) // 2
    )
    earlier = int(accepted.field("upload_id"))
    state = tmp_path / "state"
    before = await prepare_file(path, "big.log", defer_hash_bytes=1024)
    ResumeRecord(state, loglens_server.address, "s3cret", before).save(earlier)
    assert ResumeRecord(state, loglens_server.address, "s3cret", before).load() == earlier
    os.utime(path, ns=(before.mtime_ns + 10**9, before.mtime_ns + 10**9))  # "modified"
    payload = await prepare_file(path, "big.log", defer_hash_bytes=1024)
    result = await upload(
        payload, loglens_server.address, "s3cret", UploadOptions(resume_dir=state)
    )
    assert result.upload_id != earlier and result.offsets == (0,)
    assert list(state.glob("*.json")) == []
