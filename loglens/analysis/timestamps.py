"""Timestamps: the shapes logs write them in, and their normalisation to UTC.

A format names how its timestamps are written with a ``ts_format``: a chrono/strftime pattern
(``"%d/%b/%Y:%H:%M:%S %z"``), ``ISO8601`` (``T`` or space, fraction with ``.`` or ``,``, ``Z``
or an offset, all optional), ``EPOCH`` (seconds, milliseconds, microseconds or nanoseconds since
1970, told apart by magnitude), or ``None`` for "any of ``KNOWN_SHAPES`` or epoch".

Stamps without a zone are wall-clock time in the context's zone: a time that falls in a DST gap
is read as if the clock had not jumped yet (02:30 on the spring-forward night is 03:30 summer
time), an ambiguous one as its earlier instant. Stamps without a year (syslog) take the
reference's year, or the year before when that would put them more than a day after the
reference. Text that does not parse gives null, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from loglens.analysis.stamps import EPOCH, MONTH_TO_ENGLISH, TAI64N, ZONE_OFFSETS

ISO8601 = "iso8601"

UTC_DATETIME = pl.Datetime("us", "UTC")

_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_HMS = "[0-9]{2}:[0-9]{2}:[0-9]{2}"

# Regexes (ASCII classes only: they are much cheaper for polars' capture engine).
_OFFSET = "(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)"
TS_ISO = rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ]{_HMS}(?:[.,][0-9]{{1,9}})?{_OFFSET}?"
TS_SYSLOG = rf"{_MONTH} {{1,2}}[0-9]{{1,2}} {_HMS}(?:\.[0-9]{{1,6}})?"
TS_CTIME = rf"{_WEEKDAY} {_MONTH} {{1,2}}[0-9]{{1,2}} {_HMS}(?:\.[0-9]{{1,6}})? [0-9]{{4}}"
TS_CLF = rf"[0-9]{{2}}/{_MONTH}/[0-9]{{4}}:{_HMS} [+-][0-9]{{4}}"
TS_YYMMDD = "[0-9]{6} [0-9]{6}"
TS_YY_SLASH = rf"[0-9]{{2}}/[0-9]{{2}}/[0-9]{{2}} {_HMS}"
TS_YMD_SLASH = rf"[0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}} {_HMS}(?:\.[0-9]{{1,6}})?"
TS_BGL = r"[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{6}"
TS_MMDD = rf"[0-9]{{2}}-[0-9]{{2}} {_HMS}\.[0-9]{{3}}"

FMT_SYSLOG = "%b %d %H:%M:%S%.f"
FMT_CTIME = "%a %b %d %H:%M:%S%.f %Y"
FMT_CLF = "%d/%b/%Y:%H:%M:%S %z"
FMT_YYMMDD = "%y%m%d %H%M%S"
FMT_YY_SLASH = "%y/%m/%d %H:%M:%S"
FMT_YMD_SLASH = "%Y/%m/%d %H:%M:%S%.f"
FMT_BGL = "%Y-%m-%d-%H.%M.%S%.f"
FMT_MMDD = "%m-%d %H:%M:%S%.f"
FMT_GLOG = "%m%d %H:%M:%S%.f"

_ISO_NAIVE = "%Y-%m-%d %H:%M:%S%.f"
_ISO_ZONED = "%Y-%m-%d %H:%M:%S%.f%#z"
# Strftime fields that pin the year; a pattern with none of them needs the reference rule.
_YEAR_FIELDS = ("%Y", "%y", "%G", "%s", "%C")
_ZONE_FIELDS = ("%z", "%:z", "%#z", "%Z")
_DATE_FIELDS = ("%d", "%e", "%j", "%b", "%B", "%m")
# loglens's own extensions of chrono's patterns (see ``stamps``).
ZONED_OPTIONAL = "%?z"
# A year (and the blank after it) that some stamps of a file write and others leave out.
YEAR_OPTIONAL = "%?Y"
_EXTENSIONS = ("%,f", "%:f", "%Z", ZONED_OPTIONAL, YEAR_OPTIONAL)


@dataclass(frozen=True)
class TimestampShape:
    """One way logs write a timestamp: a regex that finds it and how to read it."""

    name: str
    regex: str
    ts_format: str


KNOWN_SHAPES: tuple[TimestampShape, ...] = (
    TimestampShape("iso8601", TS_ISO, ISO8601),
    TimestampShape("bgl", TS_BGL, FMT_BGL),
    TimestampShape("ctime", TS_CTIME, FMT_CTIME),
    TimestampShape("clf", TS_CLF, FMT_CLF),
    TimestampShape("syslog", TS_SYSLOG, FMT_SYSLOG),
    TimestampShape("ymd-slash", TS_YMD_SLASH, FMT_YMD_SLASH),
    TimestampShape("yy-slash", TS_YY_SLASH, FMT_YY_SLASH),
    TimestampShape("yymmdd", TS_YYMMDD, FMT_YYMMDD),
    TimestampShape("mmdd", TS_MMDD, FMT_MMDD),
)


def to_utc(text: pl.Expr, ts_format: str | None, tz: str, reference: datetime) -> pl.Expr:
    """Parse timestamp text written as ``ts_format`` into Datetime("us", "UTC"); null if bad."""
    if ts_format is None:
        formats = [shape.ts_format for shape in KNOWN_SHAPES] + [EPOCH]
        return pl.coalesce([to_utc(text, each, tz, reference) for each in formats])
    if ts_format == ISO8601:
        return _iso_to_utc(text, tz)
    if ts_format == EPOCH:
        return _epoch_to_utc(text)
    if ts_format == TAI64N:
        return _tai64n_to_utc(text)
    text, ts_format = _rewrite(text, ts_format)
    if ZONED_OPTIONAL in ts_format:
        # A zone some stamps of a file write and others leave out.
        zoned = ts_format.replace(ZONED_OPTIONAL, "%#z")
        bare = ts_format.replace(" " + ZONED_OPTIONAL, "").replace(ZONED_OPTIONAL, "")
        return pl.coalesce(to_utc(text, zoned, tz, reference), to_utc(text, bare, tz, reference))
    if YEAR_OPTIONAL in ts_format:
        dated = ts_format.replace(YEAR_OPTIONAL, "%Y")
        bare = ts_format.replace(YEAR_OPTIONAL + " ", "").replace(YEAR_OPTIONAL, "")
        return pl.coalesce(to_utc(text, dated, tz, reference), to_utc(text, bare, tz, reference))
    if is_dateless(ts_format):
        return _dateless_to_utc(text, ts_format, tz, reference)
    if is_yearless(ts_format):
        return _yearless_to_utc(text, ts_format, tz, reference)
    return _strftime_to_utc(text, ts_format, tz)


def parse_column(text: pl.Series, ts_format: str | None, tz: str, reference: datetime) -> pl.Series:
    """Parse a column of timestamp text like ``to_utc``, with fast paths for the usual cases.

    With no format, each known shape is tried only on the stamps the earlier ones left unread.
    Year-less stamps are parsed in the reference's year only, unless some stamp needs the
    year before. Most files write every ISO-8601 stamp with one pattern; chrono parses a
    fixed pattern (``%Y-%m-%d %H:%M:%S,%3f``) about three times faster than the general one,
    so the first stamp's pattern is tried on the whole column, and the general path runs only
    if a stamp it should read is left unread.
    """
    fixed = _fixed_fraction(text, ts_format) if ts_format is not None else None
    if fixed is not None:
        # Chrono reads a fraction of a fixed width several times faster than one of any.
        parsed = _parse_column(text, fixed, tz, reference)
        if parsed.null_count() == text.null_count():
            return parsed
    parsed = _parse_column(text, ts_format, tz, reference)
    if ts_format is not None and "%B" in ts_format and parsed.null_count() > text.null_count():
        parsed = _with_month_names_read(text, parsed, ts_format, tz, reference)
    return parsed


def _parse_column(
    text: pl.Series, ts_format: str | None, tz: str, reference: datetime
) -> pl.Series:
    frame = text.to_frame("ts")
    if ts_format is not None and (needs_rewrite(ts_format) or is_dateless(ts_format)):
        return frame.select(to_utc(pl.col("ts"), ts_format, tz, reference)).to_series()
    if ts_format is None:
        # Any known shape: try them in turn on the stamps still unread, stop when none is left.
        parsed = pl.repeat(None, len(text), dtype=UTC_DATETIME, eager=True)
        for each in (*(shape.ts_format for shape in KNOWN_SHAPES), EPOCH):
            unread = parsed.is_null() & text.is_not_null()
            if not unread.any():
                break
            found = parse_column(text.filter(unread), each, tz, reference)
            parsed = parsed.scatter(unread.arg_true(), found)
        return parsed
    if is_yearless(ts_format):
        # Usually every stamp falls in the reference's year: then last year is never parsed.
        year, limit = _year_and_limit(tz, reference)
        this_year = frame.select(_in_year(pl.col("ts"), ts_format, tz, year)).to_series()
        unread = frame.select(
            pl.col("ts").is_not_null() & _needs_last_year(pl.lit(this_year), limit)
        ).to_series()
        if not unread.any():
            return this_year
    if ts_format == ISO8601:
        fixed = _fixed_iso_format(text)
        if fixed is not None:
            parsed = frame.select(_strftime_to_utc(pl.col("ts"), fixed, tz)).to_series()
            if parsed.null_count() == text.null_count():
                return parsed
    return frame.select(to_utc(pl.col("ts"), ts_format, tz, reference)).to_series()


_FRACTION_DIGITS = re.compile(r"[0-9]{2}[.,:]([0-9]{1,9})(?![0-9])")


def _fixed_fraction(text: pl.Series, ts_format: str) -> str | None:
    """The pattern with its fraction of any width (``%.f``, ``%,f``, ``%:f``) written with
    the fixed width of the column's stamps, if they all have one length and 3, 6 or 9 digits."""
    marker = next((each for each in ("%.f", "%,f", "%:f") if each in ts_format), None)
    present = text.drop_nulls()
    if marker is None or present.is_empty() or present.str.len_bytes().n_unique() != 1:
        return None
    found = _FRACTION_DIGITS.findall(str(present[0]))
    if not found or len(found[-1]) not in (3, 6, 9):
        return None
    return ts_format.replace(marker, f"{marker[1]}%{len(found[-1])}f")


