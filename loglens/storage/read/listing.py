"""Rows of the uploads list and the detail of one upload, for the Reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loglens.storage.dialect import Connection
from loglens.storage.read.filters import LEVELS
from loglens.storage.read.selection import WITH_RESULTS, iso
from loglens.storage.read.summaries import coverage, rows

STATUS_COLUMNS = (
    "u.id, u.operator, u.original_name, u.received_at, u.blob_id, u.size, u.sha256,"
    " u.compression, u.started_at, u.status, u.duplicate, u.error, j.id, j.state,"
    " j.attempts, j.error, j.started_at, j.finished_at, r.entries, r.first_ts, r.last_ts,"
    " u.kind, u.ended_at"
)
STATUS_KEYS = (
    "upload_id", "operator", "original_name", "received_at", "blob_id", "size", "sha256",
    "compression", "started_at", "status", "duplicate", "upload_error", "job_id",
    "job_state", "attempts", "job_error", "job_started_at", "job_finished_at", "entries",
    "first_timestamp", "last_timestamp", "kind", "ended_at",
)  # fmt: skip
_TIME_KEYS = frozenset(
    {"received_at", "started_at", "job_started_at", "job_finished_at", "ended_at"}
    | {"first_timestamp", "last_timestamp"}
)


def status_row(row: Sequence[Any]) -> dict[str, Any]:
    """An uploads-list dict from a row of STATUS_COLUMNS (times in ISO form)."""
    item = dict(zip(STATUS_KEYS, row, strict=True))
    item["duplicate"] = bool(item["duplicate"])
    for key in _TIME_KEYS:
        item[key] = iso(item[key])
    return item


async def upload_detail(
    conn: Connection, upload_id: int, owner: str | None = None
) -> dict[str, Any] | None:
    """One upload's status row with `results` (None until analysed) and `formats`; None
    if there is no such upload (of `owner`, when given)."""

    found = await rows(
        conn,
        f"SELECT {STATUS_COLUMNS}, r.lines, r.bytes, r.continuation_lines,"
        " r.untimed_entries, r.filtered_lines, r.templates, r.templates_approximate,"
        " r.directive_lines"
        " FROM uploads AS u LEFT JOIN jobs AS j ON j.blob_id = u.blob_id"
        f" LEFT JOIN results AS r ON r.blob_id = u.blob_id AND {WITH_RESULTS}"
        " WHERE u.id = ? AND (CAST(? AS TEXT) IS NULL OR u.operator = ?)",
        [upload_id, owner, owner],
    )
    if not found:
        return None
    row = found[0]
    item = status_row(row[: len(STATUS_KEYS)])
    blob_id = item["blob_id"]
    item["results"] = None
    item["formats"] = []
    if item["entries"] is not None:
        levels = dict(
            await rows(conn, "SELECT level, count FROM level_counts WHERE blob_id = ?", [blob_id])
        )
        rejected = await rows(
            conn,
            "SELECT reason, count FROM rejected WHERE blob_id = ? ORDER BY count DESC, reason",
            [blob_id],
        )
        extra = row[len(STATUS_KEYS) :]
        item["results"] = {
            "entries": item["entries"],
            "lines": extra[0],
            "bytes": extra[1],
            "continuation_lines": extra[2],
            "directive_lines": extra[7],
            "untimed_entries": extra[3],
            "filtered_lines": extra[4],
            "templates": extra[5],
            "templates_approximate": bool(extra[6]),
            "first_timestamp": item["first_timestamp"],
            "last_timestamp": item["last_timestamp"],
            "levels": {lvl: levels[lvl] for lvl in LEVELS if levels.get(lvl)},
            "rejected": dict(rejected),
        }
        item["formats"] = [
            {
                "format": fmt,
                "confidence": conf,
                **coverage(None if timed is None else e, timed, leveled),
                "layout": layout,
                "expects_levels": None if expects is None else bool(expects),
                "lines": n,
                "entries": e,
                "bytes": b,
                "timed": timed,
                "leveled": leveled,
                "understood": understood,
            }
            for fmt, conf, n, e, b, timed, leveled, understood, layout, expects in await rows(
                conn,
                "SELECT format, confidence, lines, entries, bytes, timed, leveled, understood,"
                " layout, expects_levels FROM formats WHERE blob_id = ? ORDER BY rowid",
                [blob_id],
            )
        ]
    return item
