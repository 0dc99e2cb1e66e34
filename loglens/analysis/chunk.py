"""Summarise one newline-aligned block of a log file: the engine's hot path.

Every step is a polars expression over the whole block (Rust regex, vectorised joins and
fills); Python touches only the handful of lines kept as samples. Each line ends up in
exactly one place: an entry (its first line), a continuation of an entry, a filtered
entry, a directive or comment line, a rejected count with its reason, or the unresolved
head of the block (see `summary`). The counts always add up to the lines of the block.

A comment line (`#…`) that the format does not read as an entry is a line of the entry
it directly follows (`# Query_time:` after a slow log's `# Time:` entry), and otherwise, at
the start of a file or after an empty, rejected or directive line, a directive or comment
of the file. W3C and Zeek header directives are directives wherever they stand (see
`lines`). Where the first lines of a block are comment lines, what they are is known only
once the block before is: they wait in its head like continuation lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from loglens.analysis.formats import GENERIC_FORMAT, FormatKind, LogFormat
from loglens.analysis.lines import (
    BINARY,
    COMMENT,
    CONTINUATION,
    DIRECTIVE,
    EMPTY,
    INDENTED,
    INVALID_ENCODING,
    TOO_LONG,
    Decoded,
    decode_block,
    printable,
)
from loglens.analysis.parse import ParseContext, parse_lines
from loglens.analysis.summary import (
    FINE_LEVELS,
    ORPHAN,
    SAMPLES_PER_REASON,
    SERIES_LEVEL,
    SERIES_SCHEMA,
    UNKNOWN_LEVEL,
    FileInfo,
    Head,
    Sample,
    Summary,
    Tail,
    level_key,
    pattern_key,
)
from loglens.analysis.templates import mask_expr

ENTRY = "entry"
CONTINUED = "continuation"
DIRECTIVE_LINE = "directive"
TRUNCATED = "truncated"
UNPARSEABLE = "unparseable"
_COMMENT = "comment"  # a comment line not yet known to be a directive or a continuation
_HEAD = "head"
_HEAD_COMMENT = "head_comment"
# What a line turned out to be; an enum, so comparisons are integer comparisons.
_KIND = pl.Enum(
    [
        ENTRY,
        CONTINUED,
        DIRECTIVE_LINE,
        EMPTY,
        BINARY,
        TOO_LONG,
        TRUNCATED,
        UNPARSEABLE,
        ORPHAN,
        _COMMENT,
        _HEAD,
        _HEAD_COMMENT,
    ]
)
_MICROS_PER_MINUTE = 60_000_000
# The shapes of each line that classifying it looks at, held while it does.
_IS_COMMENT, _IS_HEADER, _IS_CONTINUED, _IS_DIRECTIVE = _SHAPES = (
    "_comment",
    "_header",
    "_continued",
    "_directive",
)
_EXAMPLE_CHARS = 300  # examples are cut here, and made printable only when shown


@dataclass(frozen=True)
class Filters:
    """Entries the user declared irrelevant: dropped, but counted by rule."""

    drop_levels: frozenset[str] = frozenset()
    drop_regex: str = ""

    def rule_expr(self) -> pl.Expr:
        """The name of the rule that drops an entry, or "" when the entry is kept."""
        rule = pl.lit("")
        if self.drop_regex:
            hit = pl.col("message").fill_null("").str.contains(self.drop_regex)
            rule = pl.when(hit).then(pl.lit(f"message matches {self.drop_regex}")).otherwise(rule)
        if self.drop_levels:
            rule = (
                pl.when(pl.col("level").is_in(sorted(self.drop_levels)))
                .then(pl.lit("level ") + pl.col("level"))
                .otherwise(rule)
            )
        return rule


@dataclass(frozen=True)
class Part:
    """Where a block comes from: the file's display name, its byte offset, its format."""

    file: str
    offset: int
    format: LogFormat