def _fixed_iso_format(text: pl.Series) -> str | None:
    """The fixed strftime pattern of the column's ISO stamps, if they all have one length."""
    present = text.drop_nulls()
    if present.is_empty() or present.str.len_bytes().n_unique() != 1:
        return None
    first = str(present[0])
    if len(first) < 19:
        return None
    pattern = f"%Y-%m-%d{first[10]}%H:%M:%S"
    rest = first[19:]
    if rest[:1] in (".", ","):
        digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
        if digits not in (3, 6, 9):
            return None
        pattern += f"{rest[0]}%{digits}f"
        rest = rest[1 + digits :]
    zones = {"": "", "Z": "%#z"}
    if rest in zones:
        return pattern + zones[rest]
    if len(rest) in (5, 6) and rest[0] in "+-":
        return pattern + ("%:z" if ":" in rest else "%z")
    return None


def is_yearless(ts_format: str) -> bool:
    """Tell whether stamps written this way carry no year (syslog's ``Mar  3 04:05:06``)."""
    return ts_format not in (ISO8601, EPOCH, TAI64N) and not any(
        f in ts_format for f in _YEAR_FIELDS
    )


def is_dateless(ts_format: str) -> bool:
    """Tell whether stamps written this way are a time of day alone (W3C's ``time``)."""
    return is_yearless(ts_format) and not any(f in ts_format for f in _DATE_FIELDS)


