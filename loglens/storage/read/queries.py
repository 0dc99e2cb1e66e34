"""The read side of the results database: `Reader`, read-only queries (SQLite, PostgreSQL).

    async with await Reader.open(Path("data/loglens.db")) as reader:
        report = await reader.stats(Filters(operator="alice"))

Semantics (docs/query.md has the whole story):

- Only uploads with status `stored` whose blob's job is `done` contribute to results.
- Results are per blob (content). Each selected **blob counts once**, however many
  selected uploads share it; `uploads` and `blobs` in `stats` say how many of each.
  A blob's name, upload id and examples come from its first (lowest id) selected upload.
- `start`/`end` are log time, cut by whole minutes from the `timeline` table: a window
  covers every minute that overlaps [start, end). Levels, entries, first/last and the
  timeline are exact per minute; the uploads considered are those with an entry in the
  window; templates, top errors, rejected lines, lines and formats are whole-upload
  figures of those uploads (`templates_scope` says so).
- Each method runs in one read transaction, so it sees one snapshot even while the server
  writes (SQLite's WAL, PostgreSQL's REPEATABLE READ: readers never block the writer).
  Methods of several tasks run at once on a small pool of read-only connections
  (`read/pool.py`): a Reader cannot write.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar

from loglens.closing import AsyncClosing
from loglens.storage.dialect import Connection, Target
from loglens.storage.read import ranking
from loglens.storage.read.filters import (
    BUCKETS,
    LEVELS,
    AnomalyFilters,
    Filters,
    IncidentFilters,
    Page,
    QueryError,
    check_bucket,
    check_sort,
)
from loglens.storage.read.findings import FindingsQueries
from loglens.storage.read.incidents import incident_page
from loglens.storage.read.insights import anomaly_page, category_counts, template_categories
from loglens.storage.read.listing import STATUS_COLUMNS, status_row, upload_detail
from loglens.storage.read.pool import ReadPool
from loglens.storage.read.selection import WITH_RESULTS, Selection, iso, select, template_where
from loglens.storage.read.summaries import (
    formats_of,
    grouped,
    levels_of,
    rejected_samples,
    repaired,
    rows,
    scalar,
    timeline_json,
    timeline_points,
    totals,
    window_bounds,
)
from loglens.storage.schema import format_time

logger = logging.getLogger(__name__)

__all__ = ["BUCKETS", "LEVELS", "AnomalyFilters", "Filters", "Page", "QueryError", "Reader"]

# Read connections of a Reader: queries of this many tasks run at once.
CONNECTIONS = 4
# "auto" timelines have at most this many buckets.
AUTO_BUCKETS = 1500
# `stats` lists at most this many anomalies (the highest scores; `anomalies` pages them all).
STATS_ANOMALIES = 200


class Reader(FindingsQueries, AsyncClosing):
    """Read-only queries over the results database; open it with `await Reader.open(path)`."""

    SORTS: ClassVar[dict[str, dict[str, str]]] = {
        "uploads": {
            "id": "u.id",
            "operator": "u.operator",
            "original_name": "u.original_name",
            "received_at": "u.received_at",
            "started_at": "u.started_at",
            "size": "u.size",
            "status": "u.status",
            "entries": "r.entries",
        },
        "templates": {"count": "count", "template": "template", "template_id": "template_id"},
    }
    """Per list method, the sort names it accepts and the column each stands for."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool
        self.path = pool.path
        self.where = pool.where

    @classmethod
    async def open(cls, path: Target, connections: int = CONNECTIONS) -> Reader:
        """Open the database at `path` (a SQLite file or a `postgresql://` URL)
        read-only, with up to `connections` read connections; StorageError if there is
        none."""
        return cls(await ReadPool.open(path, connections))

    async def close(self) -> None:
        """Close the connections (once the queries running on them end)."""
        await self._pool.close()

    # uploads ----------------------------------------------------------------------------

    async def uploads(self, f: Filters, page: Page) -> tuple[list[dict[str, Any]], int]:
        """One page of uploads (every status) as `upload_status` rows plus `entries` and
        first/last timestamps, and how many match. `start`/`end` filter `received_at`;
        `status` matches the upload's status or its job's state (`failed`: either)."""
        column, descending = check_sort(page.sort, self.SORTS["uploads"], "-id")
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        for operator in (f.operator, f.owner):
            if operator is not None:
                where.append("u.operator = ?")
                params.append(operator)
        if f.upload is not None:
            where.append("u.id = ?")
            params.append(f.upload)
        if f.start is not None:
            where.append("u.received_at >= ?")
            params.append(format_time(f.start))
        if f.end is not None:
            where.append("u.received_at < ?")
            params.append(format_time(f.end))
        if f.status in ("receiving", "stored"):
            where.append("u.status = ?")
            params.append(f.status)
        elif f.status == "failed":
            where.append("(u.status = 'failed' OR (u.status = 'stored' AND j.state = 'failed'))")
        elif f.status is not None:
            where.append("u.status = 'stored' AND j.state = ?")
            params.append(f.status)
        joins = (
            " FROM uploads AS u LEFT JOIN jobs AS j ON j.blob_id = u.blob_id"
            f" LEFT JOIN results AS r ON r.blob_id = u.blob_id AND {WITH_RESULTS}"
            f" WHERE {' AND '.join(where)}"
        )
        order = f"{column} {'DESC' if descending else 'ASC'}, u.id {'DESC' if descending else ''}"
        async with self._read("list uploads") as conn:
            total = await scalar(conn, f"SELECT COUNT(*){joins}", params)
            found = await rows(
                conn,
                f"SELECT {STATUS_COLUMNS}{joins} ORDER BY {order} LIMIT ? OFFSET ?",
                [*params, page.limit, page.offset],
            )
        return [status_row(row) for row in found], int(total or 0)

    async def upload(self, upload_id: int, owner: str | None = None) -> dict[str, Any] | None:
        """One upload with its job state, its results (None until analysed: entries, lines,
        levels, rejected, first/last, templates, ...) and formats; None if there is none
        (or, with `owner`, none of that operator's)."""
        async with self._read(f"read upload {upload_id}") as conn:
            return await upload_detail(conn, upload_id, owner)

    # results ----------------------------------------------------------------------------

    async def stats(self, f: Filters, top: int = 5) -> dict[str, Any]:
        """The classic report over the selection, with the keys of `build_report`
        (`render_text` prints it) plus `uploads`, `blobs`, `window`, `templates_scope` and
        `anomalies_total` (and `incidents_total`).

        With `level`, levels, entries and the timeline count that level only, and top
        errors rank templates at it; otherwise top errors are ERROR and CRITICAL.
        Categories are whole-upload counts like templates (at `level`, if given); the
        anomalies are those of the selected contents (overlapping the window, if any),
        highest score first, at most STATS_ANOMALIES, each with its upload."""
        _check_top(top)
        async with self._read("stats") as conn:
            sel, figures = await totals(conn, select(f))
            blobs, uploads, entries, lines, size, cont, untimed, filtered_lines = (
                int(v or 0) for v in figures[:8]
            )
            first, last, approximate, template_sum = figures[8:12]
            directives = int(figures[12] or 0)
            levels = await levels_of(conn, sel, f.level)
            if sel.window:
                first, last = await window_bounds(conn, sel)
                entries, untimed = sum(levels.values()), 0
            elif f.level is not None:
                entries = sum(levels.values())
            # One pass counts the templates (at `level`) and ranks the top ones.
            only = (f.level,) if f.level else None
            ranked = only or ranking.ERROR_LEVELS
            templates, counted = await ranking.tally(conn, sel, ranked, only)
            if blobs == 1 and f.level is None:
                templates = int(template_sum or 0)  # the blob's own count, exact when folded
            if f.text is not None:
                _all, counted = await ranking.tally(conn, sel, ranked, ranked, f.text)
            top_errors = await ranking.top(conn, sel, counted, ranked, top)
            shown = await template_categories(conn, sel, [t["template_id"] for t in top_errors])
            for item in top_errors:
                item["categories"] = shown.get(item["template_id"], [])
            anomalies, anomalies_total = await anomaly_page(
                conn, sel, f, AnomalyFilters(), Page(limit=STATS_ANOMALIES)
            )
            incidents, incidents_total = await incident_page(
                conn, sel, f, IncidentFilters(), Page(limit=STATS_ANOMALIES), findings=0
            )
            rejected = await grouped(conn, sel, "rejected", "reason")
            samples = await rejected_samples(conn, sel, per_reason=3)
            report: dict[str, Any] = {
                "entries": entries,
                "lines": lines,
                "bytes": size,
                "continuation_lines": cont,
                "directive_lines": directives,
                "levels": levels,
                "top_errors": top_errors,
                "first_timestamp": iso(first),
                "last_timestamp": iso(last),
                "untimed_entries": untimed,
                "templates": int(templates or 0),
                "templates_approximate": bool(approximate),
                "rejected": rejected,
                "rejected_samples": {
                    reason: [{"file": s["original_name"], **s} for s in items]
                    for reason, items in samples.items()
                },
                "repaired": await repaired(conn, sel),
                "filtered": dict(sorted((await grouped(conn, sel, "filtered", "rule")).items())),
                "filtered_lines": filtered_lines,
                "formats": await formats_of(conn, sel),
                "categories": await category_counts(conn, sel, f.level),
                "anomalies": anomalies,
                "anomalies_total": anomalies_total,
                "incidents": incidents,
                "incidents_total": incidents_total,
                "uploads": uploads,
                "blobs": blobs,
                "window": {
                    "start": iso(sel.low),
                    "end": iso(sel.high),
                }
                if sel.window
                else None,
                "templates_scope": "uploads in window" if sel.window else "selected uploads",
            }
        return report

    async def top_errors(self, f: Filters, n: int) -> list[dict[str, Any]]:
        """The `n` templates with most entries at ERROR and CRITICAL (or at `level`),
        matching `text`, each with an example: {template_id, template, count, example,
        upload_id, original_name, file, line}. Whole-upload counts (see `stats`)."""
        _check_top(n)
        ranked = (f.level,) if f.level else ranking.ERROR_LEVELS
        async with self._read("top errors") as conn:
            sel, _figures = await totals(conn, select(f))
            _count, counted = await ranking.tally(conn, sel, ranked, ranked, f.text)
            top = await ranking.top(conn, sel, counted, ranked, n)
            shown = await template_categories(conn, sel, [t["template_id"] for t in top])
        for item in top:
            item["categories"] = shown.get(item["template_id"], [])
        return top

    async def templates(self, f: Filters, page: Page) -> tuple[list[dict[str, Any]], int]:
        """One page of templates across the selection (matching `text` and `level`), and
        how many match: {template_id, template, count, levels {level: count}, example,
        upload_id, original_name, line}. Sorts: count (default -count), template,
        template_id. Whole-upload counts (see `stats`)."""
        column, descending = check_sort(page.sort, self.SORTS["templates"], "-count")
        direction = "DESC" if descending else "ASC"
        async with self._read("templates") as conn:
            where, params = template_where(f, None, conn.dialect.like)
            sel, _figures = await totals(conn, select(f))
            head, source, sel_params = sel.rows_of("templates")
            ctes = f"{head}, agg AS" if head else "WITH agg AS"
            found = await rows(
                conn,
                f"{ctes} (SELECT t.template_id, MIN(t.template) AS template, SUM(t.count) AS count"
                f" FROM {source} WHERE {where} GROUP BY t.template_id)"
                " SELECT template_id, template, count, COUNT(*) OVER () AS total FROM agg"
                f" ORDER BY {column} {direction}, template_id LIMIT ? OFFSET ?",
                [*sel_params, *params, page.limit, page.offset],
            )
            if found:
                total = int(found[0][3])
            else:
                total = await scalar(
                    conn,
                    f"{head} SELECT COUNT(DISTINCT t.template_id) FROM {source} WHERE {where}",
                    [*sel_params, *params],
                )
            ids = [row[0] for row in found]
            levels = await ranking.template_levels(conn, sel, ids, f.level)
            shown = await ranking.examples(conn, sel, ids, (f.level,) if f.level else None)
            categories = await template_categories(conn, sel, ids)
        items = [
            {
                "template_id": tid,
                "template": text,
                "count": count,
                "levels": levels.get(tid, {}),
                "categories": categories.get(tid, []),
                **shown[tid][1],
            }
            for tid, text, count, _total in found
        ]
        return items, int(total or 0)

    async def timeline(self, f: Filters, bucket: str = "minute") -> list[dict[str, Any]]:
        """Entries per bucket and level, ordered by bucket then level: {bucket (ISO start of
        the minute/hour/day, UTC), level, count}. Buckets without entries are left out.
        `bucket` "auto" picks the finest of minute, hour, day that gives at most
        AUTO_BUCKETS buckets over the selection's time span (see `timeline_auto`)."""
        if bucket == "auto":
            return (await self.timeline_auto(f))[1]
        check_bucket(bucket)
        async with self._read("timeline") as conn:
            sel, _figures = await totals(conn, select(f))
            return await timeline_points(conn, sel, f.level, bucket)

    async def timeline_auto(self, f: Filters) -> tuple[str, list[dict[str, Any]]]:
        """`(bucket, points)`: the timeline in the bucket `auto_bucket` picks, both read in
        one snapshot (so the bucket fits the points)."""
        async with self._read("timeline") as conn:
            sel, figures = await totals(conn, select(f))
            bucket = fitting_bucket(*(await _span(conn, sel, figures)))
            return bucket, await timeline_points(conn, sel, f.level, bucket)

    async def timeline_json(self, f: Filters, bucket: str = "auto") -> tuple[str, str]:
        """`(bucket, points)` as `timeline_auto` (or in the given bucket), with the points
        as JSON text: a list of {bucket, level, count}, ready to send."""
        if bucket != "auto":
            check_bucket(bucket)
        async with self._read("timeline") as conn:
            sel, figures = await totals(conn, select(f))
            if bucket == "auto":
                bucket = fitting_bucket(*(await _span(conn, sel, figures)))
            return bucket, await timeline_json(conn, sel, f.level, bucket)

    async def auto_bucket(self, f: Filters) -> str:
        """The finest bucket (minute, hour, day) giving at most AUTO_BUCKETS buckets over the
        time span of the selection."""
        return fitting_bucket(*(await self.span(f)))

    async def span(self, f: Filters) -> tuple[str | None, str | None]:
        """The first and last entry time (ISO, UTC) of the selection, cut to the window."""
        async with self._read("time span") as conn:
            sel, figures = await totals(conn, select(f))
            first, last = await _span(conn, sel, figures)
        return iso(first), iso(last)

    async def rejected(self, f: Filters) -> list[dict[str, Any]]:
        """Rejected lines per reason, most first: {reason, count, samples: [{upload_id,
        original_name, line, text}]} with up to three samples. Whole-upload counts."""
        async with self._read("rejected") as conn:
            sel, _figures = await totals(conn, select(f))
            counts = await grouped(conn, sel, "rejected", "reason")
            samples = await rejected_samples(conn, sel, per_reason=3)
        return [
            {"reason": reason, "count": count, "samples": samples.get(reason, [])}
            for reason, count in counts.items()
        ]

    async def data_version(self) -> int:
        """A number that changes whenever another connection commits: a cache key."""
        return await self._pool.data_version()

    # plumbing ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self, what: str) -> AsyncIterator[Connection]:
        """One read transaction (one snapshot) on a connection of the pool; errors become
        StorageError."""
        async with self._pool.transaction(what) as conn:
            yield conn


def fitting_bucket(first: str | None, last: str | None) -> str:
    """The finest bucket (minute, hour, day) giving at most AUTO_BUCKETS buckets from
    `first` to `last` (ISO times); minute without a span."""
    if first is None or last is None:
        return "minute"
    span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
    for bucket, size in (("minute", 60), ("hour", 3600)):
        if span.total_seconds() / size < AUTO_BUCKETS:
            return bucket
    return "day"


async def _span(
    conn: Connection, sel: Selection, figures: tuple[Any, ...]
) -> tuple[str | None, str | None]:
    """First and last entry (ISO) of a selection whose `totals` are `figures`."""
    first, last = await window_bounds(conn, sel) if sel.window else figures[8:10]
    return iso(first), iso(last)


def _check_top(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise QueryError(f"top={n!r} must be a whole number from 1 to 1000")
