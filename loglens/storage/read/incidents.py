"""What the Reader reads of the incidents over a selection: a page of them, each with its
findings (the anomalies it groups, best first) beneath it.

An incident belongs to a blob, like its anomalies, and is listed with the upload that
stands for it (its first selected upload).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from loglens.storage.dialect import Connection, Dialect
from loglens.storage.read.filters import Filters, IncidentFilters, Page, check_sort
from loglens.storage.read.insights import anomaly, overlap
from loglens.storage.read.selection import Selection, iso
from loglens.storage.read.summaries import rows

# Sorts of `incidents`: the name, the column; ties go by time, upload, report order.
# "id" is the order they were stored in (the live events list the new ones by it).
INCIDENT_SORTS = {"score": "i.score", "start": "i.start_ts", "findings": "i.findings",
                  "upload_id": "sel.upload_id", "id": "i.id"}  # fmt: skip
# The findings listed under each incident (`finding_count` tells how many it has).
MAX_FINDINGS = 50
_INCIDENT_COLUMNS = (
    "i.id, i.blob_id, i.rank, i.incident_key, i.title, i.score, i.start_ts, i.end_ts,"
    " i.source, i.kinds, i.categories, i.templates, i.findings, sel.upload_id, u.original_name"
)
_FINDING_COLUMNS = (
    "a.id, a.kind, a.score, a.start_ts, a.end_ts, a.explanation, a.template_ids,"
    " a.flag_levels, a.examples, a.source"
)


async def incident_page(
    conn: Connection,
    sel: Selection,
    f: Filters,
    i: IncidentFilters,
    page: Page,
    findings: int = MAX_FINDINGS,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the incidents of the selected blobs, each with up to `findings` of its
    findings, and how many incidents match: those overlapping [f.start, f.end), with a
    finding covering `f.level`, of `i`'s kind, category, score and template."""
    column, descending = check_sort(page.sort, INCIDENT_SORTS, "-score")
    where, params = _incident_where(conn.dialect, f, i)
    direction = "DESC" if descending else "ASC"
    found = await rows(
        conn,
        f"{sel.cte} SELECT {_INCIDENT_COLUMNS}"
        " FROM sel CROSS JOIN incidents AS i ON i.blob_id = sel.blob_id"
        f" JOIN uploads AS u ON u.id = sel.upload_id WHERE {where}"
        f" ORDER BY {column} {direction}, i.start_ts, sel.upload_id, i.rank LIMIT ? OFFSET ?",
        [*sel.params, *params, page.limit, page.offset],
    )
    counted = await rows(
        conn,
        f"{sel.cte} SELECT COUNT(*) FROM sel CROSS JOIN incidents AS i"
        f" ON i.blob_id = sel.blob_id WHERE {where}",
        [*sel.params, *params],
    )
    items = [_incident(row) for row in found]
    if items and findings:
        await _add_findings(conn, found, items, findings)
    return items, int(counted[0][0])


def _incident_where(dialect: Dialect, f: Filters, i: IncidentFilters) -> tuple[str, list[Any]]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if i.min_score is not None:
        where.append("i.score >= ?")
        params.append(float(i.min_score))
    # The lists are JSON arrays of plain names written by json.dumps (see anomalies).
    if i.kind is not None:
        where.append(dialect.json_list_has("i.kinds"))
        params.append(i.kind)
    if i.category is not None:
        where.append(dialect.json_list_has("i.categories"))
        params.append(i.category)
    finding: list[str] = []
    finding_params: list[Any] = []
    if i.template_id is not None:
        finding.append(dialect.json_list_has("a.template_ids"))
        finding_params.append(i.template_id)
    if f.level is not None:
        finding.append(dialect.json_list_has("a.flag_levels"))
        finding_params.append(f.level)
    if finding:
        where.append(
            "EXISTS (SELECT 1 FROM incident_findings AS x JOIN anomalies AS a"
            " ON a.blob_id = x.blob_id AND a.rank = x.anomaly_rank"
            " WHERE x.blob_id = i.blob_id AND x.incident_rank = i.rank AND "
            + " AND ".join(finding)
            + ")"
        )
        params += finding_params
    overlap(where, params, "i", f)
    return " AND ".join(where), params


def _incident(row: Sequence[Any]) -> dict[str, Any]:
    """An incident as the report has it, plus its upload; findings added after."""
    (incident_id, _blob, _rank, key, title, score, start, end, source, kinds, categories,
     templates, count, upload_id, name) = row  # fmt: skip
    return {
        "incident_id": key,
        "id": incident_id,
        "title": title,
        "score": round(score, 2),
        "start": iso(start),
        "end": iso(end),
        "source": source,
        "kinds": json.loads(kinds),
        "categories": json.loads(categories),
        "finding_count": count,
        "templates": json.loads(templates),
        "upload_id": upload_id,
        "original_name": name,
        "findings": [],
    }


async def _add_findings(
    conn: Connection, found: Sequence[Sequence[Any]], items: list[dict[str, Any]], limit: int
) -> None:
    """Put under each incident of a page its first `limit` findings, best first."""
    keys = [(int(row[1]), int(row[2])) for row in found]
    pairs = " OR ".join("(x.blob_id = ? AND x.incident_rank = ?)" for _ in keys)
    listed = await rows(
        conn,
        f"SELECT x.blob_id, x.incident_rank, {_FINDING_COLUMNS} FROM incident_findings AS x"
        " JOIN anomalies AS a ON a.blob_id = x.blob_id AND a.rank = x.anomaly_rank"
        f" WHERE ({pairs}) AND x.position < ? ORDER BY x.blob_id, x.incident_rank, x.position",
        [*(value for key in keys for value in key), limit],
    )
    place = {key: n for n, key in enumerate(keys)}
    for blob_id, rank, *columns in listed:
        item = items[place[int(blob_id), int(rank)]]
        item["findings"].append(anomaly([*columns, item["upload_id"], item["original_name"]]))
