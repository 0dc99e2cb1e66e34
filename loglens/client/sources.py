"""What the client sends: the server address, and each file's size, SHA-256 and compression."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from loglens.client.models import ProgressCallback, UploadEvent
from loglens.errors import ConfigError, InputError
from loglens.processor.inputs import STDIN, Source, expand_paths

GZIP_MAGIC = b"\x1f\x8b"
READ_BYTES = 1024 * 1024
DEFAULT_PORT = 7878
# Files at least this big are hashed while they are sent (the SHA-256 goes in END):
# hashing first would hold back their first byte for about 0.65 s per GiB. Smaller files
# are hashed first, so that content the server already holds is not sent at all.
DEFER_HASH_BYTES = 64 * 1024 * 1024
_ADDRESS = re.compile(
    r"^(?:\[(?P<ipv6>[0-9A-Fa-f:.%\w]+)\]|(?P<host>[^:\[\]\s/]+))(?::(?P<port>[^:]*))?$"
)

STDIN_NAME = "<stdin>"

BytesDone = Callable[[int], None]


@dataclass(frozen=True)
class Payload:
    """One file ready to send: where its bytes are and what the UPLOAD header says of them.

    `sha256` is None when it is computed while the file is sent (and given in END).
    """

    name: str
    path: Path
    size: int
    sha256: str | None
    compression: str
    mtime_ns: int
    mtime: float | None  # sent to the server: it dates year-less timestamps, as locally
    device: int = 0  # with `inode`, which file this is (a remembered upload names it)
    inode: int = 0


def parse_server(text: str, setting: str = "--server") -> tuple[str, int]:
    """Parse `HOST:PORT` (`[::1]:PORT` for IPv6; the port defaults to 7878)."""
    match = _ADDRESS.match(text.strip())
    if not match:
        raise ConfigError(
            f"{setting}={text!r} is not HOST:PORT: use e.g. 127.0.0.1:{DEFAULT_PORT} "
            f"or [::1]:{DEFAULT_PORT}"
        )
    host = match.group("ipv6") or match.group("host")
    raw_port = match.group("port")
    if raw_port is None:
        return host, DEFAULT_PORT
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        raise ConfigError(
            f"{setting}={text!r}: the port must be a number from 1 to 65535, not {raw_port!r}"
        )
    return host, int(raw_port)


def printable(text: str) -> str:
    """`text` as valid UTF-8 that can be shown and sent: bytes of a file name that are not
    UTF-8 (held as lone surrogates, as `os.fsdecode` gives them) become `\\xe9` escapes.

    So `caf\\xe9.log` is how a file named b"caf\\xe9.log" is shown, sent in UPLOAD and
    recorded by the server; the name is only ever shown, never used as a path.
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def list_sources(
    paths: list[str], stdin_name: str = STDIN_NAME
) -> tuple[list[Source], list[tuple[str, InputError]]]:
    """Expand files, directories, globs and `-` (named `stdin_name`) as the analyzer does,
    each file once, under names that are valid UTF-8 (see `printable`).

    Each problem comes with the argument it was found under.
    """
    sources: list[Source] = []
    problems: list[tuple[str, InputError]] = []
    seen: set[Path] = set()
    for given in paths:
        found, errors = expand_paths([given])
        problems += [(given, error) for error in errors]
        for source in found:
            if source.path is None:
                if any(s.path is None for s in sources):
                    raise ConfigError(f"{STDIN} (standard input) can be given only once")
                sources.append(Source(stdin_name, None, gzip=False, size=0))
            elif (resolved := source.path.resolve()) not in seen:
                seen.add(resolved)
                sources.append(dataclasses.replace(source, name=printable(source.name)))
    return sources, problems


def hash_file(path: Path, done: BytesDone | None = None) -> tuple[int, str]:
    """Return the size and SHA-256 of a file, reporting bytes hashed to `done`."""
    digest = hashlib.sha256()
    buffer = bytearray(READ_BYTES)
    view = memoryview(buffer)
    size = 0
    try:
        with path.open("rb", buffering=0) as handle:
            while count := handle.readinto(buffer):
                digest.update(view[:count])  # releases the GIL: other uploads keep moving
                size += count
                if done is not None:
                    done(count)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return size, digest.hexdigest()


