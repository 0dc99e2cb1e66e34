"""Read the server's STORED and PROCESSED answers into an `UploadResult`, checking them."""

from __future__ import annotations

import dataclasses
from typing import Any

from loglens.client.models import VERIFY_FAILED, UploadError, UploadResult
from loglens.client.sources import Payload


def stored_result(
    payload: Payload,
    stored: dict[str, Any],
    duplicate: bool,
    *,
    sha256: str,
    attempts: int,
    bytes_sent: int,
    offsets: tuple[int, ...],
) -> UploadResult:
    """The result of a STORED answer; UploadError unless it names our size and SHA-256
    (`sha256`: the payload's, or the one computed while sending)."""
    said, size, upload_id = stored.get("sha256"), stored.get("size"), stored.get("upload_id")
    if said != sha256 or size != payload.size or _int(upload_id) is None:
        raise UploadError(
            VERIFY_FAILED,
            f"the server stored upload {upload_id!r} as {size!r} bytes with SHA-256 "
            f"{said!r}, but the file has {payload.size:,} bytes with SHA-256 {sha256}",
            _int(upload_id),
        )
    assert isinstance(upload_id, int)
    return UploadResult(
        name=payload.name,
        upload_id=upload_id,
        sha256=sha256,
        size=payload.size,
        compression=payload.compression,
        duplicate=bool(stored.get("duplicate", duplicate)),
        job_id=_int(stored.get("job_id")),
        content_sha256=_str(stored.get("content_sha256")),
        content_size=_int(stored.get("content_size")),
        attempts=attempts,
        bytes_sent=bytes_sent,
        offsets=offsets,
    )


def with_analysis(result: UploadResult, processed: dict[str, Any]) -> UploadResult:
    """The result with the PROCESSED answer: the job's state, its report or its error."""
    report = processed.get("report")
    return dataclasses.replace(
        result,
        job_id=_int(processed.get("job_id")) or result.job_id,
        state=_str(processed.get("state")),
        report=report if isinstance(report, dict) else None,
        error=_str(processed.get("error")),
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
