"""`python client.py` against a real `python server.py`: what a user sees, what the server keeps."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loglens.client import UploadError, UploadEvent, upload_file
from loglens.config import load_config
from loglens.server.app import Server
from tests.conftest import ROOT, MakeLog, Run, run_cli
from tests.integration.conftest import SERVER_SETTINGS, ServerHandle, rows
from tests.integration.wire import upload as raw_upload

STORED_LINE = re.compile(
    r"^(?P<name>.+): stored as upload (?P<id>\d+) \((?P<size>[\d,]+) bytes\), "
    r"sha256 (?P<sha>[0-9a-f]{64}) verified(?P<dup>; duplicate: .*)?$"
)


def run_client(
    *args: str,
    server: ServerHandle | None = None,
    token: str | None = "s3cret",
    stdin: bytes = b"",
    cwd: Path,
    timeout: float = 300,
) -> Run:
    """Run `python client.py ARGS` in a subprocess, with only the settings given here."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    if server is not None:
        env["LOGLENS_SERVER"] = server.address
    if token is not None:
        env["LOGLENS_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, str(ROOT / "client.py"), *args],
        input=stdin, capture_output=True, env=env, cwd=cwd, timeout=timeout,
    )  # fmt: skip
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def stored_lines(out: str) -> dict[str, re.Match[str]]:
    """The client's per-file lines, by file name."""
    found = [STORED_LINE.match(line) for line in out.splitlines()]
    return {m["name"]: m for m in found if m}