def describe_file(
    path: Path, name: str, done: BytesDone | None = None, *, hash_now: bool = True
) -> Payload:
    """Hash a file (unless not `hash_now`) and tell whether it is gzip (by its magic
    bytes, whatever its name)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(GZIP_MAGIC))
        before = path.stat()
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    size, sha256 = hash_file(path, done) if hash_now else (before.st_size, None)
    compression = "gzip" if magic == GZIP_MAGIC else "none"
    return Payload(
        name, path, size, sha256, compression, before.st_mtime_ns, before.st_mtime,
        device=before.st_dev, inode=before.st_ino,
    )  # fmt: skip


def spool_stream(
    stream: BinaryIO, directory: Path, name: str, done: BytesDone | None = None
) -> Payload:
    """Copy a stream (stdin) into a file under `directory`, hashing it on the way."""
    digest = hashlib.sha256()
    size = 0
    path = directory / "stdin.spool"
    try:
        with path.open("wb") as out:
            while chunk := stream.read(READ_BYTES):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if done is not None:
                    done(len(chunk))
    except OSError as exc:
        raise InputError(f"{name}: cannot spool to {path}: {exc.strerror or exc}") from exc
    with path.open("rb") as handle:
        compression = "gzip" if handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC else "none"
    mtime_ns = path.stat().st_mtime_ns
    return Payload(name, path, size, digest.hexdigest(), compression, mtime_ns, None)


def changed_since(payload: Payload, sha256: str | None = None) -> str | None:
    """Why the file no longer holds the bytes described by `payload` (whose SHA-256 is
    `sha256` when the payload does not say), or None if it does."""
    try:
        stat = os.stat(payload.path)
    except OSError as exc:
        return f"it cannot be read any more ({exc.strerror or exc})"
    if stat.st_size == payload.size and stat.st_mtime_ns == payload.mtime_ns:
        return None
    was = payload.sha256 or sha256
    if was is None:
        return f"it was {payload.size:,} bytes, now {stat.st_size:,}, modified since"
    try:
        size, now = hash_file(payload.path)
    except InputError as exc:
        return f"it cannot be read any more ({exc})"
    if size == payload.size and now == was:
        return None
    return (
        f"it was {payload.size:,} bytes with SHA-256 {was[:12]}…, "
        f"now {size:,} bytes with SHA-256 {now[:12]}…"
    )


async def prepare_file(
    path: Path,
    name: str,
    progress: ProgressCallback | None = None,
    defer_hash_bytes: int = DEFER_HASH_BYTES,
) -> Payload:
    """Describe a file, in a thread (the event loop keeps moving): hashed now if it is
    smaller than `defer_hash_bytes`, else while it is sent."""
    try:
        total = path.stat().st_size
    except OSError:
        total = 0  # describe_file says what is wrong
    done = _reporter(name, total, progress)
    hash_now = total < defer_hash_bytes
    return await asyncio.to_thread(describe_file, path, name, done, hash_now=hash_now)


async def prepare_stream(
    stream: BinaryIO, directory: Path, name: str, progress: ProgressCallback | None = None
) -> Payload:
    """Spool a stream (stdin) to a file in a thread, hashing it on the way.

    The thread is a daemon, not the loop's executor: a stream that never ends (a pipe
    from `tail -f`) must not keep the process alive once the upload is cancelled.
    """
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Payload] = loop.create_future()
    done = _reporter(name, 0, progress)

    def settle(result: Payload | Exception) -> None:
        if outcome.done():
            return  # cancelled meanwhile
        if isinstance(result, Exception):
            outcome.set_exception(result)
        else:
            outcome.set_result(result)

    def spool() -> None:
        result: Payload | Exception
        try:
            result = spool_stream(stream, directory, name, done)
        except Exception as exc:  # handed to the awaiting coroutine
            result = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=spool, name="loglens-spool-stdin", daemon=True).start()
    return await outcome


def _reporter(name: str, total: int, progress: ProgressCallback | None) -> BytesDone | None:
    """A bytes-done callback for a worker thread that reports on the event loop."""
    if progress is None:
        return None
    loop = asyncio.get_running_loop()
    count = 0

    def done(more: int) -> None:
        nonlocal count
        count += more
        loop.call_soon_threadsafe(progress, UploadEvent(name, "hashing", count, max(total, count)))

    return done
