"""The SQL that selects results: the `sel` table of selected blobs, and time conversions.

Results are stored per blob (content). A query selects uploads (stored, job done, and the
filters), then counts each selected blob once; `sel` holds one row per blob with its
first selected upload (`upload_id`, whose name and id stand for the blob) and how many
selected uploads share it (`uploads`). Every value travels as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loglens.storage.read.filters import Filters
from loglens.storage.schema import SUMMED, format_time


@dataclass(frozen=True)
class Selection:
    """A `WITH sel AS (...)` clause and its parameters, the log-time window if any, and
    whether it holds every analysed blob (known once read: see `summaries.totals`)."""

    cte: str
    params: tuple[Any, ...]
    low: str | None  # first minute of the window (storage form), inclusive
    high: str | None  # first minute after the window (storage form), exclusive
    every: bool = False

    @property
    def window(self) -> bool:
        """Whether the selection is cut to a time window."""
        return self.low is not None or self.high is not None

    def rows_of(
        self, table: str, alias: str = "t", summed: bool = False
    ) -> tuple[str, str, tuple[Any, ...]]:
        """The `WITH` head, the FROM source and the head's parameters that read the rows of
        a per-blob `table` (as `alias`) belonging to the selected blobs.

        When every analysed blob is selected, that is the whole table: each detail row
        belongs to a `results` row (a foreign key the writer enforces), so the table is read
        in index order with no membership test; with `summed`, for a query that only sums
        `count` by the table's keys, its sums over every blob (`schema.SUMMED`) stand in for
        it. Otherwise `sel` drives, blob by blob."""
        if self.every:
            sums = SUMMED.get(table) if summed else None
            return "", f"{sums[0] if sums else table} AS {alias}", ()
        source = f"sel CROSS JOIN {table} AS {alias} ON {alias}.blob_id = sel.blob_id"
        return self.cte, source, self.params

    def minute_clause(self, alias: str = "t") -> tuple[str, tuple[str, ...]]:
        """` AND ...` keeping timeline rows of `alias` inside the window, and its params."""
        sql, params = "", []
        if self.low is not None:
            sql += f" AND {alias}.minute >= ?"
            params.append(self.low)
        if self.high is not None:
            sql += f" AND {alias}.minute < ?"
            params.append(self.high)
        return sql, tuple(params)


def floor_minute(moment: datetime) -> datetime:
    """The start of the minute holding `moment`."""
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    """`moment` if it starts a minute, else the start of the next minute."""
    floor = floor_minute(moment)
    return floor if floor == moment else floor + timedelta(minutes=1)


# A blob's results are read once they are stored: a file's are written as its job ends
# (done), a stream's replaced while its job runs. A file's job that runs has no results
# yet, so a join on them leaves it out.
WITH_RESULTS = "j.state IN ('done', 'running')"


def select(filters: Filters) -> Selection:
    """The blobs the filters select: of uploads stored, analysed, matching operator and
    upload id, and (with a window) holding an entry in a minute that overlaps it."""
    where = ["u.status = 'stored'"]
    params: list[Any] = []
    for operator in (filters.operator, filters.owner):
        if operator is not None:
            where.append("u.operator = ?")
            params.append(operator)
    if filters.upload is not None:
        where.append("u.id = ?")
        params.append(filters.upload)
    low = None if filters.start is None else format_time(floor_minute(filters.start))
    # Whole minutes: a window covers every timeline minute that overlaps [start, end).
    high = None if filters.end is None else format_time(ceil_minute(filters.end))
    window: list[str] = []
    window_params: list[Any] = []
    if low is not None:
        where.append("r.last_ts >= ?")  # cheap pruning before the timeline probe
        params.append(low)
        window.append("w.minute >= ?")
        window_params.append(low)
    if high is not None:
        where.append("r.first_ts < ?")
        params.append(high)
        window.append("w.minute < ?")
        window_params.append(high)
    if window:
        where.append(
            "EXISTS (SELECT 1 FROM timeline AS w WHERE w.blob_id = u.blob_id AND "
            + " AND ".join(window)
            + ")"
        )
        params.extend(window_params)
    cte = (
        "WITH sel AS MATERIALIZED (SELECT u.blob_id AS blob_id, MIN(u.id) AS upload_id,"
        " COUNT(*) AS uploads FROM uploads AS u"
        f" JOIN jobs AS j ON j.blob_id = u.blob_id AND {WITH_RESULTS}"
        " JOIN results AS r ON r.blob_id = u.blob_id"
        f" WHERE {' AND '.join(where)} GROUP BY u.blob_id)"
    )
    return Selection(cte, tuple(params), low, high)


def iso(stored: str | None) -> str | None:
    """A storage time (`2024-05-01T13:07:42.120000Z`) in the report's ISO form
    (`2024-05-01T13:07:42.12Z`, as `processor.py --json` prints it), or None."""
    if stored is None:
        return None
    head, _, fraction = stored.removesuffix("Z").partition(".")
    fraction = fraction.rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def marks(count: int) -> str:
    """`?, ?, ...`: `count` parameter marks."""
    return ", ".join("?" * count)


def template_where(
    f: Filters, levels: tuple[str, ...] | None, like: str = "LIKE"
) -> tuple[str, list[Any]]:
    """The WHERE of template rows: levels (or `f.level`) and `f.text` (`like`, escaped)."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    chosen = levels or ((f.level,) if f.level else ())
    if chosen:
        where.append(f"t.level IN ({marks(len(chosen))})")
        params.extend(chosen)
    if f.text is not None:
        where.append(f"t.template {like} ? ESCAPE '\\'")
        params.append(like_pattern(f.text))
    return " AND ".join(where), params
