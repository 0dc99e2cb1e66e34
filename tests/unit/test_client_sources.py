"""The client's pure parts: the server address, hashing, spooling stdin, listing sources."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
from pathlib import Path

import pytest

from loglens.client.models import UploadEvent
from loglens.client.sources import (
    DEFAULT_PORT,
    READ_BYTES,
    STDIN_NAME,
    changed_since,
    describe_file,
    hash_file,
    list_sources,
    parse_server,
    prepare_file,
    spool_stream,
)
from loglens.errors import ConfigError, InputError

LOG = b"2024-01-01 00:00:00 INFO hello\n2024-01-01 00:00:01 ERROR boom\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:7878", ("127.0.0.1", 7878)),
        ("logs.example.com:1", ("logs.example.com", 1)),
        ("  localhost:65535 ", ("localhost", 65535)),
        ("[::1]:9000", ("::1", 9000)),
        ("[fe80::1%eth0]:9000", ("fe80::1%eth0", 9000)),
        ("localhost", ("localhost", DEFAULT_PORT)),
        ("[::1]", ("::1", DEFAULT_PORT)),
    ],
)
def test_parse_server_accepts_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("localhost:0", "'0'"),
        ("localhost:65536", "'65536'"),
        ("localhost:http", "'http'"),
        ("localhost:", "''"),
        ("::1:7878", "HOST:PORT"),
        ("", "HOST:PORT"),
        ("a b:1", "HOST:PORT"),
        ("http://host:1", "HOST:PORT"),
    ],
)
def test_parse_server_names_the_setting_and_the_problem(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_server(text, "LOGLENS_SERVER")
    message = str(caught.value)
    assert message.startswith(f"LOGLENS_SERVER={text!r}")
    assert named in message


def test_hash_file_matches_hashlib_and_reports_every_byte(tmp_path: Path) -> None:
    data = os.urandom(2 * READ_BYTES + 12345)
    path = tmp_path / "a.log"
    path.write_bytes(data)
    seen: list[int] = []
    assert hash_file(path, seen.append) == (len(data), hashlib.sha256(data).hexdigest())
    assert sum(seen) == len(data) and len(seen) == 3


def test_hash_file_of_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.log: cannot read"):
        hash_file(tmp_path / "nope.log")


def test_gzip_is_recognised_by_its_magic_bytes_not_its_name(tmp_path: Path) -> None:
    packed = tmp_path / "looks-plain.log"
    packed.write_bytes(gzip.compress(LOG))
    plain = tmp_path / "looks-packed.gz"
    plain.write_bytes(LOG)
    described = describe_file(packed, "shown name")
    assert (described.name, described.compression) == ("shown name", "gzip")
    assert described.size == packed.stat().st_size
    assert described.sha256 == hashlib.sha256(packed.read_bytes()).hexdigest()
    assert described.mtime == packed.stat().st_mtime
    assert describe_file(plain, "p").compression == "none"


def test_an_empty_file_is_described(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    described = describe_file(empty, "empty.log")
    assert (described.size, described.compression) == (0, "none")
    assert described.sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("data", [LOG * 50_000, gzip.compress(LOG * 1000), b""])
def test_spooled_stdin_is_identical_and_hashed(tmp_path: Path, data: bytes) -> None:
    seen: list[int] = []
    payload = spool_stream(io.BytesIO(data), tmp_path, STDIN_NAME, seen.append)
    assert payload.path.read_bytes() == data
    assert (payload.size, payload.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert payload.compression == ("gzip" if data.startswith(b"\x1f\x8b") else "none")
    assert payload.mtime is None  # stdin has no modification time to give the server
    assert sum(seen) == len(data)


def test_changed_since_tells_a_changed_file_from_a_touched_one(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(LOG)
    payload = describe_file(path, "app.log")
    assert changed_since(payload) is None
    os.utime(path, ns=(payload.mtime_ns + 10**9, payload.mtime_ns + 10**9))
    assert changed_since(payload) is None  # touched, same bytes
    path.write_bytes(LOG.replace(b"boom", b"BOOM"))
    assert "now 62 bytes" in str(changed_since(payload))  # same size, other bytes
    path.write_bytes(LOG + b"more\n")
    assert f"was {len(LOG)} bytes" in str(changed_since(payload))
    path.unlink()
    assert "cannot be read" in str(changed_since(payload))


async def test_prepare_file_hashes_in_a_thread_and_reports_on_the_loop(tmp_path: Path) -> None:
    data = os.urandom(3 * READ_BYTES)
    path = tmp_path / "big.log"
    path.write_bytes(data)
    events: list[UploadEvent] = []
    payload = await prepare_file(path, "big.log", events.append)
    await asyncio.sleep(0)  # the last call_soon_threadsafe callback runs
    assert payload.sha256 == hashlib.sha256(data).hexdigest()
    assert [e.stage for e in events] == ["hashing"] * 3
    assert [e.done for e in events] == [READ_BYTES, 2 * READ_BYTES, 3 * READ_BYTES]
    assert {e.total for e in events} == {len(data)}


def test_list_sources_like_the_analyzer_each_file_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "deep").mkdir(parents=True)
    for name in ("a.log", "b.log.gz", "deep/c.txt", ".hidden.log", "notes.md"):
        (logs / name).write_bytes(LOG)
    args = [str(logs), str(logs / "a.log"), str(logs / "*.log"), "-", str(tmp_path / "nope.log")]
    sources, problems = list_sources(args)
    names = [Path(s.name).relative_to(logs).as_posix() if s.path else s.name for s in sources]
    assert names == ["a.log", "b.log.gz", "deep/c.txt", STDIN_NAME]
    assert [(given, str(error)) for given, error in problems] == [
        (args[-1], f"{args[-1]}: no such file or directory")
    ]


def test_stdin_can_be_given_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only once"):
        list_sources(["-", "-"])