def needs_rewrite(ts_format: str) -> bool:
    """Tell whether a pattern uses loglens's extensions (a learned signature, see ``stamps``)."""
    return ts_format == TAI64N or any(marker in ts_format for marker in _EXTENSIONS)


def _rewrite(text: pl.Expr, ts_format: str) -> tuple[pl.Expr, str]:
    """Rewrite stamps and pattern so that chrono reads them: a fraction after a comma or a
    colon gets a dot, a zone abbreviation becomes its offset."""
    if "%,f" in ts_format:
        text = text.str.replace(r"^(.*[0-9]),([0-9]+)", "${1}.${2}")
        ts_format = ts_format.replace("%,f", "%.f")
    if "%:f" in ts_format:
        text = text.str.replace(r"^(.*:[0-9]{2}):([0-9]+)", "${1}.${2}")
        ts_format = ts_format.replace("%:f", "%.f")
    if "%Z" in ts_format:
        names = sorted(ZONE_OFFSETS, key=lambda name: (-len(name), name))
        text = text.str.replace_many(
            [f" {name}" for name in names],
            [f" {ZONE_OFFSETS[name]}" for name in names],
            leftmost=True,
        )
        ts_format = ts_format.replace("%Z", "%#z")
    return text, ts_format


def _with_month_names_read(
    text: pl.Series, parsed: pl.Series, ts_format: str, tz: str, reference: datetime
) -> pl.Series:
    """Parse again, with month names of other languages put in English, what chrono left."""
    unread = parsed.is_null() & text.is_not_null()
    names = sorted(MONTH_TO_ENGLISH, key=lambda name: (-len(name), name))
    english = (
        text.filter(unread)
        .str.to_lowercase()
        .str.replace_many(names, [MONTH_TO_ENGLISH[name] for name in names], leftmost=True)
    )
    again = english.to_frame("ts").select(to_utc(pl.col("ts"), ts_format, tz, reference))
    return parsed.scatter(unread.arg_true(), again.to_series())


