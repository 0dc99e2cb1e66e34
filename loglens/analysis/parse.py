"""Format detection and parsing of lines into header flags and fields.

Everything here runs as polars expressions over whole columns (Rust regexes); no Python code
runs per line. For a regex format one search with the group names dropped (it runs on the fast
lazy DFA) finds each line's header text; a line is a header when that text is not empty, and
its message is the rest of the line. The fields are read from the header text: a leading
timestamp is sliced off where its end is easy to find, and the other fields are captured
(``extract_groups``, with only the groups we use) from the rest of the header, once per
distinct rest when rests repeat, as they usually do.

A line that is not a header keeps its whole text (trailing whitespace stripped) as its message
and has no timestamp, level or component: it continues the entry before it.

Detection parses the sample with every candidate format. A format's confidence is the share of
the lines that count that it parses as headers; a line that looks like a continuation
(``CONTINUATION``) and is no header does not count. Formats within ``CONFIDENCE_TOLERANCE`` of
the best fit equally well; among them the one that finds the most fields (timestamp, level,
component) per header wins, and on a tie the earlier, more specific one. Below
``MIN_CONFIDENCE`` the generic format is chosen, its confidence being the share of lines in
which it finds a timestamp or a component.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from loglens.analysis.formats import GENERIC_FORMAT, FormatKind, LogFormat
from loglens.analysis.levels import (
    LEVEL_WORD,
    LEVEL_WORD_STRICT,
    infer_levels,
    level_from_http_status,
    level_from_syslog_pri,
    normalize_levels,
)
from loglens.analysis.lines import CONTINUATION
from loglens.analysis.timestamps import (
    TS_CLF,
    TS_CTIME,
    TS_ISO,
    TS_SYSLOG,
    TS_YMD_SLASH,
    TS_YY_SLASH,
    TS_YYMMDD,
    UTC_DATETIME,
    parse_column,
)
from loglens.errors import ConfigError

SAMPLE_LINES = 500
# Below this share of parsed lines no format fits well and detection falls back to generic.
MIN_CONFIDENCE = 0.5
# Formats within this share of the best one count as fitting equally well; then the one that
# finds more fields wins, then the more specific (earlier) one.
CONFIDENCE_TOLERANCE = 0.02
RICHNESS_TOLERANCE = 0.05
# Fields are captured once per distinct header rest when at most this share of the first
# DISTINCT_SAMPLE rests differ.
DISTINCT_SAMPLE = 10_000
MAX_DISTINCT_SHARE = 0.5

_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_FIELD_GROUPS = ("ts", "frac", "level", "component", "pri", "status", "message")
_TRAILING_SPACE = " \t\r\n\f\v"

# Keys that JSON loggers use for each field, most common first.
JSON_KEYS = {
    "ts": ("timestamp", "time", "ts", "@timestamp", "datetime", "date", "t"),
    "level": ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "log_level"),
    "component": ("logger", "logger_name", "component", "module", "name", "source"),
    "message": ("message", "msg", "log", "text", "event", "@message"),
}
# logfmt keys, and a line of logfmt: key=value pairs, values bare or double-quoted.
LOGFMT_KEYS = {
    "ts": ("time", "ts", "timestamp", "t"),
    "level": ("level", "lvl", "severity"),
    "component": ("logger", "component", "module", "source"),
    "message": ("msg", "message"),
}
_LOGFMT_PAIR = r'[A-Za-z_][A-Za-z0-9_.@/\-]*=(?:"(?:[^"\\]|\\.)*"|[^ \t"]*)'
LOGFMT_LINE = rf"^{_LOGFMT_PAIR}(?:[ \t]+{_LOGFMT_PAIR})+[ \t]*$"
_LOGFMT_START = r"^[A-Za-z_][A-Za-z0-9_.@/\-]*="


@dataclass(frozen=True)
class Detection:
    """The format detected for a file and the share of sample lines it parses (0..1)."""

    format: LogFormat
    confidence: float


@dataclass(frozen=True)
class ParseContext:
    """How to read timestamps: the zone of zone-less stamps, the reference for year-less ones."""

    tz: str = "UTC"
    reference: datetime | None = None

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"time zone {self.tz!r} is not an IANA zone name such as 'Europe/Berlin'"
            ) from exc
        if self.reference is not None and self.reference.utcoffset() is None:
            raise ConfigError(
                f"reference time {self.reference.isoformat()} has no time zone; pass an aware "
                "datetime"
            )

    def reference_time(self) -> datetime:
        """Return the reference, or now when none was given."""
        return self.reference if self.reference is not None else datetime.now(UTC)


def detect_format(sample: Sequence[str], formats: Sequence[LogFormat]) -> Detection:
    """Pick the format that best fits a sample of a file's lines (generic if none fits well)."""
    lines = pl.Series("line", list(sample), dtype=pl.String).str.strip_chars_end("\r\n")
    lines = lines.filter(lines.str.strip_chars() != "").head(SAMPLE_LINES)
    if lines.is_empty():
        return Detection(GENERIC_FORMAT, 0.0)
    continuation = lines.str.contains(CONTINUATION)
    ctx = ParseContext()
    scored: list[tuple[float, float, LogFormat]] = []
    for fmt in formats:
        parsed = parse_lines(lines, fmt, ctx)
        confidence = _confidence(parsed["header"], continuation)
        scored.append((confidence, _richness(parsed), fmt))
    best = max((confidence for confidence, _, _ in scored), default=0.0)
    if best < MIN_CONFIDENCE:
        parsed = parse_lines(lines, GENERIC_FORMAT, ctx)
        found = parsed["ts"].is_not_null() | parsed["component"].is_not_null()
        return Detection(GENERIC_FORMAT, _confidence(found, continuation))
    fitting = [item for item in scored if item[0] >= best - CONFIDENCE_TOLERANCE]
    richest = max(richness for _, richness, _ in fitting)
    return next(
        Detection(fmt, confidence)
        for confidence, richness, fmt in fitting
        if richness >= richest - RICHNESS_TOLERANCE
    )


