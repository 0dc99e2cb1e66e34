"""Counts over time per level, template or category, and what changed between two
selections: the SQL of `Reader.trend` and `Reader.diff`.

Levels come from the `timeline` tables (every level per minute). Templates and categories
come from `template_series`, which keeps WARNING, ERROR and CRITICAL per minute and the
other levels per hour (`minute` is the hour's first minute): a minute trend of templates
or categories counts the minute levels only, and refuses a level below them. In a window,
hourly rows count when their hour overlaps it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from loglens.storage.dialect import Connection
from loglens.storage.read.filters import MINUTE_LEVELS, Filters, QueryError
from loglens.storage.read.insights import template_texts
from loglens.storage.read.ranking import examples
from loglens.storage.read.selection import Selection, iso, marks
from loglens.storage.read.summaries import levels_of, rows, timeline_points, window_bounds

_BUCKET_SQL = {
    "minute": "t.minute",
    "hour": "substr(t.minute, 1, 13) || ':00:00.000000Z'",
    "day": "substr(t.minute, 1, 10) || 'T00:00:00.000000Z'",
}
_MINUTE_MARKS = marks(len(MINUTE_LEVELS))


def trend_levels(level: str | None, bucket: str, by: str) -> tuple[str, ...] | None:
    """The levels a template or category trend counts (None: all), or QueryError when the
    bucket is finer than the counts kept at `level`."""
    if bucket != "minute" or by == "level":
        return (level,) if level else None
    if level is None:
        return MINUTE_LEVELS
    if level not in MINUTE_LEVELS:
        raise QueryError(
            f"bucket='minute' with level={level!r}: templates and categories are counted per "
            f"minute only at {', '.join(MINUTE_LEVELS)} ({level} per hour): use bucket=hour "
            "or day, or one of those levels"
        )
    return (level,)


async def level_trend(
    conn: Connection, sel: Selection, level: str | None, bucket: str
) -> list[dict[str, Any]]:
    """Entries per bucket and level: [{bucket, key (the level), count}]."""
    points = await timeline_points(conn, sel, level, bucket)
    return [{"bucket": p["bucket"], "key": p["level"], "count": p["count"]} for p in points]


def _series_where(sel: Selection, levels: tuple[str, ...] | None) -> tuple[str, list[Any]]:
    """The WHERE of template_series rows: levels, and the window (hourly rows by overlap)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if levels:
        where.append(f"t.level IN ({marks(len(levels))})")
        params.extend(levels)
    if sel.high is not None:
        where.append("t.minute < ?")
        params.append(sel.high)
    if sel.low is not None:
        hour = sel.low[:13] + ":00:00.000000Z"
        where.append(f"(t.minute >= ? OR (t.level NOT IN ({_MINUTE_MARKS}) AND t.minute >= ?))")
        params.extend([sel.low, *MINUTE_LEVELS, hour])
    return " AND ".join(where), params


def _series_source(sel: Selection, by: str) -> tuple[str, str, tuple[Any, ...], str]:
    """The template series of the selection (with each template's categories when `by`
    is "category"): its WITH head, FROM source, parameters, and the key column."""
    head, source, params = sel.rows_of("template_series")
    if by != "category":
        return head, source, params, "t.template_id"
    source += (
        " JOIN template_categories AS c ON c.blob_id = t.blob_id AND c.template_id = t.template_id"
    )
    return head, source, params, "c.category"


async def series_totals(
    conn: Connection, sel: Selection, by: str, levels: tuple[str, ...] | None
) -> dict[str, int]:
    """Entries per template (or category) in the series over the selection and window."""
    head, source, params, key = _series_source(sel, by)
    where, where_params = _series_where(sel, levels)
    found = await rows(
        conn,
        f"{head} SELECT {key}, SUM(t.count) FROM {source} WHERE {where} GROUP BY {key}",
        [*params, *where_params],
    )
    return {name: int(count) for name, count in found}


async def series_trend(
    conn: Connection,
    sel: Selection,
    by: str,
    keys: list[str],
    levels: tuple[str, ...] | None,
    bucket: str,
) -> list[dict[str, Any]]:
    """Entries per bucket of each template (or category) in `keys`: [{bucket, key, count}]."""
    if not keys:
        return []
    head, source, params, key = _series_source(sel, by)
    where, where_params = _series_where(sel, levels)
    column = _BUCKET_SQL[bucket]
    found = await rows(
        conn,
        f"{head} SELECT substr({column}, 1, 19) || 'Z', {key}, SUM(t.count) FROM {source}"
        f" WHERE {where} AND {key} IN ({marks(len(keys))})"
        f" GROUP BY {column}, {key} ORDER BY {column}, {key}",
        [*params, *where_params, *keys],
    )
    return [{"bucket": name, "key": k, "count": int(count)} for name, k, count in found]


