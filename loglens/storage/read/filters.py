"""What a query selects: `Filters`, `Page`, and the parsing of times people type.

Both dataclasses validate themselves when built and raise `QueryError`, which names the
bad field and value. `QueryError` is also a `ValueError`, so callers that map bad input to
an answer (the CLI's exit 2, the API's 422) can catch either. This module imports no
database driver.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from loglens.analysis.vocabulary import ANOMALY_KINDS as ANOMALY_KINDS
from loglens.analysis.vocabulary import FINE_LEVELS
from loglens.errors import LoglensError

BUCKETS = ("minute", "hour", "day")
LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "UNKNOWN")
UPLOAD_STATUSES = ("receiving", "stored", "failed")
JOB_STATES = ("queued", "running", "done", "failed")
STATUSES = ("receiving", "stored", "queued", "running", "done", "failed")
MAX_LIMIT = 1000
MAX_TEXT = 1000
# Ids are SQLite rowids (64-bit signed); offsets past a billion rows skip more than any
# list holds, and a bigger number would overflow SQLite's integers.
MAX_ID = 2**63 - 1
MAX_OFFSET = 1_000_000_000
# Times a query may name (UTC): a day inside the years datetime can hold, so that moving a
# time to UTC or to the next minute never overflows. Relative times reach back this far.
MIN_TIME = datetime(1, 1, 2, tzinfo=UTC)
MAX_TIME = datetime(9999, 12, 30, tzinfo=UTC)
_TIME_RANGE = "from 0001-01-02 to 9999-12-30 UTC"
_MAX_RELATIVE_DIGITS = 12
# The kinds of anomalies, and the levels template series keep per minute (the others per
# hour): from the analysis' polars-free vocabulary.
MINUTE_LEVELS = FINE_LEVELS
TREND_BY = ("level", "template", "category")
RATES = ("share", "hour")

_SORT = re.compile(r"^-?[a-z_][a-z0-9_]*$")
_RELATIVE = re.compile(r"^\s*-\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class QueryError(LoglensError, ValueError):
    """A filter, page, sort or bucket of a query is invalid (names the field and value)."""


@dataclass(frozen=True)
class Filters:
    """Which results a query covers; every field is optional and they combine with AND.

    `start`/`end` are aware datetimes, `start` inclusive and `end` exclusive: log time for
    the results methods, `received_at` for `Reader.uploads`. `level` is one of LEVELS
    (any case; stored upper case). `status` only filters `Reader.uploads`; `text` only
    `Reader.templates` and `Reader.top_errors`. `owner` is the reader's scope: only
    uploads of that operator (and what derives from them) are seen at all; None: every
    operator's.
    """

    start: datetime | None = None
    end: datetime | None = None
    operator: str | None = None
    level: str | None = None
    upload: int | None = None
    status: str | None = None
    text: str | None = None
    owner: str | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, datetime):
                raise QueryError(f"{name}={value!r} is not a datetime")
            if value.tzinfo is None or value.utcoffset() is None:
                raise QueryError(f"{name}={value.isoformat()} has no time zone: give an aware time")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise QueryError(
                f"start={self.start.isoformat()} is not before end={self.end.isoformat()}: "
                "the range is [start, end)"
            )
        if self.level is not None:
            level = str(self.level).upper()
            if level not in LEVELS:
                raise QueryError(f"level={self.level!r} is unknown: use one of {', '.join(LEVELS)}")
            object.__setattr__(self, "level", level)
        if self.status is not None and self.status not in STATUSES:
            raise QueryError(f"status={self.status!r} is unknown: use one of {', '.join(STATUSES)}")
        if self.upload is not None:
            check_id(self.upload, "upload")
        for name in ("operator", "text", "owner"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
                raise QueryError(f"{name}={value!r} must be 1 to {MAX_TEXT} characters")

    @property
    def window(self) -> bool:
        """Whether a time range is set."""
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class Page:
    """A slice of a list: `limit` rows (1..1000) from `offset`, in `sort` order.

    `sort` is a column name, `-name` for descending; each method accepts its own names
    (`Reader.SORTS`) and raises QueryError listing them for any other.
    """

    limit: int = 50
    offset: int = 0
    sort: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise QueryError(f"limit={self.limit!r} is not a whole number")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit={self.limit} must be from 1 to {MAX_LIMIT}")
        if (
            isinstance(self.offset, bool)
            or not isinstance(self.offset, int)
            or not 0 <= self.offset <= MAX_OFFSET
        ):
            raise QueryError(
                f"offset must be a whole number from 0 to {MAX_OFFSET}, got {self.offset!r}"
            )
        if self.sort is not None and not (isinstance(self.sort, str) and _SORT.match(self.sort)):
            raise QueryError(f"sort={self.sort!r} is not a column name (or -name)")


@dataclass(frozen=True)
class AnomalyFilters:
    """Which anomalies `Reader.anomalies` lists, besides the `Filters` of their uploads:
    of this `kind`, scoring at least `min_score`, naming template `template_id`."""

    kind: str | None = None
    min_score: float | None = None
    template_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind is not None:
            check_choice(self.kind, "kind", ANOMALY_KINDS)
        if self.min_score is not None and (
            isinstance(self.min_score, bool)
            or not isinstance(self.min_score, int | float)
            or not math.isfinite(self.min_score)
            or self.min_score < 0
        ):
            raise QueryError(f"min_score={self.min_score!r} must be a number >= 0")
        if self.template_id is not None and (
            not isinstance(self.template_id, str) or not 1 <= len(self.template_id) <= MAX_TEXT
        ):
            raise QueryError(f"template={self.template_id!r} must be 1 to {MAX_TEXT} characters")


@dataclass(frozen=True)
class IncidentFilters:
    """Which incidents `Reader.incidents` lists, besides the `Filters` of their uploads:
    holding a finding of this `kind`, scoring at least `min_score`, of this `category`,
    with a finding naming template `template_id`."""

    kind: str | None = None
    min_score: float | None = None
    category: str | None = None
    template_id: str | None = None

    def __post_init__(self) -> None:
        AnomalyFilters(self.kind, self.min_score, self.template_id)  # the same checks
        if self.category is not None and (
            not isinstance(self.category, str) or not 1 <= len(self.category) <= MAX_TEXT
        ):
            raise QueryError(f"category={self.category!r} must be 1 to {MAX_TEXT} characters")


def check_id(value: object, name: str) -> int:
    """Return `value` if it is an id (a whole number from 1 to MAX_ID), else raise QueryError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise QueryError(
            f"{name}={value!r} is not an upload id: give a whole number from 1 to {MAX_ID}"
        )
    return value


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    """Return `value` if it is one of `choices`, else raise QueryError naming `name`."""
    if value not in choices:
        raise QueryError(f"{name}={value!r} is unknown: use one of {', '.join(choices)}")
    return value


