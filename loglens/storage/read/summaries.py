"""Figures the Reader sums over a selection: totals, levels, rejected lines, formats, ..."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, cast

from loglens.storage.dialect import Connection
from loglens.storage.read.filters import LEVELS
from loglens.storage.read.selection import Selection

# Compound SELECTs have at most 500 arms in SQLite; a few reasons exist, but stay well under.
_ARMS = 64
# A level's place in LEVELS (other levels after them, by name).
_LEVEL_RANK = (
    "CASE t.level "
    + " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(LEVELS))
    + f" ELSE {len(LEVELS)} END"
)
_BUCKET_SQL = {
    "minute": "t.minute",
    "hour": "substr(t.minute, 1, 13) || ':00:00.000000Z'",
    "day": "substr(t.minute, 1, 10) || 'T00:00:00.000000Z'",
}


async def rows(conn: Connection, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """All rows of a query, as tuples (the connections' rows are plain tuples)."""
    return cast(list[tuple[Any, ...]], list(await conn.fetchall(sql, tuple(params))))


async def totals(conn: Connection, sel: Selection) -> tuple[Selection, tuple[Any, ...]]:
    """The `results` figures summed over the selected blobs, as (blobs, uploads, entries,
    lines, bytes, continuation_lines, untimed_entries, filtered_lines, first_ts, last_ts,
    templates_approximate, templates, directive_lines), and `sel` marked `every` when it holds every
    analysed blob (its detail rows are then whole tables: see `Selection.rows_of`)."""
    found = await rows(
        conn,
        f"{sel.cte} SELECT COUNT(*), SUM(sel.uploads), SUM(r.entries), SUM(r.lines),"
        " SUM(r.bytes), SUM(r.continuation_lines), SUM(r.untimed_entries),"
        " SUM(r.filtered_lines), MIN(r.first_ts), MAX(r.last_ts),"
        " MAX(r.templates_approximate), SUM(r.templates), SUM(r.directive_lines),"
        " (SELECT COUNT(*) FROM results)"
        " FROM sel CROSS JOIN results AS r ON r.blob_id = sel.blob_id",
        sel.params,
    )
    figures = found[0]
    # `sel` only holds blobs with results, so as many blobs as results rows means all of them.
    return dataclasses.replace(sel, every=figures[0] == figures[-1]), figures[:-1]


async def rejected_samples(
    conn: Connection, sel: Selection, per_reason: int
) -> dict[str, list[dict[str, Any]]]:
    """Per reason, the first `per_reason` samples in selected-upload then line order, as
    {upload_id, original_name, line, text}."""
    head, source, params = sel.rows_of("rejected_samples", "s")
    reasons = [
        reason
        for (reason,) in await rows(
            conn, f"{head} SELECT DISTINCT s.reason FROM {source} ORDER BY s.reason", params
        )
    ]
    # Per reason, its first samples through the (blob_id, reason, line) index: a top-k of
    # keys, with the text read for the winners only.
    arm = (
        "SELECT * FROM (SELECT s.reason AS reason, s.rowid AS rid, sel.upload_id AS upload_id,"
        " s.line AS line FROM sel CROSS JOIN rejected_samples AS s ON s.blob_id = sel.blob_id"
        " WHERE s.reason = ? ORDER BY sel.upload_id, s.line LIMIT ?) AS arm"
    )
    samples: dict[str, list[dict[str, Any]]] = {}
    for first in range(0, len(reasons), _ARMS):
        chunk = reasons[first : first + _ARMS]
        found = await rows(
            conn,
            f"{sel.cte}, k AS ({' UNION ALL '.join([arm] * len(chunk))})"
            " SELECT k.reason, k.upload_id, u.original_name, k.line, s.text FROM k"
            " JOIN rejected_samples AS s ON s.rowid = k.rid JOIN uploads AS u ON u.id = k.upload_id"
            " ORDER BY k.reason, k.upload_id, k.line",
            [*sel.params, *(value for reason in chunk for value in (reason, per_reason))],
        )
        for reason, upload_id, name, line, text in found:
            samples.setdefault(reason, []).append(
                {"upload_id": upload_id, "original_name": name, "line": line, "text": text}
            )
    return samples


async def formats_of(conn: Connection, sel: Selection) -> list[dict[str, Any]]:
    """Formats of the selection, as the report lists them: per file for one blob, else per
    format and layout over every blob (`file` is then `N files`; shares of their entries)."""
    found = await rows(
        conn,
        f"{sel.cte} SELECT f.format, f.layout, COUNT(DISTINCT f.blob_id), MIN(u.original_name),"
        f" SUM(f.confidence * f.entries) / {conn.dialect.greatest('SUM(f.entries)', '1')},"
        " SUM(f.lines),"
        " SUM(f.entries), SUM(f.bytes), SUM(f.timed), SUM(f.leveled), SUM(f.understood),"
        " SUM(CASE WHEN f.timed IS NOT NULL THEN f.entries END), MAX(f.expects_levels)"
        " FROM sel CROSS JOIN formats AS f ON f.blob_id = sel.blob_id"
        " JOIN uploads AS u ON u.id = sel.upload_id GROUP BY f.format, f.layout"
        " ORDER BY SUM(f.lines) DESC, f.format, f.layout",
        sel.params,
    )
    return [
        {
            "file": name if files == 1 else f"{files} files",
            "format": fmt,
            "confidence": round(confidence, 3),
            **coverage(counted, timed, leveled),
            "layout": layout,
            "expects_levels": None if expects is None else bool(expects),
            "lines": int(lines),
            "entries": int(entries),
            "bytes": int(size),
            "timed": timed,
            "leveled": leveled,
            "understood": understood,
            "files": int(files),
        }
        for (
            fmt,
            layout,
            files,
            name,
            confidence,
            lines,
            entries,
            size,
            timed,
            leveled,
            understood,
            counted,
            expects,
        ) in found
    ]


def coverage(counted: int | None, timed: int | None, leveled: int | None) -> dict[str, Any]:
    """The report's `timestamps` and `levels` of a format: the shares of the `counted`
    entries with a timestamp and with a level read from the line; None for rows stored
    before they were counted (schema version 1, where `counted` is null)."""
    if counted is None or timed is None or leveled is None:
        return {"timestamps": None, "levels": None}
    return {
        "timestamps": round(timed / counted, 3) if counted else 0.0,
        "levels": round(leveled / counted, 3) if counted else 0.0,
    }


async def levels_of(conn: Connection, sel: Selection, level: str | None) -> dict[str, int]:
    """Entries per level, in LEVELS order: exact per minute in a window."""
    only = " AND t.level = ?" if level else ""
    extra = [level] if level else []
    if sel.window:
        head, source, params = sel.rows_of("timeline", summed=True)
        window, window_params = sel.minute_clause("t")
        sql = f"{head} SELECT t.level, SUM(t.count) FROM {source} WHERE 1 = 1{window}{only}"
        params = (*params, *window_params)
    else:
        head, source, params = sel.rows_of("level_counts", summed=True)
        sql = f"{head} SELECT t.level, SUM(t.count) FROM {source} WHERE 1 = 1{only}"
    sql += " GROUP BY t.level"
    params = (*params, *extra)
    found = dict(await rows(conn, sql, params))
    ordered = {lvl: int(found[lvl]) for lvl in LEVELS if found.get(lvl)}
    ordered.update({lvl: int(n) for lvl, n in found.items() if lvl not in ordered and n})
    return ordered


async def timeline_points(
    conn: Connection, sel: Selection, level: str | None, bucket: str
) -> list[dict[str, Any]]:
    """Entries per `bucket` (minute, hour, day) and level (only `level` if given), ordered
    by bucket then level: [{bucket (ISO), level, count}]."""
    head, query, params = _timeline_query(sel, level, bucket)
    found = await rows(conn, f"{head} {query}", params)
    return [{"bucket": name, "level": lvl, "count": count} for name, lvl, count in found]


async def timeline_json(conn: Connection, sel: Selection, level: str | None, bucket: str) -> str:
    """The points of `timeline_points` as JSON text, written by SQLite (no Python object
    per point): `[{"bucket":...,"level":...,"count":...},...]`."""
    if not conn.dialect.aggregates_json:
        points = await timeline_points(conn, sel, level, bucket)
        return json.dumps(points, separators=(",", ":"), ensure_ascii=False)
    head, query, params = _timeline_query(sel, level, bucket)
    # An aggregate of an ordered subquery keeps its order (SQLite keeps such ORDER BYs).
    found = await rows(
        conn,
        f"{head} SELECT json_group_array(json_object('bucket', p.bucket, 'level', p.level,"
        f" 'count', p.count)) FROM ({query}) AS p",
        params,
    )
    return str(found[0][0])


def _timeline_query(
    sel: Selection, level: str | None, bucket: str
) -> tuple[str, str, tuple[Any, ...]]:
    """The `WITH` head, the `SELECT bucket, level, count ... ORDER BY` of a timeline, and
    their parameters."""
    only = " AND t.level = ?" if level else ""
    if sel.window or bucket == "minute":
        # A window is cut by minute, so it reads the minute table (its index bounds it).
        head, source, params = sel.rows_of("timeline", summed=True)
        window, window_params = sel.minute_clause("t")
        column, where = _BUCKET_SQL[bucket], f"1 = 1{window}{only}"
        params = (*params, *window_params)
    else:
        head, source, params = sel.rows_of(f"timeline_{bucket}")
        column, where = f"t.{bucket}", f"1 = 1{only}"
    if sel.every and bucket == "minute":
        count, group = "t.count", ""  # the sums over every blob: a row per minute and level
    else:
        count, group = "SUM(t.count)", f" GROUP BY {column}, t.level"
    # Buckets start a minute, so their ISO form (`iso`) is their first 19 characters and Z.
    query = (
        f"SELECT substr({column}, 1, 19) || 'Z' AS bucket, t.level AS level, {count} AS count"
        f" FROM {source} WHERE {where}{group} ORDER BY {column}, {_LEVEL_RANK}, t.level"
    )
    return head, query, (*params, *([level] if level else []))


async def window_bounds(conn: Connection, sel: Selection) -> tuple[str | None, str | None]:
    """First and last entry in the window: the blob's own timestamp when it falls in the
    window's first/last minute of that blob, else the start of that minute."""
    window, window_params = sel.minute_clause("t")
    found = await rows(
        conn,
        f"{sel.cte}, b AS (SELECT t.blob_id, MIN(t.minute) AS lo, MAX(t.minute) AS hi"
        f" FROM sel CROSS JOIN timeline AS t ON t.blob_id = sel.blob_id WHERE 1 = 1{window}"
        " GROUP BY t.blob_id)"
        " SELECT MIN(CASE WHEN substr(r.first_ts, 1, 16) = substr(b.lo, 1, 16)"
        " THEN r.first_ts ELSE b.lo END),"
        " MAX(CASE WHEN substr(r.last_ts, 1, 16) = substr(b.hi, 1, 16)"
        " THEN r.last_ts ELSE b.hi END)"
        " FROM b JOIN results AS r ON r.blob_id = b.blob_id",
        [*sel.params, *window_params],
    )
    return (found[0][0], found[0][1]) if found else (None, None)


async def grouped(conn: Connection, sel: Selection, table: str, key: str) -> dict[str, int]:
    """SUM(count) per `key` of a detail table over the selection, most first."""
    head, source, params = sel.rows_of(table)
    found = await rows(
        conn,
        f"{head} SELECT t.{key}, SUM(t.count) AS n FROM {source}"
        f" GROUP BY t.{key} ORDER BY n DESC, t.{key}",
        params,
    )
    return {name: int(n) for name, n in found}


async def repaired(conn: Connection, sel: Selection) -> dict[str, int]:
    """Repaired lines per kind (the `repaired` table: the reports' `repaired`)."""
    head, source, params = sel.rows_of("repaired")
    found = await rows(
        conn,
        f"{head} SELECT t.kind, SUM(t.count) FROM {source} GROUP BY t.kind ORDER BY t.kind",
        params,
    )
    return {name: int(n) for name, n in found}


async def scalar(conn: Connection, sql: str, params: Iterable[Any] = ()) -> Any:
    """The first column of the first row of a query, or None."""
    found = await conn.fetchall(sql, tuple(params))
    return next(iter(found), (None,))[0]
