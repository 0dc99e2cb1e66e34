"""The read side of the results database: `Reader`, read-only queries over aiosqlite.

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
  writes (WAL: readers never block the writer). The connection is opened `mode=ro` and
  `query_only`: a Reader cannot write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import aiosqlite

from loglens.errors import StorageError
from loglens.storage.filters import (
    BUCKETS,
    LEVELS,
    Filters,
    Page,
    QueryError,
    check_bucket,
    check_sort,
)
from loglens.storage.listing import STATUS_COLUMNS, status_row, upload_detail
from loglens.storage.schema import SCHEMA_VERSION, format_time
from loglens.storage.selection import Selection, iso, select, template_where
from loglens.storage.summaries import (
    ERROR_LEVELS,
    examples,
    formats_of,
    grouped,
    levels_of,
    rejected_samples,
    repaired,
    rows,
    scalar,
    template_levels,
    window_bounds,
)

logger = logging.getLogger(__name__)

__all__ = ["BUCKETS", "LEVELS", "Filters", "Page", "QueryError", "Reader"]

_BUSY_TIMEOUT_MS = 30_000
# "auto" timelines have at most this many buckets.
AUTO_BUCKETS = 1500
_BUCKET_SQL = {
    "minute": "t.minute",
    "hour": "substr(t.minute, 1, 13) || ':00:00.000000Z'",
    "day": "substr(t.minute, 1, 10) || 'T00:00:00.000000Z'",
}


class Reader:
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

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Reader:
        """Open the database at `path` read-only; StorageError if there is none."""
        if not await asyncio.to_thread(path.is_file):
            raise StorageError(
                f"no results database at {path} (DB_PATH): start the server to create it, "
                "or point DB_PATH / --db at an existing one"
            )
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn: aiosqlite.Connection | None = None
        try:
            conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
            await conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA query_only = ON")
            async with conn.execute("PRAGMA user_version") as cursor:
                found = await cursor.fetchone()
            version = int(found[0]) if found else 0
        except sqlite3.Error as exc:
            if conn is not None:
                await conn.close()
            raise StorageError(f"database {path}: cannot open for reading: {exc}") from exc
        if version != SCHEMA_VERSION:
            await conn.close()
            if version == 0:
                raise StorageError(f"{path} is not a loglens results database (no schema)")
            raise StorageError(
                f"database {path} has schema version {version}, this loglens reads "
                f"{SCHEMA_VERSION}: use the matching loglens"
            )
        logger.debug("opened %s for reading", path)
        return cls(conn, path)

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            try:
                await self._conn.close()
            except sqlite3.Error as exc:
                raise StorageError(f"database {self.path}: cannot close: {exc}") from exc

    async def __aenter__(self) -> Reader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # uploads ----------------------------------------------------------------------------

    async def uploads(self, f: Filters, page: Page) -> tuple[list[dict[str, Any]], int]:
        """One page of uploads (every status) as `upload_status` rows plus `entries` and
        first/last timestamps, and how many match. `start`/`end` filter `received_at`;
        `status` matches the upload's status or its job's state (`failed`: either)."""
        column, descending = check_sort(page.sort, self.SORTS["uploads"], "-id")
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if f.operator is not None:
            where.append("u.operator = ?")
            params.append(f.operator)
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
            " LEFT JOIN results AS r ON r.blob_id = u.blob_id AND j.state = 'done'"
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

    async def upload(self, upload_id: int) -> dict[str, Any] | None:
        """One upload with its job state, its results (None until analysed: entries, lines,
        levels, rejected, first/last, templates, ...) and formats; None if there is none."""
        async with self._read(f"read upload {upload_id}") as conn:
            return await upload_detail(conn, upload_id)

    # results ----------------------------------------------------------------------------

    async def stats(self, f: Filters, top: int = 5) -> dict[str, Any]:
        """The classic report over the selection, with the keys of `build_report`
        (`render_text` prints it) plus `uploads`, `blobs`, `window` and `templates_scope`.

        With `level`, levels, entries and the timeline count that level only, and top
        errors rank templates at it; otherwise top errors are ERROR and CRITICAL."""
        _check_top(top)
        sel = select(f)
        async with self._read("stats") as conn:
            totals = await rows(
                conn,
                f"{sel.cte} SELECT COUNT(*), SUM(sel.uploads), SUM(r.entries), SUM(r.lines),"
                " SUM(r.bytes), SUM(r.continuation_lines), SUM(r.untimed_entries),"
                " SUM(r.filtered_lines), MIN(r.first_ts), MAX(r.last_ts),"
                " MAX(r.templates_approximate), SUM(r.templates)"
                " FROM sel CROSS JOIN results AS r ON r.blob_id = sel.blob_id",
                sel.params,
            )
            blobs, uploads, entries, lines, size, cont, untimed, filtered_lines = (
                int(v or 0) for v in totals[0][:8]
            )
            first, last, approximate, template_sum = totals[0][8:]
            levels = await levels_of(conn, sel, f.level)
            if sel.window:
                first, last = await window_bounds(conn, sel)
                entries, untimed = sum(levels.values()), 0
            elif f.level is not None:
                entries = sum(levels.values())
            if blobs == 1 and f.level is None:
                templates = int(template_sum or 0)
            else:
                templates = await scalar(
                    conn,
                    f"{sel.cte} SELECT COUNT(DISTINCT t.template_id) FROM sel"
                    " JOIN templates AS t ON t.blob_id = sel.blob_id"
                    + (" WHERE t.level = ?" if f.level else ""),
                    [*sel.params, *([f.level] if f.level else [])],
                )
            top_errors = await self._top(conn, sel, f, top)
            rejected = await grouped(conn, sel, "rejected", "reason")
            samples = await rejected_samples(conn, sel, per_reason=3)
            report: dict[str, Any] = {
                "entries": entries,
                "lines": lines,
                "bytes": size,
                "continuation_lines": cont,
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
        sel = select(f)
        async with self._read("top errors") as conn:
            return await self._top(conn, sel, f, n)

    async def templates(self, f: Filters, page: Page) -> tuple[list[dict[str, Any]], int]:
        """One page of templates across the selection (matching `text` and `level`), and
        how many match: {template_id, template, count, levels {level: count}, example,
        upload_id, original_name, line}. Sorts: count (default -count), template,
        template_id. Whole-upload counts (see `stats`)."""
        column, descending = check_sort(page.sort, self.SORTS["templates"], "-count")
        sel = select(f)
        where, params = template_where(f, None)
        direction = "DESC" if descending else "ASC"
        async with self._read("templates") as conn:
            found = await rows(
                conn,
                f"{sel.cte}, agg AS (SELECT t.template_id, MIN(t.template) AS template,"
                " SUM(t.count) AS count FROM sel CROSS JOIN templates AS t"
                " ON t.blob_id = sel.blob_id"
                f" WHERE {where} GROUP BY t.template_id)"
                " SELECT template_id, template, count, COUNT(*) OVER () FROM agg"
                f" ORDER BY {column} {direction}, template_id LIMIT ? OFFSET ?",
                [*sel.params, *params, page.limit, page.offset],
            )
            if found:
                total = int(found[0][3])
            else:
                total = await scalar(
                    conn,
                    f"{sel.cte} SELECT COUNT(DISTINCT t.template_id) FROM sel"
                    f" JOIN templates AS t ON t.blob_id = sel.blob_id WHERE {where}",
                    [*sel.params, *params],
                )
            ids = [row[0] for row in found]
            levels = await template_levels(conn, sel, ids, f.level)
            shown = await examples(conn, sel, ids, (f.level,) if f.level else None)
        items = [
            {
                "template_id": tid,
                "template": text,
                "count": count,
                "levels": levels.get(tid, {}),
                **shown[tid],
            }
            for tid, text, count, _total in found
        ]
        return items, int(total or 0)

    async def timeline(self, f: Filters, bucket: str = "minute") -> list[dict[str, Any]]:
        """Entries per bucket and level, ordered by bucket then level: {bucket (ISO start of
        the minute/hour/day, UTC), level, count}. Buckets without entries are left out.
        `bucket` "auto" picks the finest of minute, hour, day that gives at most
        AUTO_BUCKETS buckets over the selection's time span (see `auto_bucket`)."""
        if bucket == "auto":
            bucket = await self.auto_bucket(f)
        check_bucket(bucket)
        sel = select(f)
        level = " AND t.level = ?" if f.level else ""
        level_params = [f.level] if f.level else []
        if sel.window or bucket == "minute":
            # A window is cut by minute, so it reads the minute table (its index bounds it).
            window, window_params = sel.minute_clause("t")
            sql = (
                f"{sel.cte} SELECT {_BUCKET_SQL[bucket]} AS bucket, t.level, SUM(t.count)"
                " FROM sel CROSS JOIN timeline AS t ON t.blob_id = sel.blob_id"
                f" WHERE 1 = 1{window}{level} GROUP BY bucket, t.level"
            )
            params = [*sel.params, *window_params, *level_params]
        else:
            sql = (
                f"{sel.cte} SELECT t.{bucket} AS bucket, t.level, SUM(t.count)"
                f" FROM sel CROSS JOIN timeline_{bucket} AS t ON t.blob_id = sel.blob_id"
                f" WHERE 1 = 1{level} GROUP BY bucket, t.level"
            )
            params = [*sel.params, *level_params]
        async with self._read("timeline") as conn:
            found = await rows(conn, sql, params)
        order = {name: i for i, name in enumerate(LEVELS)}
        found.sort(key=lambda row: (row[0], order.get(row[1], len(order)), row[1]))
        return [{"bucket": iso(b), "level": lvl, "count": n} for b, lvl, n in found]

    async def auto_bucket(self, f: Filters) -> str:
        """The finest bucket (minute, hour, day) giving at most AUTO_BUCKETS buckets over the
        time span of the selection."""
        first, last = await self.span(f)
        if first is None or last is None:
            return "minute"
        span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
        for bucket, size in (("minute", 60), ("hour", 3600)):
            if span.total_seconds() / size < AUTO_BUCKETS:
                return bucket
        return "day"

    async def span(self, f: Filters) -> tuple[str | None, str | None]:
        """The first and last entry time (ISO, UTC) of the selection, cut to the window."""
        sel = select(f)
        async with self._read("time span") as conn:
            if sel.window:
                first, last = await window_bounds(conn, sel)
            else:
                found = await rows(
                    conn,
                    f"{sel.cte} SELECT MIN(r.first_ts), MAX(r.last_ts) FROM sel"
                    " CROSS JOIN results AS r ON r.blob_id = sel.blob_id",
                    sel.params,
                )
                first, last = found[0]
        return iso(first), iso(last)

    async def rejected(self, f: Filters) -> list[dict[str, Any]]:
        """Rejected lines per reason, most first: {reason, count, samples: [{upload_id,
        original_name, line, text}]} with up to three samples. Whole-upload counts."""
        sel = select(f)
        async with self._read("rejected") as conn:
            counts = await grouped(conn, sel, "rejected", "reason")
            samples = await rejected_samples(conn, sel, per_reason=3)
        return [
            {"reason": reason, "count": count, "samples": samples.get(reason, [])}
            for reason, count in counts.items()
        ]

    async def data_version(self) -> int:
        """A number that changes whenever another connection commits: a cache key."""
        async with self._read("data version") as conn:
            return int(await scalar(conn, "PRAGMA data_version"))

    # plumbing ---------------------------------------------------------------------------

    async def _top(
        self, conn: aiosqlite.Connection, sel: Selection, f: Filters, n: int
    ) -> list[dict[str, Any]]:
        """The `n` top templates at the error levels (or `f.level`), with examples."""
        levels = (f.level,) if f.level else tuple(sorted(ERROR_LEVELS))
        where, params = template_where(f, levels)
        found = await rows(
            conn,
            f"{sel.cte} SELECT t.template_id, MIN(t.template) AS template, SUM(t.count) AS count"
            f" FROM sel CROSS JOIN templates AS t ON t.blob_id = sel.blob_id WHERE {where}"
            " GROUP BY t.template_id ORDER BY count DESC, template, t.template_id LIMIT ?",
            [*sel.params, *params, n],
        )
        shown = await examples(conn, sel, [row[0] for row in found], levels)
        return [
            {"template": text, "template_id": tid, "count": count, **shown[tid]}
            for tid, text, count in found
        ]

    @asynccontextmanager
    async def _read(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """One read transaction (one snapshot); errors become StorageError."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    await self._conn.execute("ROLLBACK")  # nothing to keep: reads only
            except sqlite3.Error as exc:
                raise StorageError(f"{what}: {self.path}: {exc}") from exc


def _check_top(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise QueryError(f"top={n!r} must be a whole number from 1 to 1000")
