"""Details the Reader attaches to its answers: examples, template levels, samples, formats."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from loglens.storage.filters import LEVELS
from loglens.storage.selection import Selection, marks

ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})


async def rows(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[tuple[Any, ...]]:
    """All rows of a query, as tuples."""
    async with conn.execute(sql, tuple(params)) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def examples(
    conn: aiosqlite.Connection,
    sel: Selection,
    template_ids: Sequence[str],
    levels: Sequence[str] | None,
) -> dict[str, dict[str, Any]]:
    """Per template id, its example at `levels` (all if None): the earliest line of it in
    the blob of the first selected upload holding it, as {example, upload_id,
    original_name, file, line}."""
    if not template_ids:
        return {}
    level_sql = f" AND t.level IN ({marks(len(levels))})" if levels else ""
    found = await rows(
        conn,
        f"{sel.cte}, ranked AS (SELECT t.template_id, t.example, t.line, sel.upload_id,"
        " ROW_NUMBER() OVER (PARTITION BY t.template_id ORDER BY sel.upload_id, t.line)"
        " AS rank FROM sel CROSS JOIN templates AS t ON t.blob_id = sel.blob_id"
        f" WHERE t.template_id IN ({marks(len(template_ids))}){level_sql})"
        " SELECT k.template_id, k.example, k.upload_id, u.original_name, k.line"
        " FROM ranked AS k JOIN uploads AS u ON u.id = k.upload_id WHERE k.rank = 1",
        [*sel.params, *template_ids, *(levels or ())],
    )
    return {
        tid: {
            "example": example,
            "upload_id": upload_id,
            "original_name": name,
            "file": name,
            "line": line,
        }
        for tid, example, upload_id, name, line in found
    }


async def template_levels(
    conn: aiosqlite.Connection, sel: Selection, template_ids: Sequence[str], level: str | None
) -> dict[str, dict[str, int]]:
    """Per template id, its entries per level over the selection (only `level` if given)."""
    if not template_ids:
        return {}
    only = " AND t.level = ?" if level else ""
    found = await rows(
        conn,
        f"{sel.cte} SELECT t.template_id, t.level, SUM(t.count) FROM sel"
        " JOIN templates AS t ON t.blob_id = sel.blob_id"
        f" WHERE t.template_id IN ({marks(len(template_ids))}){only}"
        " GROUP BY t.template_id, t.level",
        [*sel.params, *template_ids, *([level] if level else [])],
    )
    order = {name: i for i, name in enumerate(LEVELS)}
    found.sort(key=lambda row: (order.get(row[1], len(order)), row[1]))
    levels: dict[str, dict[str, int]] = {}
    for tid, lvl, count in found:
        levels.setdefault(tid, {})[lvl] = int(count)
    return levels


async def rejected_samples(
    conn: aiosqlite.Connection, sel: Selection, per_reason: int
) -> dict[str, list[dict[str, Any]]]:
    """Per reason, the first `per_reason` samples in selected-upload then line order, as
    {upload_id, original_name, line, text}."""
    found = await rows(
        conn,
        f"{sel.cte}, ranked AS (SELECT s.reason, s.line, s.text, sel.upload_id,"
        " ROW_NUMBER() OVER (PARTITION BY s.reason ORDER BY sel.upload_id, s.line) AS rank"
        " FROM sel CROSS JOIN rejected_samples AS s ON s.blob_id = sel.blob_id)"
        " SELECT k.reason, k.upload_id, u.original_name, k.line, k.text FROM ranked AS k"
        " JOIN uploads AS u ON u.id = k.upload_id WHERE k.rank <= ?"
        " ORDER BY k.reason, k.rank",
        [*sel.params, per_reason],
    )
    samples: dict[str, list[dict[str, Any]]] = {}
    for reason, upload_id, name, line, text in found:
        samples.setdefault(reason, []).append(
            {"upload_id": upload_id, "original_name": name, "line": line, "text": text}
        )
    return samples


async def formats_of(conn: aiosqlite.Connection, sel: Selection) -> list[dict[str, Any]]:
    """Formats of the selection, as the report lists them: per file for one blob, else per
    format over every blob (`file` is then `N files`; confidence weighted by lines)."""
    found = await rows(
        conn,
        f"{sel.cte} SELECT f.format, COUNT(DISTINCT f.blob_id), MIN(u.original_name),"
        " SUM(f.confidence * f.lines) / MAX(SUM(f.lines), 1), SUM(f.lines), SUM(f.entries),"
        " SUM(f.bytes), MIN(f.confidence)"
        " FROM sel CROSS JOIN formats AS f ON f.blob_id = sel.blob_id"
        " JOIN uploads AS u ON u.id = sel.upload_id GROUP BY f.format"
        " ORDER BY SUM(f.lines) DESC, f.format",
        sel.params,
    )
    return [
        {
            "file": name if files == 1 else f"{files} files",
            "format": fmt,
            "confidence": round(lowest if files == 1 else weighted, 3),
            "lines": int(lines),
            "entries": int(entries),
            "bytes": int(size),
            "files": int(files),
        }
        for fmt, files, name, weighted, lines, entries, size, lowest in found
    ]


async def levels_of(
    conn: aiosqlite.Connection, sel: Selection, level: str | None
) -> dict[str, int]:
    """Entries per level, in LEVELS order: exact per minute in a window."""
    only = " AND t.level = ?" if level else ""
    extra = [level] if level else []
    if sel.window:
        window, window_params = sel.minute_clause("t")
        sql = (
            f"{sel.cte} SELECT t.level, SUM(t.count) FROM sel CROSS JOIN timeline AS t"
            f" ON t.blob_id = sel.blob_id WHERE 1 = 1{window}{only} GROUP BY t.level"
        )
        params = [*sel.params, *window_params, *extra]
    else:
        sql = (
            f"{sel.cte} SELECT t.level, SUM(t.count) FROM sel CROSS JOIN level_counts AS t"
            f" ON t.blob_id = sel.blob_id WHERE 1 = 1{only} GROUP BY t.level"
        )
        params = [*sel.params, *extra]
    found = dict(await rows(conn, sql, params))
    ordered = {lvl: int(found[lvl]) for lvl in LEVELS if found.get(lvl)}
    ordered.update({lvl: int(n) for lvl, n in found.items() if lvl not in ordered and n})
    return ordered


async def window_bounds(
    conn: aiosqlite.Connection, sel: Selection
) -> tuple[str | None, str | None]:
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


async def grouped(
    conn: aiosqlite.Connection, sel: Selection, table: str, key: str
) -> dict[str, int]:
    """SUM(count) per `key` of a detail table over the selection, most first."""
    found = await rows(
        conn,
        f"{sel.cte} SELECT t.{key}, SUM(t.count) AS n FROM sel CROSS JOIN {table} AS t"
        f" ON t.blob_id = sel.blob_id GROUP BY t.{key} ORDER BY n DESC, t.{key}",
        sel.params,
    )
    return {name: int(n) for name, n in found}


async def repaired(conn: aiosqlite.Connection, sel: Selection) -> dict[str, int]:
    """Repaired lines per kind, from the stored reports (no table holds them)."""
    found = await rows(
        conn,
        f"{sel.cte} SELECT k.key, SUM(k.value) FROM sel CROSS JOIN results AS r"
        " ON r.blob_id = sel.blob_id, json_each(r.report_json, '$.repaired') AS k"
        " GROUP BY k.key ORDER BY k.key",
        sel.params,
    )
    return {name: int(n) for name, n in found}


async def scalar(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> Any:
    """The first column of the first row of a query, or None."""
    async with conn.execute(sql, tuple(params)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]