def summarise_block(
    data: bytes,
    part: Part,
    ctx: ParseContext,
    filters: Filters | None = None,
    want_events: bool = False,
    max_line_bytes: int | None = None,
    size: int | None = None,
) -> tuple[Summary, pl.DataFrame | None]:
    """Summarise a block; with `want_events`, also return one row per kept entry.

    Lines longer than `max_line_bytes` are rejected as too long (see `lines`). `size` is
    the bytes of the file the block stands for, when its over-long lines were cut short.
    """
    decoded = decode_block(data, max_line_bytes)
    rows = _classify(decoded, part, ctx, filters or Filters())
    lines = rows.height
    size = len(data) if size is None else size
    summary = Summary(lines=lines, bytes=size)
    if decoded.repaired:
        summary.repaired[INVALID_ENCODING] = decoded.repaired
    summary.part_lines[(part.file, part.offset)] = lines
    info = FileInfo(
        part.format.name,
        layout=part.format.description,
        expects_levels=_expects_levels(part.format),
        bytes=size,
        lines=lines,
    )
    summary.files[part.file] = info

    _count_lines(summary, rows, decoded.raw_samples, part)
    entries = rows.filter((pl.col("kind") == ENTRY) & (pl.col("drop") == "")).select(
        "row", "ts", pl.col("level").fill_null(UNKNOWN_LEVEL), "level_read", "message"
    )
    info.entries = summary.entries = entries.height
    _count_understood(info, entries)
    _count_entries(summary, entries, part)
    if part.offset == 0:
        summary.close_file(part.file)
    events = _events(rows, entries) if want_events else None
    return summary, events


def _expects_levels(fmt: LogFormat) -> bool:
    """Whether a format's entries carry a level, so that reading none means misreading them:
    it reads one from every header (it never guesses), or it is JSON or logfmt, whose
    loggers write a level key."""
    return not fmt.infer_level or fmt.kind in (FormatKind.JSON, FormatKind.LOGFMT)


def _count_understood(info: FileInfo, entries: pl.DataFrame) -> None:
    """Count the kept entries with a timestamp, with a level read from the line, with either."""
    timed, leveled = pl.col("ts").is_not_null(), pl.col("level_read")
    counts = entries.select(
        timed=timed.sum(), leveled=leveled.sum(), understood=(timed | leveled).sum()
    )
    info.timed, info.leveled, info.understood = (int(n) for n in counts.row(0))


def _classify(decoded: Decoded, part: Part, ctx: ParseContext, filters: Filters) -> pl.DataFrame:
    """One row per line: its kind, and for entries the parsed header and filter rule."""
    # Rejected lines are parsed as "" (no header) rather than filtered out and joined back:
    # cheaper in time and memory, and the kind below looks at the reason first.
    parsed = parse_lines(decoded.text.fill_null(""), part.format, ctx)
    frame = pl.concat(
        [pl.DataFrame({"text": decoded.text, "reason": decoded.reason}), parsed],
        how="horizontal",
    ).with_row_index("row")

    text = pl.col("text")
    comment = pl.col(_IS_COMMENT)
    frame = frame.with_columns(text.str.contains(COMMENT).alias(_IS_COMMENT))
    generic = part.format.name == GENERIC_FORMAT.name
    if generic:
        looks_continued = text.str.contains(CONTINUATION)
    else:
        # A header line is an entry whatever its shape (see the kind below), so only the
        # other lines are searched for the shapes of continuation lines: most lines are
        # headers, and searching them all was a third of the cost of classifying.
        frame = frame.with_columns(
            (pl.col("header") & ~text.str.contains(INDENTED)).alias(_IS_HEADER)
        )
        others = ~frame[_IS_HEADER].fill_null(False)
        continued = _contains_where(frame["text"], others, CONTINUATION)
        frame = frame.with_columns(continued.alias(_IS_CONTINUED))
        looks_continued = pl.col(_IS_CONTINUED)
    if part.format.learned and part.format.kind is FormatKind.REGEX:
        # A layout learned from the file knows how its entries start; any other line (a
        # trace, a body, a banner not indented) belongs to the entry above, unless it starts
        # like a header and breaks off.
        looks_continued = looks_continued | (~pl.col("truncated") & ~comment)
    if generic:
        # Every line parses in the generic format; stack-trace shapes still continue, and a
        # comment line is an entry only when a timestamp is read from it.
        header = pl.col("header") & ~looks_continued & (~comment | pl.col("ts").is_not_null())
    else:
        header = pl.col(_IS_HEADER)
    # Directives are comment lines: only those are searched for one.
    directive = _contains_where(frame["text"], frame[_IS_COMMENT], DIRECTIVE)
    frame = frame.with_columns(directive.alias(_IS_DIRECTIVE))
    kind = (
        pl.when(pl.col("reason").is_not_null())
        .then(pl.col("reason").cast(_KIND))
        .when(pl.col(_IS_DIRECTIVE))
        .then(pl.lit(DIRECTIVE_LINE, _KIND))
        .when(header)
        .then(pl.lit(ENTRY, _KIND))
        .when(looks_continued)
        .then(pl.lit(CONTINUED, _KIND))
        .when(comment)
        .then(pl.lit(_COMMENT, _KIND))
        .when(pl.col("truncated"))
        .then(pl.lit(TRUNCATED, _KIND))
        .otherwise(pl.lit(UNPARSEABLE, _KIND))
    )
    # Whether a line is an entry is decided by the line alone (a part cannot make entries of
    # lines once it knows the part before). What a comment line that is no entry is, is
    # decided by the nearest line above it that is no such comment line: below an entry or
    # a continuation line it is what that line is, a part of an entry or not; at the start
    # of the part it waits for the part before; below anything else it is a directive.
    frame = frame.with_columns(kind=kind)
    waiting = pl.col("kind") == _COMMENT
    above = pl.when(~waiting).then(pl.col("kind")).shift(1).forward_fill()
    frame = frame.with_columns(
        drop=pl.when(pl.col("kind") == ENTRY).then(filters.rule_expr()),
        continues=above.is_null() | above.is_in([ENTRY, CONTINUED]),
    ).with_columns(
        # What stands before a line decides what a continuation line belongs to:
        # 1 an entry, 0 a broken line or a directive, null nothing yet (empty lines, and
        # comment lines that may continue an entry, are transparent).
        marker=pl.when(pl.col("kind") == ENTRY)
        .then(pl.lit(1, pl.Int8))
        .when(pl.col("kind").is_in([CONTINUED, EMPTY]) | (waiting & pl.col("continues")))
        .then(pl.lit(None, pl.Int8))
        .otherwise(pl.lit(0, pl.Int8)),
    )
    state = pl.col("marker").forward_fill().shift(1)
    return frame.with_columns(
        drop=pl.col("drop").forward_fill(),
        kind=pl.when(~pl.col("kind").is_in([CONTINUED, _COMMENT]))
        .then(pl.col("kind"))
        .when(waiting & ~pl.col("continues"))
        .then(pl.lit(DIRECTIVE_LINE, _KIND))
        .when(state == 1)
        .then(pl.lit(CONTINUED, _KIND))
        .when(waiting & (state == 0))
        .then(pl.lit(DIRECTIVE_LINE, _KIND))
        .when(state == 0)
        .then(pl.lit(ORPHAN, _KIND))
        .when(waiting)
        .then(pl.lit(_HEAD_COMMENT, _KIND))
        .otherwise(pl.lit(_HEAD, _KIND)),
    ).drop("continues", *_SHAPES, strict=False)