def parse_lines(lines: pl.Series, fmt: LogFormat, ctx: ParseContext) -> pl.DataFrame:
    """Split each line into header flags, timestamp, level, component and message."""
    if fmt.kind is FormatKind.JSON:
        raw = _json_fields(lines)
    elif fmt.kind is FormatKind.LOGFMT:
        raw = _logfmt_fields(lines)
    else:
        raw = _regex_fields(lines, fmt)
    return _finish(raw, fmt, ctx)


def _regex_fields(lines: pl.Series, fmt: LogFormat) -> pl.DataFrame:
    """Raw text fields of a regex or text format (see _finish for the columns)."""
    groups = _group_names(fmt.header)
    used = tuple(group for group in _FIELD_GROUPS if group in groups)
    if "message" in used:
        fields = lines.str.extract_groups(_capture_regex(fmt.header, used)).struct.unnest()
        header = fields["message"].is_not_null()
        message = fields["message"].fill_null(lines)
    elif "ts" in used and (
        fmt.header.endswith(_CLOSING_CLF) or _leading_stamp(fmt.header) is not None
    ):
        # One DFA pass finds each line's header; the fields are then read from that short text.
        head = lines.str.extract(_keep_groups(fmt.header, ()), 0)
        header = head.str.len_bytes().fill_null(0) > 0
        message = lines.str.slice(head.str.len_chars().fill_null(0))
        fields = _header_fields(head, fmt.header, used)
    else:
        # Without a stamp to slice, deleting the header (a DFA pass) and capturing the fields
        # from the whole line is a little cheaper than keeping the header text.
        message = lines.str.replace(_keep_groups(fmt.header, ()), "")
        header = message.str.len_bytes() != lines.str.len_bytes()
        fields = (
            lines.str.extract_groups(_capture_regex(fmt.header, used)).struct.unnest()
            if used
            else _frame({}, len(lines))
        )
    if fmt.message_fields:
        extra = _group_names(fmt.message_fields)
        wanted = tuple(group for group in _FIELD_GROUPS if group in extra and group not in used)
        if wanted:
            found = message.str.extract_groups(_keep_groups(fmt.message_fields, wanted))
            fields = fields.hstack(found.struct.unnest())
    if fmt.kind is FormatKind.TEXT:
        # Free text: a line starts an entry unless it looks like a continuation; a line whose
        # header holds a timestamp or a level starts one even when indented.
        found = pl.repeat(False, len(lines), eager=True)
        for group in ("ts", "level"):
            if group in fields.columns:
                found = found | fields[group].is_not_null()
        header = found | ~lines.str.contains(CONTINUATION)
    return fields.with_columns(
        header=header,
        truncated=_truncated(lines, header, fmt),
        message=message.str.strip_chars_end(_TRAILING_SPACE),
    )


