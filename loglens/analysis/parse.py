"""Format detection and parsing of lines into header flags and fields.

Everything here runs as polars expressions over whole columns (Rust regexes); no Python code
runs per line. For a regex format one search with the group names dropped (it runs on the fast
lazy DFA) finds each line's header text; a line is a header when that text is not empty, and
its message is the rest of the line. The fields are read from the header text
(``header_fields``: a leading timestamp sliced off where its end is easy to find, the other
fields captured once per distinct rest of the header).

A line that is not a header keeps its whole text (trailing whitespace stripped) as its message
and has no timestamp, level or component: it continues the entry before it.

Detection parses the sample with every candidate format. A format's confidence is the share of
the lines that count that it parses as headers; a line that looks like a continuation
(``CONTINUATION``) and is no header does not count. Formats within ``CONFIDENCE_TOLERANCE`` of
the best fit equally well; among them the one that finds the most fields (timestamp, level,
component) per header wins, and on a tie the earlier, more specific one. Below
``MIN_CONFIDENCE`` the generic format is chosen, its confidence being the share of lines in
which it finds a timestamp or a component.

A layout learned from the sample itself (``layout``: where the timestamp is, the header
around it) competes with the library's best: it replaces a catch-all format that reads no
more, and any other format only when it parses clearly more lines or reads a timestamp or
level the library format leaves in the message. JSON formats learn where their fields lie
(``json_layout``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from loglens.analysis.formats import GENERIC_FORMAT, FormatKind, LogFormat
from loglens.analysis.header_fields import (
    capture_regex,
    fields_frame,
    group_names,
    header_fields,
    keep_groups,
    per_distinct,
    slices_stamp,
)
from loglens.analysis.json_layout import (
    LEVEL_SCALE,
    TS_NANOS,
    field_paths,
    learn_json_format,
    learned_setting,
    path_keys,
    read_epochs,
    read_levels,
)
from loglens.analysis.json_values import json_path_values
from loglens.analysis.layout import learn_layout
from loglens.analysis.levels import (
    infer_levels,
    level_from_http_status,
    level_from_syslog_pri,
    normalize_levels,
)
from loglens.analysis.lines import CONTINUATION
from loglens.analysis.timestamps import UTC_DATETIME, parse_column
from loglens.errors import ConfigError

SAMPLE_LINES = 500
# Below this share of parsed lines no format fits well and detection falls back to generic.
MIN_CONFIDENCE = 0.5
# Formats within this share of the best one count as fitting equally well; then the one that
# finds more fields wins, then the more specific (earlier) one.
CONFIDENCE_TOLERANCE = 0.02
RICHNESS_TOLERANCE = 0.05
# Library formats that fit almost anything; a learned layout that fits as well is preferred.
CATCH_ALL_FORMATS = frozenset({"iso8601", "generic"})
# How much better a learned layout must read a sample to replace a library format that fits:
# a share of lines parsed, or timestamps and levels read per line.
LEARNED_MARGIN = 0.1
LEARNED_RICHNESS_MARGIN = 0.5
# Fields a learned layout must read more than a catch-all format, per line, to replace it.
CATCH_ALL_MARGIN = 0.2

_FIELD_GROUPS = ("ts", "frac", "level", "component", "severity", "pri", "status", "message")
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


def detect_format(
    sample: Sequence[str], formats: Sequence[LogFormat], learn: bool = True
) -> Detection:
    """Pick the format that best fits a sample of a file's lines: a library format, a layout
    learned from the sample (unless ``learn`` is off; see ``_learned_wins``), or generic."""
    lines = pl.Series("line", list(sample), dtype=pl.String).str.strip_chars_end("\r\n")
    lines = lines.filter(lines.str.strip_chars() != "").head(SAMPLE_LINES)
    if lines.is_empty():
        return Detection(GENERIC_FORMAT, 0.0)
    continuation = lines.str.contains(CONTINUATION)
    ctx = ParseContext()
    scored: list[tuple[float, float, LogFormat]] = []
    for fmt in (learn_json_format(sample, each) for each in formats):
        parsed = parse_lines(lines, fmt, ctx)
        confidence = _confidence(parsed["header"], continuation)
        scored.append((confidence, _richness(parsed), fmt))
    best = max((confidence for confidence, _, _ in scored), default=0.0)
    chosen: Detection | None = None
    if best >= MIN_CONFIDENCE:
        fitting = [item for item in scored if item[0] >= best - CONFIDENCE_TOLERANCE]
        richest = max(richness for _, richness, _ in fitting)
        confidence, _, fmt = next(
            item for item in fitting if item[1] >= richest - RICHNESS_TOLERANCE
        )
        chosen = Detection(fmt, confidence)
    if not learn:
        return chosen if chosen is not None else _generic(lines, continuation, ctx)
    library = None
    if chosen is not None:
        read, components = _read(parse_lines(lines, chosen.format, ctx))
        library = (chosen.confidence, read, components, chosen.format)
        if _nothing_to_learn(library):
            return chosen
    learned = learn_layout(lines.to_list(), ctx.reference_time())
    if learned is not None:
        parsed = parse_lines(lines, learned, ctx)
        candidate = (_confidence(parsed["header"], continuation), *_read(parsed), learned)
        if _learned_wins(candidate, library):
            chosen = Detection(learned, candidate[0])
    return chosen if chosen is not None else _generic(lines, continuation, ctx)


def _generic(lines: pl.Series, continuation: pl.Series, ctx: ParseContext) -> Detection:
    """The generic format, with the share of lines in which it finds a timestamp or component."""
    parsed = parse_lines(lines, GENERIC_FORMAT, ctx)
    found = parsed["ts"].is_not_null() | parsed["component"].is_not_null()
    return Detection(GENERIC_FORMAT, _confidence(found, continuation))


def _nothing_to_learn(library: tuple[float, float, float, LogFormat]) -> bool:
    """Tell whether no learned layout could win over this library format (see
    ``_learned_wins``): a specific format that parses nearly every line and reads a timestamp
    and a level from nearly all of them. Learning is then skipped: it is the dear part."""
    confidence, read, _, fmt = library
    return (
        fmt.name not in CATCH_ALL_FORMATS
        and confidence >= 1 - LEARNED_MARGIN
        and read >= 2 - LEARNED_RICHNESS_MARGIN
    )


def _learned_wins(
    learned: tuple[float, float, float, LogFormat],
    library: tuple[float, float, float, LogFormat] | None,
) -> bool:
    """Tell whether a learned layout reads a sample better than the library's best format.

    Each is (share of lines parsed, timestamps and levels read per line, components found per
    line, format). A library format that fits stays: it was written for its logs, and reads
    them on faster paths. A learned layout wins where none fits, over the catch-all formats
    when it reads more fields, and over any other format when it parses many more lines or
    reads a timestamp or a level on most lines that the library format leaves in the message.
    """
    confidence, richness, components, fmt = learned
    if fmt.records:
        return library is None  # records of lines, where no line format fits
    if confidence < MIN_CONFIDENCE:
        return False
    if library is None:
        return True
    their_confidence, their_richness, their_components, theirs = library
    if theirs.name in CATCH_ALL_FORMATS:
        more = richness + components - their_richness - their_components
        if "(?<message>" in learned[-1].header:
            more += 1.0  # it also tells trailing fields (a logger, columns) from the message
        return confidence >= their_confidence - CONFIDENCE_TOLERANCE and (
            more > CATCH_ALL_MARGIN or confidence > their_confidence + CONFIDENCE_TOLERANCE
        )
    return confidence > their_confidence + LEARNED_MARGIN or (
        confidence >= their_confidence - CONFIDENCE_TOLERANCE
        and richness > their_richness + LEARNED_RICHNESS_MARGIN
    )


def parse_lines(lines: pl.Series, fmt: LogFormat, ctx: ParseContext) -> pl.DataFrame:
    """Split each line into header flags, timestamp, level, component and message."""
    if fmt.kind is FormatKind.JSON:
        raw = _json_fields(lines, fmt.json_paths)
    elif fmt.kind is FormatKind.LOGFMT:
        raw = _logfmt_fields(lines)
    else:
        raw = _regex_fields(lines, fmt)
    return _finish(raw, fmt, ctx)


def _regex_fields(lines: pl.Series, fmt: LogFormat) -> pl.DataFrame:
    """Raw text fields of a regex or text format (see _finish for the columns)."""
    groups = group_names(fmt.header)
    used = tuple(group for group in _FIELD_GROUPS if group in groups)
    if "message" in used:
        fields = lines.str.extract_groups(capture_regex(fmt.header, used)).struct.unnest()
        header = fields["message"].is_not_null()
        message = fields["message"].fill_null(lines)
    elif "ts" in used and slices_stamp(fmt.header):
        # One DFA pass finds each line's header; the fields are then read from that short text.
        head = lines.str.extract(keep_groups(fmt.header, ()), 0)
        header = head.str.len_bytes().fill_null(0) > 0
        message = lines.str.slice(head.str.len_chars().fill_null(0))
        fields = header_fields(head, fmt.header, used)
    else:
        # Without a stamp to slice, deleting the header (a DFA pass) and capturing the fields
        # from the whole line is a little cheaper than keeping the header text.
        message = lines.str.replace(keep_groups(fmt.header, ()), "")
        header = message.str.len_bytes() != lines.str.len_bytes()
        fields = (
            lines.str.extract_groups(capture_regex(fmt.header, used)).struct.unnest()
            if used
            else fields_frame({}, len(lines))
        )
    for regex in (fmt.message_fields, fmt.message_header):
        if regex:
            extra = group_names(regex)
            wanted = tuple(group for group in _FIELD_GROUPS if group in extra and group not in used)
            fields = fields.hstack(_fields_in(message, regex, wanted))
            used = (*used, *wanted)
    if fmt.message_header:
        # The header goes on into the message where this opens it: the message follows it.
        message = message.str.replace(keep_groups(fmt.message_header, ()), "")
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


def _fields_in(message: pl.Series, regex: str, wanted: tuple[str, ...]) -> pl.DataFrame:
    """The ``wanted`` groups ``regex`` captures in each message (null where it finds none).

    A search without groups finds the messages that hold the fields; only those are captured.
    """
    nothing = {name: pl.repeat(None, len(message), dtype=pl.String, eager=True) for name in wanted}
    found = fields_frame(nothing, len(message))
    hit = message.str.contains(keep_groups(regex, ())) if wanted else None
    if hit is None or not hit.any():
        return found
    captured = message.filter(hit).str.extract_groups(keep_groups(regex, wanted)).struct.unnest()
    rows = hit.arg_true()
    return pl.DataFrame({name: found[name].scatter(rows, captured[name]) for name in wanted})


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


def _json_fields(lines: pl.Series, json_paths: tuple[tuple[str, str], ...] = ()) -> pl.DataFrame:
    """Raw text fields of JSON lines: a line that is one object is a header.

    Each field is read from the paths learned for the file (``json_layout``), else from the
    first of its ``JSON_KEYS`` that the object has (``json_values``).
    """
    starts = lines.str.starts_with("{")
    header = starts & lines.str.strip_chars_end(_TRAILING_SPACE).str.ends_with("}")
    if json_paths:
        paths = field_paths(json_paths)
        keys = {name: tuple(path_keys(path)[-1] for path in found) for name, found in paths.items()}
    else:
        # Each key asked for costs a JSON parse of some lines: ask only for keys that occur.
        keys = {
            name: tuple(key for key in known if lines.str.contains(f'"{key}"', literal=True).any())
            for name, known in JSON_KEYS.items()
        }
        paths = {name: [f"$['{key}']" for key in found] for name, found in keys.items()}
    wanted = {name: found for name, found in paths.items() if found}
    fields = {}
    if wanted:
        values = json_path_values(lines, list(dict.fromkeys(p for f in wanted.values() for p in f)))
        fields = values.select(
            **{
                name: pl.coalesce([pl.col(path) for path in found])
                for name, found in wanted.items()
            }
        ).to_dict()
    if fields:
        # A damaged object (a bad escape left by a repaired encoding, say) does not parse at
        # all; read its plain "key": value pairs with a regex instead.
        nothing_read = pl.DataFrame(fields).select(pl.all_horizontal(pl.all().is_null()))
        unread = header & nothing_read.to_series()
        if unread.any():
            salvaged = _json_fields_by_regex(lines.filter(unread), {n: keys[n] for n in fields})
            rows = unread.arg_true()
            fields = {name: fields[name].scatter(rows, salvaged[name]) for name in fields}
    if "ts" in fields:
        nanos_path = learned_setting(json_paths, TS_NANOS)
        nanos = None if nanos_path is None else lines.str.json_path_match(nanos_path)
        fields["ts"] = read_epochs(fields["ts"], nanos)
    if json_paths and "level" in fields:
        fields["level"] = read_levels(fields["level"], learned_setting(json_paths, LEVEL_SCALE))
    message = fields.pop("message", lines)
    return fields_frame(fields, len(lines)).with_columns(
        header=header,
        truncated=starts & ~header,
        message=pl.when(header)
        .then(message.fill_null(lines))
        .otherwise(lines)
        .str.strip_chars_end(_TRAILING_SPACE),
    )


def _json_fields_by_regex(lines: pl.Series, keys: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """Fields of JSON objects that do not parse, from the string and number values of keys."""
    columns = {}
    for name, names in keys.items():
        alternatives = "|".join(re.escape(key) for key in names)
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
    return fields_frame(fields, len(lines)).with_columns(
        header=header,
        truncated=~header & lines.str.contains(_LOGFMT_START),
        message=pl.when(header)
        .then(message.fill_null(lines))
        .otherwise(lines)
        .str.strip_chars_end(_TRAILING_SPACE),
    )


def _finish(raw: pl.DataFrame, fmt: LogFormat, ctx: ParseContext) -> pl.DataFrame:
    """Turn raw text fields into the output columns, null where the line is no header;
    ``level_read`` tells a level read from the line (a field, a PRI, a status) from a guess."""
    columns = raw.columns
    nothing = pl.lit(None, dtype=pl.String)
    if "ts" in columns:
        reference = ctx.reference_time()
        ts = per_distinct(
            raw["ts"], lambda text: parse_column(text, fmt.ts_format, ctx.tz, reference)
        )
        if "frac" in columns:
            micros = raw["frac"].str.pad_end(6, "0").str.head(6).cast(pl.Int64, strict=False)
            ts = ts + micros.fill_null(0).cast(pl.Duration("us"))
    else:
        ts = pl.repeat(None, raw.height, dtype=UTC_DATETIME, eager=True)
    component = pl.col("component").str.strip_chars() if "component" in columns else nothing
    header = pl.col("header")
    level, level_read = _levels(raw, fmt)
    return raw.with_columns(ts=ts, level=level, level_read=level_read).select(
        header=header,
        truncated=pl.col("truncated"),
        ts=pl.when(header).then(pl.col("ts")),
        level=pl.when(header).then(pl.col("level")),
        level_read=header & pl.col("level_read"),
        component=pl.when(header & ~component.is_in(["", "-"])).then(component),
        message=pl.col("message"),
    )


def _levels(raw: pl.DataFrame, fmt: LogFormat) -> tuple[pl.Series, pl.Series]:
    """Each line's level: its level field, else its severity, PRI or status, else inferred;
    and whether it was read from the line (any but an inferred level)."""
    columns = raw.columns
    if "level" in columns:
        # A handful of spellings: each is normalised once (a lookup per line cost more).
        level = per_distinct(raw["level"], normalize_levels)
    else:
        level = pl.repeat(None, raw.height, dtype=pl.String, eager=True)
    for group, to_level in (
        ("severity", level_from_syslog_pri),  # a severity 0-7 is its own PRI modulo 8
        ("pri", level_from_syslog_pri),
        ("status", level_from_http_status),
    ):
        if group in columns:
            level = level.fill_null(raw.select(to_level(pl.col(group))).to_series())
    read = level.is_not_null().alias("level_read")
    if fmt.infer_level:
        # Only header lines without a level need a guess; usually that is all or none of them.
        missing = raw["header"] & level.is_null()
        if missing.any():
            guessed = infer_levels(raw["message"].filter(missing))
            level = level.scatter(missing.arg_true(), guessed)
    return level.alias("level"), read


def _confidence(header: pl.Series, continuation: pl.Series) -> float:
    """Share of the lines that count (headers, and lines that are no continuation) parsed."""
    counted = int((header | ~continuation).sum())
    return int(header.sum()) / counted if counted else 0.0


def _read(parsed: pl.DataFrame) -> tuple[float, float]:
    """Mean number of timestamps and levels read (not guessed) per header line, and the
    share of header lines with a component."""
    headers = parsed.filter(pl.col("header"))
    if headers.is_empty():
        return 0.0, 0.0
    read, components = headers.select(
        pl.col("ts").is_not_null().mean() + pl.col("level_read").mean(),
        pl.col("component").is_not_null().mean(),
    ).row(0)
    return float(read), float(components)


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