def _contains_where(texts: pl.Series, where: pl.Series, regex: str) -> pl.Series:
    """Whether each text holds a match of ``regex``, searched only where ``where`` is true;
    false elsewhere (where the caller never reads the answer)."""
    found = pl.repeat(False, len(texts), dtype=pl.Boolean, eager=True)
    rows = where.fill_null(False)
    if not rows.any():
        return found
    return found.scatter(rows.arg_true(), texts.filter(rows).str.contains(regex))


def _count_lines(
    summary: Summary, rows: pl.DataFrame, raw_samples: dict[int, bytes], part: Part
) -> None:
    """Count lines by kind: continuations, filtered entries, directives, rejections, the
    head; and say how the block ends."""
    # Work on the kind and drop columns alone: filtering the whole frame (texts and all)
    # once per kind cost more than everything else here.
    kind, drop = rows["kind"], rows["drop"]
    kept = drop == ""
    summary.continuation_lines = int(((kind == CONTINUED) & kept).sum())
    dropped = kind.is_in([ENTRY, CONTINUED]) & ~kept
    summary.filtered_lines = int(dropped.sum())
    if summary.filtered_lines:
        rules = drop.filter(dropped & (kind == ENTRY)).value_counts()
        for rule, count in rules.iter_rows():
            summary.filtered[rule] = count

    def samples(name: str) -> list[Sample]:
        first = (kind == name).arg_true().head(SAMPLES_PER_REASON)
        texts = rows["text"].gather(first).to_list()
        return [
            Sample((part.file, part.offset, row), printable(raw_samples.get(row, text or "")))
            for row, text in zip(first.to_list(), texts, strict=True)
        ]

    counts = dict(kind.value_counts().iter_rows())
    if part.format.padded:
        summary.continuation_lines += counts.pop(EMPTY, 0)
    head = Head(
        counts.pop(_HEAD, 0),
        samples(_HEAD),
        comments=counts.pop(_HEAD_COMMENT, 0),
        leading_comment=not kind.is_empty() and kind[0] == _HEAD_COMMENT,
    )
    if head.lines or head.comments:
        summary.heads[part.file] = head
    summary.directive_lines = counts.pop(DIRECTIVE_LINE, 0)
    for name, count in counts.items():
        if name not in (ENTRY, CONTINUED):
            summary.add_rejected(name, count, samples(name))

    if rows.is_empty():
        return
    blank = kind[-1] == EMPTY  # a comment line after it would be a directive
    markers = rows["marker"].drop_nulls()
    if markers.is_empty():
        summary.tails[part.file] = Tail(open=None, blank=blank)
    elif markers[-1] == 1:
        last_drop = drop.filter(kind == ENTRY)[-1]
        summary.tails[part.file] = Tail(open=True, dropped_by=last_drop or None, blank=blank)
    else:
        summary.tails[part.file] = Tail(open=False)