def _header_fields(head: pl.Series, header: str, used: tuple[str, ...]) -> pl.DataFrame:
    """The ``used`` fields of each header text (null where there is none).

    A leading timestamp whose end is easy to find (``_STAMPS``) is sliced off rather than
    captured, and the other fields are captured from the rest of each header, once per
    distinct rest: capturing is the dearest step of parsing, the stamp its dearest part.
    """
    if not used:
        return _frame({}, len(head))
    if "ts" in used and header.endswith(_CLOSING_CLF):
        # The access log's stamp has a fixed width and closes the header: slice it off its end.
        columns = {"ts": head.str.slice(-len("] ") - _CLF_WIDTH, _CLF_WIDTH)}
        rest = tuple(group for group in used if group != "ts")
        if rest:
            captured = head.str.extract_groups(_capture_regex(header, rest)).struct.unnest()
            columns.update({name: captured[name] for name in rest})
        return _frame({name: columns[name] for name in used}, len(head))
    stamp = _leading_stamp(header) if "ts" in used else None
    if stamp is not None and stamp.unless and head.str.starts_with(stamp.unless).any():
        stamp = None
    if stamp is None:
        captured = head.str.extract_groups(_capture_regex(header, used)).struct.unnest()
        return _frame({name: captured[name] for name in used}, len(head))
    ts, rest_of_header = _split_stamp(head, stamp)
    columns = {"ts": ts}
    nothing = pl.repeat(None, len(head), dtype=pl.String, eager=True)
    columns.update({group: nothing for group in stamp.absent if group in used})
    rest = tuple(group for group in used if group not in columns)
    if rest:
        regex = _capture_regex("^" + header.removeprefix(stamp.opening), rest)
        columns.update(_capture_distinct(rest_of_header, regex))
    return _frame({name: columns[name] for name in used}, len(head))


@dataclass(frozen=True)
class _Stamp:
    """A timestamp group a header opens with, and how to find where the stamp ends.

    The stamp starts at ``offset`` and is ``width`` characters long, or, when ``width`` is 0,
    ends at the first ``end`` character at or after ``search_from`` (the shape holds none
    there, and the header writes one right after the stamp).
    """

    opening: str  # the header regex up to and including the ts group
    offset: int
    width: int = 0
    end: str = " "
    search_from: int = 0
    unless: str = ""  # the rule holds only when no header starts with this
    absent: tuple[str, ...] = ()  # groups of the opening that are then empty


_STAMPS = (
    _Stamp(f"^(?<ts>{TS_YYMMDD})", 0, width=13),
    _Stamp(f"^(?<ts>{TS_YY_SLASH})", 0, width=17),
    # Between date and time these shapes may hold a space, but nowhere after.
    _Stamp(f"^(?<ts>{TS_ISO})", 0, search_from=11),
    _Stamp(f"^(?<ts>{TS_YMD_SLASH})", 0, search_from=11),
    _Stamp(rf"^\[(?<ts>{TS_CTIME})", 1, end="]", search_from=1),
    # Syslog without its optional <PRI>: "Mar  13 04:05:06" has its last inner space at 7.
    _Stamp(
        f"^(?:<(?<pri>[0-9]{{1,3}})>)?(?<ts>{TS_SYSLOG})",
        0,
        search_from=8,
        unless="<",
        absent=("pri",),
    ),
)