def _dateless_to_utc(text: pl.Expr, ts_format: str, tz: str, reference: datetime) -> pl.Expr:
    """A time of day on the reference's date, or the day before when that would be later
    than the reference (a log of the last day whose clock passed midnight)."""
    day = reference.astimezone(ZoneInfo(tz)).date()
    today = _strftime_to_utc(pl.lit(f"{day.isoformat()} ") + text, "%Y-%m-%d " + ts_format, tz)
    before = _strftime_to_utc(
        pl.lit(f"{(day - timedelta(days=1)).isoformat()} ") + text, "%Y-%m-%d " + ts_format, tz
    )
    limit = pl.lit(reference.astimezone(UTC) + timedelta(minutes=5), dtype=UTC_DATETIME)
    return pl.when(today > limit).then(before).otherwise(today)


def _tai64n_to_utc(text: pl.Expr) -> pl.Expr:
    """TAI64N labels (``@4000000068…``): 2**62 + 10 + seconds, then nanoseconds, in hex."""
    hexes = text.str.strip_prefix("@")
    seconds = hexes.str.slice(0, 16).str.to_integer(base=16, strict=False) - (2**62 + 10)
    nanos = hexes.str.slice(16, 8).str.to_integer(base=16, strict=False)
    micros = seconds * 1_000_000 + nanos // 1000
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")


def has_zone(ts_format: str) -> bool:
    """Tell whether a strftime pattern reads a zone or offset itself."""
    return any(field in ts_format for field in _ZONE_FIELDS)


def localize(naive: pl.Expr, tz: str) -> pl.Expr:
    """Read naive wall-clock datetimes in ``tz`` and convert them to UTC, tolerating DST."""
    if tz == "UTC":
        return naive.dt.replace_time_zone("UTC")
    in_zone = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    # A wall time in a DST gap does not exist; an hour later it does, at the instant the clock
    # would have shown had it not jumped (what Python's zoneinfo gives with fold=0).
    shifted = (naive + timedelta(hours=1)).dt.replace_time_zone(
        tz, ambiguous="earliest", non_existent="null"
    )
    return pl.coalesce(in_zone, shifted).dt.convert_time_zone("UTC")


def _strftime_to_utc(text: pl.Expr, ts_format: str, tz: str) -> pl.Expr:
    parsed = text.str.to_datetime(ts_format, strict=False, time_unit="us")
    if has_zone(ts_format):
        return parsed.dt.convert_time_zone("UTC")
    return localize(parsed, tz)


def _iso_to_utc(text: pl.Expr, tz: str) -> pl.Expr:
    # Only the first T and the first comma can be the date separator and the decimal comma.
    canonical = text.str.replace("T", " ", literal=True).str.replace(",", ".", literal=True)
    zoned = canonical.str.to_datetime(_ISO_ZONED, strict=False, time_unit="us")
    naive = canonical.str.to_datetime(_ISO_NAIVE, strict=False, time_unit="us")
    return pl.coalesce(zoned.dt.convert_time_zone("UTC"), localize(naive, tz))


def _epoch_to_utc(text: pl.Expr) -> pl.Expr:
    value = text.cast(pl.Float64, strict=False)
    magnitude = value.abs()
    # Seconds until the year 5138, then milliseconds, microseconds, nanoseconds.
    micros = (
        pl.when(magnitude < 1e11)
        .then(value * 1e6)
        .when(magnitude < 1e14)
        .then(value * 1e3)
        .when(magnitude < 1e17)
        .then(value)
        .otherwise(value / 1e3)
    )
    return pl.from_epoch(
        micros.round(0).cast(pl.Int64, strict=False), time_unit="us"
    ).dt.replace_time_zone("UTC")


def _yearless_to_utc(text: pl.Expr, ts_format: str, tz: str, reference: datetime) -> pl.Expr:
    year, limit = _year_and_limit(tz, reference)
    this_year = _in_year(text, ts_format, tz, year)
    last_year = _in_year(text, ts_format, tz, year - 1)
    return pl.when(_needs_last_year(this_year, limit)).then(last_year).otherwise(this_year)


def _year_and_limit(tz: str, reference: datetime) -> tuple[int, datetime]:
    """The reference's year in ``tz``, and the latest instant that year's stamps may reach."""
    return reference.astimezone(ZoneInfo(tz)).year, (reference + timedelta(days=1)).astimezone(UTC)


def _in_year(text: pl.Expr, ts_format: str, tz: str, year: int) -> pl.Expr:
    return _strftime_to_utc(pl.lit(f"{year} ") + text, "%Y " + ts_format, tz)


def _needs_last_year(this_year: pl.Expr, limit: datetime) -> pl.Expr:
    # Null this year may be Feb 29 of a common year: last year may be a leap year.
    return this_year.is_null() | (this_year > pl.lit(limit, dtype=UTC_DATETIME))