def _count_entries(summary: Summary, entries: pl.DataFrame, part: Part) -> None:
    """Count kept entries by level, minute and masked pattern; find the time range."""
    # Lazily, so that the expressions mask_expr shares are computed once (eagerly, each use
    # computes them again); in memory, as the streaming engine would cut the column in
    # chunks that make the grouping below slower.
    pattern = mask_expr(pl.col("message").fill_null(""))
    masked = (
        entries.lazy()
        .with_columns(pattern=pattern)
        .with_columns(key=pattern_key(pl.col("pattern")))  # of the series, and the rows'
        .collect(engine="in-memory")
    )
    micros = entries["ts"].cast(pl.Int64)
    summary.untimed_entries = micros.null_count()
    if summary.untimed_entries:
        summary.levels.update(dict(entries.group_by("level").len().iter_rows()))
    if summary.untimed_entries < entries.height:
        summary.first_ts = int(micros.min())  # type: ignore[arg-type]
        summary.last_ts = int(micros.max())  # type: ignore[arg-type]
        timed = entries.filter(pl.col("ts").is_not_null()) if summary.untimed_entries else entries
        minutes = timed.group_by(
            minute=pl.col("ts").cast(pl.Int64) // _MICROS_PER_MINUTE, level="level"
        ).len()
        for minute, level, count in minutes.iter_rows():
            summary.timeline[(minute, level)] = count
            if not summary.untimed_entries:
                # Every entry is timed: the minutes count the levels too.
                summary.levels[level] += count
    summary.patterns = (
        masked.group_by(row_key=pl.col("key") ^ level_key(pl.col("level")))
        .agg(
            pl.col("pattern", "level").first(),
            count=pl.len().cast(pl.Int64),
            row=pl.col("row").first().cast(pl.Int64),
            example=pl.col("message").first().fill_null("").str.head(_EXAMPLE_CHARS),
        )
        .select(
            "pattern",
            "level",
            "count",
            file=pl.lit(part.file),
            offset=pl.lit(part.offset, pl.Int64),
            row="row",
            example="example",
        )
        .sort("row")
    )
    if summary.untimed_entries < entries.height:
        summary.series = _series(masked)


def _series(masked: pl.DataFrame) -> pl.DataFrame:
    """Timed entries per bucket, pattern key and level (see `summary`: minutes for the fine
    levels, hours for the rest)."""
    # Minutes fit 32 bits until the year 6053; an entry dated past that is left out of the
    # series (it is still counted everywhere else).
    minute = (pl.col("ts").cast(pl.Int64) // _MICROS_PER_MINUTE).cast(pl.Int32, strict=False)
    return (
        masked.filter(minute.is_not_null())
        .group_by(
            pl.when(pl.col("level").is_in(FINE_LEVELS))
            .then(minute)
            .otherwise(minute - minute % 60)
            .alias("minute"),
            "key",
            pl.col("level").cast(SERIES_LEVEL),
        )
        .agg(count=pl.len().cast(pl.UInt32))
        .sort("minute", "key", "level")
        .select(list(SERIES_SCHEMA))
    )


def _events(rows: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    """One row per kept entry: relative line, time, level, full message, pattern."""
    continued = (
        rows.with_columns(
            # Only events need to know which entry a continuation line belongs to.
            entry_row=pl.when(pl.col("kind") == ENTRY).then(pl.col("row")).forward_fill()
        )
        .filter((pl.col("kind") == CONTINUED) & (pl.col("drop") == ""))
        .group_by("entry_row", maintain_order=True)
        .agg(pl.col("text").str.join("\n").alias("more"))
    )
    message = pl.col("message").fill_null("")
    return (
        entries.join(continued, left_on="row", right_on="entry_row", how="left")
        .sort("row")
        .lazy()  # the expressions mask_expr shares are computed once (see _count_entries)
        .select(
            "row",
            "ts",
            "level",
            pl.when(pl.col("more").is_null())
            .then(message)
            .otherwise(message + "\n" + pl.col("more"))
            .alias("message"),
            mask_expr(message).alias("pattern"),
        )
        .collect(engine="in-memory")
    )