# A header that ends with a Common Log Format stamp in brackets and a space, 26 characters wide.
_CLOSING_CLF = rf"(?<ts>{TS_CLF})\] "
_CLF_WIDTH = 26


def _leading_stamp(header: str) -> _Stamp | None:
    """The stamp (one of ``_STAMPS``) a header opens with and ends right after."""
    for stamp in _STAMPS:
        closing = stamp.end if stamp.end == " " else f"\\{stamp.end}"
        rest = header.removeprefix(stamp.opening)
        if rest != header and rest.startswith(closing) and rest[len(closing) :][:1] not in "?*{":
            return stamp
    return None


def _split_stamp(head: pl.Series, stamp: _Stamp) -> tuple[pl.Series, pl.Series]:
    """Each header's stamp and the text after it.

    Stamps of a file usually have one width: the first one's is taken for all when every
    header has the end character there and none before it, else each stamp's end is found.
    """
    ends: pl.Series | int = stamp.offset + stamp.width
    if not stamp.width:
        present = head.is_not_null()
        first = str(head[int(present.arg_max() or 0)]) if present.any() else ""
        end = first.find(stamp.end, stamp.search_from)
        if end >= 0:
            rest = head.str.slice(end)
            before = head.str.slice(stamp.search_from, end - stamp.search_from)
            fits = rest.str.starts_with(stamp.end) & ~before.str.contains(stamp.end, literal=True)
            if fits.fill_null(True).all():
                return head.str.slice(stamp.offset, end - stamp.offset), rest
        found = head.str.slice(stamp.search_from).str.find(stamp.end, literal=True)
        ends = found + stamp.search_from
    return head.str.slice(stamp.offset, ends - stamp.offset), head.str.slice(ends)


def _capture_distinct(texts: pl.Series, regex: str) -> dict[str, pl.Series]:
    """The groups ``regex`` captures in each text, capturing each distinct text only once.

    Header texts without their timestamp usually repeat a lot (a level, a thread, a logger).
    """
    captured = _per_distinct(texts, lambda each: each.str.extract_groups(regex))
    return {name: captured.struct.field(name) for name in captured.struct.fields}