def stored_content(server: ServerHandle, upload_id: int) -> bytes:
    """The bytes the server keeps for an upload (decompressed, for gzip)."""
    [(path,)] = rows(
        server,
        "SELECT b.path FROM uploads u JOIN blobs b ON b.id = u.blob_id WHERE u.id = ?",
        upload_id,
    )
    return (server.storage_path / str(path)).read_bytes()


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_upload_is_verified_and_stored_then_a_duplicate(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("log4j")
    data = path.read_bytes()
    run = run_client(str(path), server=loglens_server, cwd=tmp_path)
    assert run.code == 0, run.err
    line = stored_lines(run.out)[str(path)]
    assert line["sha"] == hashlib.sha256(data).hexdigest()
    assert line["size"] == f"{len(data):,}" and line["dup"] is None
    upload_id = int(line["id"])
    assert rows(
        loglens_server,
        "SELECT operator, original_name, size, sha256, compression, status FROM uploads "
        "WHERE id = ?",
        upload_id,
    ) == [("alice", str(path), len(data), line["sha"], "none", "stored")]
    assert stored_content(loglens_server, upload_id) == data

    again = run_client(str(path), server=loglens_server, token="hunter2", cwd=tmp_path)
    assert again.code == 0, again.err
    second = stored_lines(again.out)[str(path)]
    assert second["dup"] is not None and int(second["id"]) != upload_id
    assert rows(loglens_server, "SELECT operator FROM uploads ORDER BY id") == [
        ("alice",),
        ("bob",),
    ]


def test_stdin_is_spooled_and_uploaded(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("python")
    data = path.read_bytes()
    run = run_client("-", server=loglens_server, stdin=data, cwd=tmp_path)
    assert run.code == 0, run.err
    line = stored_lines(run.out)["<stdin>"]
    assert line["sha"] == hashlib.sha256(data).hexdigest()
    assert stored_content(loglens_server, int(line["id"])) == data


def test_a_directory_uploads_each_log_file_several_at_once(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    formats = ("syslog", "jsonl", "apache_access", "hdfs", "zookeeper")
    paths = [make_log(fmt, lines=300)[0].rename(logs / f"{fmt}.log") for fmt in formats]
    (logs / "notes.md").write_text("not a log")
    run = run_client(str(logs), "--parallel", "3", server=loglens_server, cwd=tmp_path)
    assert run.code == 0, run.err
    lines = stored_lines(run.out)
    assert sorted(lines) == sorted(str(p) for p in paths)
    for path in paths:
        assert stored_content(loglens_server, int(lines[str(path)]["id"])) == path.read_bytes()
    assert rows(loglens_server, "SELECT count(*) FROM uploads WHERE status = 'stored'") == [(5,)]


def test_gzip_is_sent_as_is_and_stored_decompressed(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("zookeeper")
    packed = tmp_path / "zk.log.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    run = run_client(str(packed), "--json", server=loglens_server, cwd=tmp_path)
    assert run.code == 0, run.err
    [item] = json.loads(run.out)
    assert item["compression"] == "gzip"
    assert item["sha256"] == hashlib.sha256(packed.read_bytes()).hexdigest()
    assert item["size"] == packed.stat().st_size
    assert rows(
        loglens_server, "SELECT compression FROM uploads WHERE id = ?", item["upload_id"]
    ) == [("gzip",)]
    assert stored_content(loglens_server, item["upload_id"]) == path.read_bytes()


def test_wait_prints_the_same_report_as_the_processor(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("log4j", lines=1500)
    run = run_client(str(path), "--wait", server=loglens_server, cwd=tmp_path)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert STORED_LINE.match(lines[0])
    local = run_cli(str(path), "--quiet").out.splitlines()
    statistics = local[: local.index("")]  # levels, top errors, first and last log
    assert statistics[0] == "Statistics:" and len(statistics) > 5
    assert lines[1 : 1 + len(statistics)] == statistics


def test_json_document_for_machines(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, truth = make_log("python")
    missing = str(tmp_path / "nope.log")
    run = run_client(str(path), missing, "--wait", "--json", server=loglens_server, cwd=tmp_path)
    assert run.code == 1
    assert f"error: {missing}: no such file or directory" in run.err
    failed, done = json.loads(run.out)
    assert failed == {
        "name": missing, "ok": False, "upload_id": None, "sha256": None, "size": None,
        "compression": None, "duplicate": None, "job_id": None, "state": None,
        "report": None,
        "error": {"code": "input_error", "message": f"{missing}: no such file or directory"},
    }  # fmt: skip
    assert done["ok"] is True and done["error"] is None
    assert done["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert done["state"] == "done" and isinstance(done["job_id"], int)
    assert done["report"]["entries"] == truth.entries
    assert rows(loglens_server, "SELECT state FROM jobs WHERE id = ?", done["job_id"]) == [
        ("done",)
    ]


def test_a_wrong_token_fails_with_the_servers_message(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("log4j", lines=50)
    run = run_client(str(path), server=loglens_server, token="guess", cwd=tmp_path)
    assert run.code == 1
    assert run.out == ""
    assert run.err.strip() == f"error: {path}: upload refused: the token is not valid"
    assert rows(loglens_server, "SELECT count(*) FROM uploads") == [(0,)]


def test_no_server_is_a_clear_error_at_once(make_log: MakeLog, tmp_path: Path) -> None:
    path, _ = make_log("log4j", lines=50)
    port = free_port()
    run = run_client(str(path), "--server", f"127.0.0.1:{port}", cwd=tmp_path, timeout=30)
    assert run.code == 1
    assert f"error: {path}: cannot connect to 127.0.0.1:{port}: Connection refused" in run.err
    assert "is the server running?" in run.err


def test_server_and_token_from_an_env_file(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("log4j", lines=50)
    settings = tmp_path / "client.env"
    settings.write_text(f"LOGLENS_SERVER={loglens_server.address}\nLOGLENS_TOKEN=hunter2\n")
    run = run_client(str(path), "--env-file", str(settings), token=None, cwd=tmp_path)
    assert run.code == 0, run.err
    upload_id = int(stored_lines(run.out)[str(path)]["id"])
    assert rows(loglens_server, "SELECT operator FROM uploads WHERE id = ?", upload_id) == [
        ("bob",)
    ]


def test_usage_errors_exit_2_and_name_the_value(make_log: MakeLog, tmp_path: Path) -> None:
    path, _ = make_log("log4j", lines=50)
    cases: dict[tuple[str, ...], str] = {
        ("--no-such-flag",): "--no-such-flag",
        ("--parallel", "0"): "--parallel",
        ("--retries", "-1"): "--retries",
        ("--timeout", "soon"): "'soon'",
        ("--server", "localhost:http"): "--server='localhost:http'",
        ("--env-file", "missing.env"): "missing.env",
        ("-", "-"): "only once",
    }
    for flags, named in cases.items():
        run = run_client("--server", "127.0.0.1:9", str(path), *flags, cwd=tmp_path)
        assert run.code == 2, (flags, run.err)
        assert named in run.err, (flags, run.err)
        assert run.out == ""
    run = run_client("--server", "127.0.0.1:9", cwd=tmp_path)
    assert run.code == 2 and "FILE" in run.err
    run = run_client(str(path), "--server", "127.0.0.1:9", token=None, cwd=tmp_path)
    assert run.code == 2 and "LOGLENS_TOKEN" in run.err and "--token" in run.err


async def test_upload_file_resumes_a_dropped_upload(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    data = b"".join(b"2024-05-01 10:00:00,000 INFO line %d\n" % i for i in range(200_000))
    path = tmp_path / "big.log"
    path.write_bytes(data)
    token = loglens_server.tokens["alice"]
    [accepted] = await raw_upload(loglens_server.address, token, data, stop_at=len(data) // 2)
    first_id = int(accepted.field("upload_id"))
    result = await upload_file(path, loglens_server.address, token, resume=first_id)
    assert result.upload_id == first_id
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    # It went on from what the server held, and sent only the rest.
    [held] = result.offsets
    assert 0 < held <= len(data) // 2
    assert result.bytes_sent == len(data) - held
    assert stored_content(loglens_server, first_id) == data
    assert rows(loglens_server, "SELECT count(*), min(status) FROM uploads") == [(1, "stored")]


async def test_a_file_changed_after_hashing_is_named(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    path = tmp_path / "moving.log"
    path.write_bytes(b"2024-05-01 10:00:00,000 INFO steady\n" * 1000)

    def rewrite(event: UploadEvent) -> None:
        if event.stage == "connecting":  # hashed already, not read yet
            path.write_bytes(b"2024-05-01 10:00:00,000 INFO moving\n" * 1000)

    with pytest.raises(UploadError) as caught:
        await upload_file(path, loglens_server.address, "s3cret", progress=rewrite)
    assert caught.value.code == "file_changed"
    assert "the file changed while it was being uploaded" in caught.value.message
    assert rows(loglens_server, "SELECT count(*) FROM uploads WHERE status = 'stored'") == [(0,)]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def test_upload_over_tls(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    config = load_config(
        {
            "HOST": "127.0.0.1",
            "PORT": "0",
            "STORAGE_PATH": str(tmp_path / "storage"),
            "DB_PATH": str(tmp_path / "loglens.db"),
            "AUTH_TOKENS": "alice:s3cret",
        }
    )
    server = Server(config, processor=None, ssl=server_context)
    await server.start()
    try:
        path = tmp_path / "app.log"
        path.write_bytes(b"2024-05-01 10:00:00,000 INFO over TLS\n" * 50_000)
        address = f"127.0.0.1:{server.address[1]}"
        client_context = ssl.create_default_context(cafile=str(cert))
        result = await upload_file(path, address, "s3cret", ssl=client_context)
        assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        with sqlite3.connect(config.db_path) as db:
            status = db.execute("SELECT status FROM uploads WHERE id = ?", (result.upload_id,))
            assert status.fetchall() == [("stored",)]
        with pytest.raises(UploadError) as caught:  # a certificate it does not trust
            await upload_file(path, address, "s3cret", ssl=ssl.create_default_context())
        assert caught.value.code == "tls_failed" and "certificate" in caught.value.message
    finally:
        await server.shutdown(grace=0)


def test_sigterm_while_reading_stdin_exits_cleanly(tmp_path: Path) -> None:
    spool_root = tmp_path / "tmp"
    spool_root.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(LOGLENS_TOKEN="s3cret", TMPDIR=str(spool_root))
    client = subprocess.Popen(
        [sys.executable, str(ROOT / "client.py"), "--server", f"127.0.0.1:{free_port()}", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert client.stdin is not None
    try:
        client.stdin.write(b"2024-05-01 10:00:00,000 INFO still coming\n")
        client.stdin.flush()  # stdin stays open: the upload cannot start
        deadline = time.monotonic() + 30
        while not any(spool_root.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(spool_root.iterdir()), "the client never started spooling stdin"
        client.terminate()
        out, err = client.communicate(timeout=30)
    finally:
        client.kill()
    assert client.returncode == 143
    assert out == b""
    assert b"terminated: run the same command again" in err
    assert list(spool_root.iterdir()) == []  # the spooled copy of stdin is gone


def test_a_format_nobody_configured_is_learned_by_the_server_too(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    path = tmp_path / "gateway.log"
    path.write_text(
        "".join(
            f"gw-1  | 07 Dec 2026 09:{minute:02d}:17.250 PDT [{level}] route {minute} "
            f"answered in {minute * 3} ms\n"
            for minute, level in zip(
                range(30), ["INF", "INF", "WRN", "ERR", "INF"] * 6, strict=True
            )
        )
    )
    run = run_client(str(path), "--wait", "--json", server=loglens_server, cwd=tmp_path)
    assert run.code == 0, run.err
    [item] = json.loads(run.out)
    report = item["report"]
    assert report["levels"] == {"INFO": 18, "WARNING": 6, "ERROR": 6}
    assert report["first_timestamp"].startswith("2026-12-07T16:00:17.25")  # PDT is UTC-7
    [fmt] = report["formats"]
    assert (fmt["format"], fmt["timestamps"], fmt["levels"]) == ("learned", 1.0, 1.0)
    stored = rows(loglens_server, "SELECT format, timed, leveled, entries FROM formats")
    assert stored == [("learned", 30, 30, 30)]