def check_bucket(bucket: str) -> str:
    """Return `bucket` if it is one of BUCKETS, else raise QueryError."""
    if bucket not in BUCKETS:
        raise QueryError(f"bucket={bucket!r} is unknown: use one of {', '.join(BUCKETS)}")
    return bucket


def check_sort(sort: str | None, allowed: dict[str, str], default: str) -> tuple[str, bool]:
    """The whitelisted column expression of `sort` and whether it is descending."""
    name = sort or default
    descending = name.startswith("-")
    column = allowed.get(name.removeprefix("-"))
    if column is None:
        names = ", ".join(sorted(allowed))
        raise QueryError(f"sort={sort!r} is unknown: use one of {names} (prefix - to reverse)")
    return column, descending


def parse_time(text: str, name: str = "time", now: datetime | None = None) -> datetime:
    """An aware datetime from ISO-8601 (`2024-05-01`, `2024-05-01T12:00`, `...Z`,
    `...+02:00`; no zone means UTC), `now`, or a relative `-90s`/`-15m`/`-1h`/`-2d`/`-1w`;
    QueryError for anything else or a time outside MIN_TIME..MAX_TIME."""
    raw = text.strip()
    current = now or datetime.now(UTC)
    if raw.lower() == "now":
        return current
    relative = _RELATIVE.match(raw)
    if relative:
        digits, unit = relative.group(1), relative.group(2).lower()
        try:
            if len(digits) > _MAX_RELATIVE_DIGITS:
                raise OverflowError(digits)
            moment = current - timedelta(**{_UNITS[unit]: int(digits)})
        except OverflowError:
            raise _out_of_range(name, text) from None
        return _in_range(moment, name, text)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(
            f"{name}={text!r} is not a time: use ISO-8601 like 2024-05-01 or "
            "2024-05-01T12:00[:00][Z|+02:00] (UTC without a zone), or -15m, -1h, -2d"
        ) from None
    return _in_range(
        moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC), name, text
    )


def _in_range(moment: datetime, name: str, text: str) -> datetime:
    """`moment` if it lies in MIN_TIME..MAX_TIME, else QueryError."""
    try:
        inside = MIN_TIME <= moment.astimezone(UTC) <= MAX_TIME
    except OverflowError:  # a zone pushes it past year 1 or 9999
        inside = False
    if not inside:
        raise _out_of_range(name, text)
    return moment


def _out_of_range(name: str, text: str) -> QueryError:
    return QueryError(
        f"{name}={text!r} is out of range: give a time {_TIME_RANGE} (a relative time must "
        "not reach back before it)"
    )


def parse_side(text: str, name: str, base: Filters, now: datetime | None = None) -> Filters:
    """One side of a comparison as `base` narrowed to it: an upload id (`42`), or a log-time
    window `START..END` (either end may be empty; times as `parse_time` reads them)."""
    raw = text.strip()
    if raw.isascii() and raw.isdigit():
        if len(raw) > len(str(MAX_ID)):  # int() of a huge string is slow and refused anyway
            raise QueryError(f"{name}={text!r} is not an upload id: give 1 to {MAX_ID}")
        try:
            return replace(base, upload=int(raw), start=None, end=None)
        except QueryError as exc:
            raise QueryError(f"{name}={text!r}: {exc}") from None
    if ".." not in raw:
        raise QueryError(
            f"{name}={text!r} is neither an upload id nor a window: give an id like 42, or "
            "START..END like 2024-05-01T10:00..2024-05-01T11:00 or -2h..-1h"
        )
    low, _, high = raw.partition("..")
    current = now or datetime.now(UTC)
    start = parse_time(low, f"{name} start", current) if low.strip() else None
    end = parse_time(high, f"{name} end", current) if high.strip() else None
    if start is None and end is None:
        raise QueryError(f"{name}={text!r} gives neither a start nor an end")
    try:
        return replace(base, start=start, end=end)
    except QueryError as exc:
        raise QueryError(f"{name}={text!r}: {exc}") from None