async def key_labels(conn: Connection, by: str, keys: list[str]) -> dict[str, str]:
    """What each key of a trend stands for: a template's text, else the key itself."""
    if by == "template":
        texts = await template_texts(conn, keys)
        return {key: texts.get(key, key) for key in keys}
    return {key: key for key in keys}


# what changed --------------------------------------------------------------------------


async def side_counts(conn: Connection, sel: Selection, level: str | None) -> dict[str, int]:
    """Entries per template of one side: whole-upload counts, or the series in a window."""
    if sel.window:
        return await series_totals(conn, sel, "template", (level,) if level else None)
    head, source, params = sel.rows_of("templates", summed=True)
    only = " WHERE t.level = ?" if level else ""
    found = await rows(
        conn,
        f"{head} SELECT t.template_id, SUM(t.count) FROM {source}{only} GROUP BY t.template_id",
        [*params, *([level] if level else [])],
    )
    return {tid: int(count) for tid, count in found}


async def side_summary(
    conn: Connection, sel: Selection, f: Filters, figures: tuple[Any, ...]
) -> dict[str, Any]:
    """What one side covers: uploads, blobs, its time span (cut to its window), hours."""
    first, last = await window_bounds(conn, sel) if sel.window else figures[8:10]
    start = sel.low if f.start is not None else first
    end = sel.high if f.end is not None else last
    return {
        "upload": f.upload,
        "start": iso(start),
        "end": iso(end),
        "uploads": int(figures[1] or 0),
        "blobs": int(figures[0] or 0),
        "first_timestamp": iso(first),
        "last_timestamp": iso(last),
        "hours": _hours(start, end),
        "levels": await levels_of(conn, sel, f.level),
    }


def _hours(start: str | None, end: str | None) -> float:
    """Hours from `start` to `end` (storage times), at least a minute's worth."""
    if start is None or end is None:
        return 1 / 60
    span = _when(end) - _when(start)
    return max(span, timedelta(minutes=1)).total_seconds() / 3600


def _when(stored: str) -> datetime:
    return datetime.fromisoformat(stored.replace("Z", "+00:00"))


def compare(
    counts_a: dict[str, int],
    counts_b: dict[str, int],
    per_a: float,
    per_b: float,
    top: int,
) -> dict[str, Any]:
    """Templates that appeared, vanished, and moved most, ranked; rates are counts divided
    by `per_a`/`per_b` (the side's entries for shares, its hours for hourly rates)."""
    per_a, per_b = max(per_a, 1e-9), max(per_b, 1e-9)

    def item(tid: str) -> dict[str, Any]:
        a, b = counts_a.get(tid, 0), counts_b.get(tid, 0)
        rate_a, rate_b = a / per_a, b / per_b
        # The change in standard errors of the two rates (Poisson counts): a big template
        # that moved a little and a small one that moved a lot weigh fairly.
        spread = math.sqrt(max(a, 1) / per_a**2 + max(b, 1) / per_b**2)
        return {
            "template_id": tid,
            "count_a": a,
            "count_b": b,
            "rate_a": round(rate_a, 6),
            "rate_b": round(rate_b, 6),
            "change": round(rate_b - rate_a, 6),
            "ratio": round(rate_b / rate_a, 4) if rate_a else None,
            "score": round(abs(rate_b - rate_a) / spread, 2),
        }

    appeared = sorted((t for t in counts_b if t not in counts_a), key=lambda t: (-counts_b[t], t))
    vanished = sorted((t for t in counts_a if t not in counts_b), key=lambda t: (-counts_a[t], t))
    # Templates of both sides whose rate moved at all: one at the same rate is no change.
    both = [i for i in (item(t) for t in counts_a if t in counts_b) if i["change"] != 0]
    both.sort(key=lambda i: (-i["score"], -abs(i["change"]), i["template_id"]))
    # Appeared and vanished templates go by entries: their rate moved from or to nothing.
    return {
        "appeared": {"total": len(appeared), "items": [item(t) for t in appeared[:top]]},
        "vanished": {"total": len(vanished), "items": [item(t) for t in vanished[:top]]},
        "changed": {"total": len(both), "items": both[:top]},
        "no_change": not (appeared or vanished or both),
    }


async def name_templates(
    conn: Connection,
    found: dict[str, Any],
    sel_a: Selection,
    sel_b: Selection,
) -> None:
    """Give each listed template its text and an example (from side b when it has the
    template, else side a)."""
    ids_b = [i["template_id"] for key in ("appeared", "changed") for i in found[key]["items"]]
    ids_a = [i["template_id"] for i in found["vanished"]["items"]]
    shown = {**await examples(conn, sel_a, ids_a, None), **await examples(conn, sel_b, ids_b, None)}
    for key in ("appeared", "vanished", "changed"):
        for i in found[key]["items"]:
            text, example = shown.get(i["template_id"], ("", {}))
            i["template"] = text
            i.update(example)
