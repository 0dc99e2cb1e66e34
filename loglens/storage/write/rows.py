"""Columns to select, rows to dataclasses, and result rows to insert statements."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, cast

from loglens.storage.models import Blob, Job, JobState, Results, Upload, UploadKind, UploadStatus

UPLOAD_COLUMNS = (
    "id, operator, original_name, size, sha256, compression, started_at, received_at,"
    " status, blob_id, duplicate, error, kind, ended_at"
)
BLOB_COLUMNS = "b.id, b.sha256, b.size, b.path, b.first_name, b.stored_at"
JOB_COLUMNS = (
    "j.id, j.blob_id, j.state, j.attempts, j.runner, j.error, j.created_at, j.started_at,"
    " j.finished_at, b.path, b.first_name, j.interrupted"
)

Row = Sequence[Any]


def upload(row: Row) -> Upload:
    """An Upload from a row of UPLOAD_COLUMNS."""
    return Upload(
        id=row[0],
        operator=row[1],
        original_name=row[2],
        size=row[3],
        sha256=row[4],
        compression=row[5],
        started_at=row[6],
        received_at=row[7],
        status=cast(UploadStatus, row[8]),
        blob_id=row[9],
        duplicate=bool(row[10]),
        error=row[11],
        kind=cast(UploadKind, row[12]),
        ended_at=row[13],
    )


def blob(row: Row) -> Blob:
    """A Blob from a row of BLOB_COLUMNS."""
    return Blob(*row)


def job(row: Row) -> Job:
    """A Job from a row of JOB_COLUMNS."""
    return Job(
        id=row[0],
        blob_id=row[1],
        state=cast(JobState, row[2]),
        attempts=row[3],
        runner=row[4],
        error=row[5],
        created_at=row[6],
        started_at=row[7],
        finished_at=row[8],
        path=row[9],
        name=row[10],
        interrupted=row[11],
    )


def result_inserts(
    blob_id: int, job_id: int, results: Results
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """The INSERT statements, with their rows, that store `results` for a blob."""
    yield (
        "INSERT INTO results (blob_id, job_id, entries, lines, bytes, continuation_lines,"
        " directive_lines, untimed_entries, filtered_lines, first_ts, last_ts, templates,"
        " templates_approximate, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                blob_id,
                job_id,
                results.entries,
                results.lines,
                results.bytes,
                results.continuation_lines,
                results.directive_lines,
                results.untimed_entries,
                results.filtered_lines,
                results.first_ts,
                results.last_ts,
                results.templates,
                int(results.templates_approximate),
                json.dumps(results.report, ensure_ascii=False),
            )
        ],
    )
    details: tuple[tuple[str, str, Sequence[object]], ...] = (
        ("level_counts", "level, count", results.level_counts),
        (
            "templates",
            "template_id, level, template, count, example, line",
            results.template_counts,
        ),
        ("timeline", "minute, level, count", results.timeline),
        ("rejected", "reason, count", results.rejected),
        ("rejected_samples", "reason, line, text", results.rejected_samples),
        ("filtered", "rule, count", results.filtered),
        (
            "formats",
            "format, confidence, lines, entries, bytes, timed, leveled, understood, layout,"
            " expects_levels",
            results.formats,
        ),
        ("category_counts", "category, count, rank", results.category_counts),
        ("template_categories", "template_id, category, position", results.template_categories),
        (
            "anomalies",
            "rank, kind, score, start_ts, end_ts, explanation, template_ids, flag_levels,"
            " examples, source",
            results.anomalies,
        ),
        (
            "incidents",
            "rank, incident_key, title, score, start_ts, end_ts, source, kinds, categories,"
            " templates, findings",
            results.incidents,
        ),
        (
            "incident_findings",
            "incident_rank, anomaly_rank, position",
            results.incident_findings,
        ),
        ("template_series", "minute, template_id, level, count", results.template_series),
    )
    for table, columns, items in details:
        if items:
            names = columns.split(", ")
            marks = ", ".join("?" * (len(names) + 1))
            yield (
                f"INSERT INTO {table} (blob_id, {columns}) VALUES ({marks})",
                [(blob_id, *(getattr(item, name) for name in names)) for item in items],
            )
    # The report's repaired lines per kind, as a table: summed over blobs without JSON.
    repaired = results.report.get("repaired") or {}
    if repaired:
        yield (
            "INSERT INTO repaired (blob_id, kind, count) VALUES (?, ?, ?)",
            [(blob_id, kind, count) for kind, count in repaired.items()],
        )
