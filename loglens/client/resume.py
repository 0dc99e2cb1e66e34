"""Unfinished uploads remembered across runs, so that the same command resumes them.

The server finds an operator's unfinished upload of "the same bytes" by their SHA-256;
a file hashed while it is sent (`DEFER_HASH_BYTES` and more) has none yet, so it can be
resumed only by its upload id. The client keeps that id in a record per server, operator
and file: one small JSON file under `LOGLENS_RESUME_DIR` (by default
`$XDG_CACHE_HOME/loglens/uploads`), named by a hash of the three, holding the file's
identity (size, mtime_ns, device, inode) and the id. It is written atomically when the
server accepts the upload and deleted once the upload is stored or refused for good.

A record is a hint, never trusted: a file whose identity changed is not resumed, the
server refuses an id that is gone or another operator's (`not_resumable`, and the client
starts again), and it verifies the SHA-256 of the whole content at END. The operator is
recorded as a hash of the token, never the token.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from loglens.client.sources import Payload

logger = logging.getLogger(__name__)


class ResumeRecord:
    """The record of one file's unfinished upload to one server by one operator."""

    def __init__(self, directory: Path, server: str, token: str, payload: Payload) -> None:
        self.directory = directory
        operator = hashlib.sha256(b"loglens-operator\0" + token.encode()).hexdigest()
        self.key = {"server": server, "operator": operator, "path": str(payload.path.resolve())}
        self.identity = {
            "size": payload.size,
            "mtime_ns": payload.mtime_ns,
            "device": payload.device,
            "inode": payload.inode,
        }
        name = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()
        self.path = directory / f"{name[:32]}.json"

    def load(self) -> int | None:
        """The upload id recorded for this file as it is now; None if there is none (or
        it is unreadable, or the file changed since)."""
        try:
            record: Any = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring the unreadable resume record %s: %s", self.path, exc)
            return None
        if not isinstance(record, dict):
            return None
        upload_id = record.get("upload_id")
        if (
            {name: record.get(name) for name in self.key} != self.key
            or {name: record.get(name) for name in self.identity} != self.identity
            or not isinstance(upload_id, int)
            or isinstance(upload_id, bool)
            or upload_id < 1
        ):
            return None  # another file's (or this path's before it changed): not resumed
        return upload_id

    def save(self, upload_id: int) -> None:
        """Record `upload_id` for this file, atomically; a failure is logged, not raised:
        the upload goes on, only a later run cannot resume it."""
        record = {**self.key, **self.identity, "upload_id": upload_id}
        try:
            write_record(self.path, record)
        except OSError as exc:
            logger.warning(
                "cannot record upload %d in %s (%s): if interrupted, it will not resume; "
                "set LOGLENS_RESUME_DIR to a writable directory",
                upload_id, self.directory, exc.strerror or exc,
            )  # fmt: skip

    def forget(self) -> None:
        """Delete the record (the upload is stored, or can never finish)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("cannot delete the resume record %s: %s", self.path, exc)


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write a record as JSON, atomically (a temporary file renamed over it), readable by
    this user only; its folder is made (mode 0700) if need be."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