def _per_distinct(texts: pl.Series, compute: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``compute`` of each text, an elementwise function, run once per distinct text.

    Casting to a categorical of their own numbers the distinct texts at hash speed, far
    cheaper than a capture or a timestamp parse of every line. Where the first texts mostly
    differ (a pid, a connection number, milliseconds in each), hashing them all would cost
    more than it saves, and ``compute`` runs on every text.
    """
    sample = texts.head(DISTINCT_SAMPLE)
    if sample.n_unique() > len(sample) * MAX_DISTINCT_SHARE:
        return compute(texts)
    categories = pl.Categories.random()
    # The categories live only as long as a column refers to them: keep ``categorical``.
    categorical = texts.cast(pl.Categorical(categories))
    distinct = compute(categories.to_series())
    return distinct.gather(categorical.to_physical())


def _truncated(lines: pl.Series, header: pl.Series, fmt: LogFormat) -> pl.Series:
    """Flag lines that are no header but start like one (``fmt.start``) and break off.

    A line cut inside the start itself ("2024-03-01 10:0") is completed with the rest of the
    format's first example line: if that completion starts like a header, so did the line.
    """
    truncated = pl.repeat(False, len(lines), eager=True)
    candidates = ~header
    if not fmt.start or not candidates.any():
        return truncated
    example = fmt.examples[0] if fmt.examples else ""
    line = pl.col("line")
    completed = line + pl.lit(example).str.slice(line.str.len_chars())
    starts = (
        lines.filter(candidates)
        .to_frame("line")
        .select(line.str.contains(fmt.start) | completed.str.contains(fmt.start))
    )
    return truncated.scatter(candidates.arg_true(), starts.to_series())


def _json_fields(lines: pl.Series) -> pl.DataFrame:
    """Raw text fields of JSON lines: a line that is one object is a header."""
    starts = lines.str.starts_with("{")
    header = starts & lines.str.strip_chars_end(_TRAILING_SPACE).str.ends_with("}")
    fields: dict[str, pl.Series] = {}
    for name, keys in JSON_KEYS.items():
        # One JSON parse per key and line: ask only for keys that occur in the column at all.
        present = [key for key in keys if lines.str.contains(f'"{key}"', literal=True).any()]
        if present:
            paths = [pl.col("line").str.json_path_match(f"$['{key}']") for key in present]
            fields[name] = lines.to_frame("line").select(pl.coalesce(paths)).to_series()
    if fields:
        # A damaged object (a bad escape left by a repaired encoding, say) does not parse at
        # all; read its plain "key": value pairs with a regex instead.
        nothing_read = pl.DataFrame(fields).select(pl.all_horizontal(pl.all().is_null()))
        unread = header & nothing_read.to_series()
        if unread.any():
            salvaged = _json_fields_by_regex(lines.filter(unread), list(fields))
            rows = unread.arg_true()
            fields = {name: fields[name].scatter(rows, salvaged[name]) for name in fields}
    message = fields.pop("message", lines)
    return _frame(fields, len(lines)).with_columns(
        header=header,
        truncated=starts & ~header,
        message=pl.when(header)
        .then(message.fill_null(lines))
        .otherwise(lines)
        .str.strip_chars_end(_TRAILING_SPACE),
    )


def _json_fields_by_regex(lines: pl.Series, names: list[str]) -> pl.DataFrame:
    """Fields of JSON objects that do not parse, from their string and number values."""
    columns = {}
    for name in names:
        alternatives = "|".join(re.escape(key) for key in JSON_KEYS[name])
        pattern = rf'"(?:{alternatives})"[ \t]*:[ \t]*(?:"(?<q>(?:[^"\\]|\\.)*)"|(?<b>[-+.0-9eE]+))'
        found = lines.str.extract_groups(pattern).struct.unnest()
        columns[name] = _unescape(found["q"]).fill_null(found["b"])
    return pl.DataFrame(columns)


def _unescape(quoted: pl.Series) -> pl.Series:
    """Undo the escaping of quotes and backslashes in a quoted value."""
    return quoted.str.replace_all(r'\\(["\\/])', "${1}")


def _logfmt_fields(lines: pl.Series) -> pl.DataFrame:
    """Raw text fields of logfmt lines: a line of key=value pairs is a header."""
    header = lines.str.contains(LOGFMT_LINE)
    fields: dict[str, pl.Series] = {}
    for name, keys in LOGFMT_KEYS.items():
        alternatives = "|".join(re.escape(key) for key in keys)
        # Find the whole pair (a DFA search, no capture groups), then peel off its key.
        pattern = rf'(?:^|[ \t])(?:{alternatives})=(?:"(?:[^"\\]|\\.)*"|[^ \t"]*)'
        value = lines.str.extract(pattern, 0).str.replace(r"^[ \t]?[^=]*=", "")
        unquoted = value.str.strip_prefix('"').str.strip_suffix('"')
        if unquoted.str.contains("\\", literal=True).any():
            unquoted = _unescape(unquoted)
        fields[name] = unquoted
    message = fields.pop("message")
    return _frame(fields, len(lines)).with_columns(
        header=header,
        truncated=~header & lines.str.contains(_LOGFMT_START),
        message=pl.when(header)
        .then(message.fill_null(lines))
        .otherwise(lines)
        .str.strip_chars_end(_TRAILING_SPACE),
    )


def _finish(raw: pl.DataFrame, fmt: LogFormat, ctx: ParseContext) -> pl.DataFrame:
    """Turn raw text fields into the output columns, null where the line is no header."""
    columns = raw.columns
    nothing = pl.lit(None, dtype=pl.String)
    if "ts" in columns:
        reference = ctx.reference_time()
        ts = _per_distinct(
            raw["ts"], lambda text: parse_column(text, fmt.ts_format, ctx.tz, reference)
        )
        if "frac" in columns:
            micros = raw["frac"].str.pad_end(6, "0").str.head(6).cast(pl.Int64, strict=False)
            ts = ts + micros.fill_null(0).cast(pl.Duration("us"))
    else:
        ts = pl.repeat(None, raw.height, dtype=UTC_DATETIME, eager=True)
    component = pl.col("component").str.strip_chars() if "component" in columns else nothing
    header = pl.col("header")
    return raw.with_columns(ts=ts, level=_levels(raw, fmt)).select(
        header=header,
        truncated=pl.col("truncated"),
        ts=pl.when(header).then(pl.col("ts")),
        level=pl.when(header).then(pl.col("level")),
        component=pl.when(header & ~component.is_in(["", "-"])).then(component),
        message=pl.col("message"),
    )


def _levels(raw: pl.DataFrame, fmt: LogFormat) -> pl.Series:
    """Each line's level: its level field, else its PRI, else its status, else inferred."""
    columns = raw.columns
    if "level" in columns:
        level = normalize_levels(raw["level"])
    else:
        level = pl.repeat(None, raw.height, dtype=pl.String, eager=True)
    for group, to_level in (("pri", level_from_syslog_pri), ("status", level_from_http_status)):
        if group in columns:
            level = level.fill_null(raw.select(to_level(pl.col(group))).to_series())
    if fmt.infer_level:
        # Only header lines without a level need a guess; usually that is all or none of them.
        missing = raw["header"] & level.is_null()
        if missing.any():
            guessed = infer_levels(raw["message"].filter(missing))
            level = level.scatter(missing.arg_true(), guessed)
    return level.alias("level")


def _confidence(header: pl.Series, continuation: pl.Series) -> float:
    """Share of the lines that count (headers, and lines that are no continuation) parsed."""
    counted = int((header | ~continuation).sum())
    return int(header.sum()) / counted if counted else 0.0


def _richness(parsed: pl.DataFrame) -> float:
    """Mean number of fields (timestamp, level, component) found per header line."""
    headers = parsed.filter(pl.col("header"))
    if headers.is_empty():
        return 0.0
    found = headers.select(
        pl.col("ts").is_not_null().mean()
        + pl.col("level").is_not_null().mean()
        + pl.col("component").is_not_null().mean()
    )
    return float(found.item())


def _frame(columns: dict[str, pl.Series], height: int) -> pl.DataFrame:
    """A frame of these columns, or of no columns but the given height."""
    return pl.DataFrame(columns) if columns else pl.DataFrame(height=height)


@lru_cache(maxsize=256)
def _group_names(regex: str) -> frozenset[str]:
    """The named groups of a regex."""
    return frozenset(match.group(2) for match in _NAMED_GROUP.finditer(regex))


@lru_cache(maxsize=256)
def _capture_regex(header: str, keep: tuple[str, ...]) -> str:
    """The regex that captures the fields of lines ``header`` matched: only the groups we use,
    and each bare level-word alternation relaxed to any word.

    The relaxation captures the same text on a header line (a level word is always followed by
    a non-word character) and makes capturing several times cheaper: polars captures with an
    NFA simulation whose cost grows with the alternatives alive at once. Lines that are no
    header may capture junk; their fields are discarded.
    """
    if LEVEL_WORD_STRICT not in header:
        header = header.replace(LEVEL_WORD, "[A-Za-z0-9]+")
    return _keep_groups(header, keep)


@lru_cache(maxsize=256)
def _keep_groups(regex: str, keep: tuple[str, ...]) -> str:
    """The regex with every named group not in ``keep`` made non-capturing."""

    def rewrite(match: re.Match[str]) -> str:
        escapes, name = match.group(1), match.group(2)
        return f"{escapes}(?<{name}>" if name in keep else f"{escapes}(?:"

    return _NAMED_GROUP.sub(rewrite, regex)
