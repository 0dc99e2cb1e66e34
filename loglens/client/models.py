"""What an upload reports and returns: its options, events, result, and how it fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from ssl import SSLContext
from typing import Any, Literal

from loglens.errors import LoglensError
from loglens.protocol import MAX_FRAME_BYTES

Stage = Literal["hashing", "connecting", "sending", "verifying", "analysing", "retrying"]
# Failure codes of the client itself, beside the server's `ErrorCode` values.
UNREACHABLE = "unreachable"
CONNECTION_LOST = "connection_lost"
TIMEOUT = "timeout"
NOT_A_SERVER = "not_a_server"
TLS_FAILED = "tls_failed"
FILE_CHANGED = "file_changed"
VERIFY_FAILED = "verification_failed"
INPUT_ERROR = "input_error"
ANALYSIS_FAILED = "analysis_failed"


class UploadError(LoglensError):
    """An upload failed for good; `code` is an `ErrorCode` value or one of the client's."""

    def __init__(self, code: str, message: str, upload_id: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.upload_id = upload_id


@dataclass(frozen=True)
class UploadEvent:
    """Where an upload stands: its stage, bytes done of total, and its id once known."""

    name: str
    stage: Stage
    done: int
    total: int
    upload_id: int | None = None
    note: str = ""


ProgressCallback = Callable[[UploadEvent], None]


@dataclass(frozen=True)
class UploadOptions:
    """How to upload: wait for the analysis, retries and timeouts, frame size, TLS, and
    where to remember unfinished uploads for a later run (None: nowhere)."""

    wait: bool = False
    retries: int = 5
    timeout: float = 60.0
    backoff: float = 0.5
    max_backoff: float = 30.0
    frame_bytes: int = MAX_FRAME_BYTES
    ssl: SSLContext | None = None
    server_hostname: str | None = None
    resume_dir: Path | None = None


@dataclass(frozen=True)
class UploadResult:
    """A stored and verified upload (and its analysis when the client waited for it)."""

    name: str
    upload_id: int
    sha256: str
    size: int
    compression: str
    duplicate: bool
    job_id: int | None
    content_sha256: str | None
    content_size: int | None
    attempts: int  # connections made
    bytes_sent: int  # DATA bytes sent over all of them
    offsets: tuple[int, ...]  # the offset each ACCEPTED named: where each connection began
    state: str | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
