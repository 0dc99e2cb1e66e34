"""Partial summaries of log text that merge associatively into the summary of the whole.

A `Summary` describes a contiguous part of one or more files: counts, extremes and the
earliest examples, all of which merge exactly (sums, minima, maxima, the k smallest
positions). Parts of the same file must be merged in file order; parts of different files
merge in any order.

Positions are `(file, part_offset, line_in_part)`: they sort exactly like absolute line
numbers because parts of a file are contiguous, and `line_number` turns them into 1-based
absolute numbers once the line counts of the earlier parts are known (after the merge).

The distinct message patterns are the one part that can grow with the input; past
`PATTERN_LIMIT` they are folded into templates (see there).

The *series* counts entries per time bucket, pattern and level: the raw material of trends
and anomalies. To stay small it keys patterns by a 64-bit hash (`pattern_key`) and keeps
one-minute buckets only for `FINE_LEVELS` (WARNING and above, where spikes matter);
entries of the other levels are counted per hour (their bucket is the hour's first minute).

Multi-line entries may straddle a split. A part cannot know whether its leading
continuation lines belong to an entry in the part before it, nor whether its leading
comment lines continue one or are directives of the file, so it keeps them as an
unresolved *head*, and records how it ends (its *tail*): inside an entry or not, and on an
empty line or not (a comment line after an empty line is a directive). A part whose every
line waits so passes the tail of the part before it through. `merge` resolves the head of
the later part against the tail of the earlier one, which is what makes the result
independent of where the splits fall.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from itertools import pairwise

import polars as pl

from loglens.analysis.templates import build_templates
from loglens.analysis.vocabulary import FINE_LEVELS as FINE_LEVELS  # where the series is made
from loglens.analysis.vocabulary import LEVEL_ORDER

SAMPLES_PER_REASON = 3
UNKNOWN_LEVEL = "UNKNOWN"
ORPHAN = "orphan_continuation"

Position = tuple[str, int, int]


@dataclass(frozen=True)
class Sample:
    """A line kept as an example: where it is and (a printable prefix of) what it says."""

    pos: Position
    text: str


# One row per (masked pattern, level): how many entries, and the earliest one (its position
# and message). Kept as a frame so that merging is a concat and a group_by in Rust.
PATTERN_SCHEMA = {
    "pattern": pl.String,
    "level": pl.String,
    "count": pl.Int64,
    "file": pl.String,
    "offset": pl.Int64,
    "row": pl.Int64,
    "example": pl.String,
}
_POSITION = ("file", "offset", "row")
# Beyond this many (pattern, level) rows a summary folds its patterns into their templates,
# so that memory stays bounded whatever the input. Below it, merging is exact; above it,
# the templates are those of the patterns seen so far, which may group a little
# differently from one clustering of everything (the report says so).
PATTERN_LIMIT = 200_000
# A pattern stack merges the tables pushed once they hold this many rows (or more, see there).
_FOLD_FROM_ROWS = 32_768

# One row per (bucket, pattern key, level): how many entries. `minute` is minutes since
# the epoch; for levels below `FINE_LEVELS` it is the first minute of the hour.
# Compact types (20 bytes a row instead of 40): a gigabyte of log makes most of a million
# rows, merged several times over in the parent process.
SERIES_LEVEL = pl.Enum(LEVEL_ORDER)
SERIES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "minute": pl.Int32,
    "key": pl.UInt64,
    "level": SERIES_LEVEL,
    "count": pl.UInt32,
}
_SERIES_KEYS = ("minute", "key", "level")


# Patterns replaced by their templates when a summary compacted them: each raw pattern and
# the key it is counted under now (what an entry of that pattern is counted as).
ALIAS_SCHEMA = {"pattern": pl.String, "alias": pl.String}


def empty_aliases() -> pl.DataFrame:
    """An alias table with no rows."""
    return pl.DataFrame(schema=ALIAS_SCHEMA)


def follow_aliases(aliases: pl.DataFrame, renamed: pl.DataFrame) -> pl.DataFrame:
    """Aliases after a compaction that `renamed` patterns (pattern -> alias): the old ones
    point at the new names, and the renamed patterns are added."""
    if renamed.is_empty():
        return aliases
    new_names = renamed.rename({"pattern": "alias", "alias": "new"})
    moved = aliases.join(new_names, on="alias", how="left")
    updated = moved.select("pattern", alias=pl.col("new").fill_null(pl.col("alias")))
    both = pl.concat([updated, renamed.select(list(ALIAS_SCHEMA))])
    return both.unique("pattern", keep="first", maintain_order=True)


def pattern_key(patterns: pl.Expr) -> pl.Expr:
    """The 64-bit key of each pattern in the series (the same in every process)."""
    return patterns.hash(seed=0)


def row_key(patterns: pl.Expr, levels: pl.Expr) -> pl.Expr:
    """One 64-bit key per (pattern, level): grouping by it takes half the time of grouping by
    the two strings. Like the series' `pattern_key`, it assumes no two of them share a
    key (the odds: about 3e-8 for a million distinct patterns)."""
    return pattern_key(patterns) ^ level_key(levels)


def level_key(levels: pl.Expr) -> pl.Expr:
    """What a level adds to its pattern's key in `row_key`."""
    return levels.hash(seed=1)


def empty_series() -> pl.DataFrame:
    """A series table with no rows."""
    return pl.DataFrame(schema=SERIES_SCHEMA)


def merge_series(tables: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge series tables into the first: counts add up (rows in no particular order).

    Later parts of a log are later in time: rows of the first table before the hour in
    which the others begin cannot meet any of theirs, so only the rest is folded (the
    series of a gigabyte is merged piece by piece, never whole).
    """
    tables = [table for table in tables if not table.is_empty()]
    if len(tables) <= 1:
        return tables[0] if tables else empty_series()
    first, rest = tables[0], pl.concat(tables[1:])
    begins = int(rest["minute"].min())  # type: ignore[arg-type]
    begins -= begins % 60  # coarse levels are counted per hour, in its first minute
    recent = first["minute"] >= begins
    if not recent.any():
        return pl.concat([first, _fold_series(rest)])
    settled = first.filter(~recent)
    return pl.concat([settled, _fold_series(pl.concat([first.filter(recent), rest]))])


def _fold_series(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per (minute, key, level), counts summed, in no particular order (see
    `sorted_series`)."""
    # The streaming engine: the in-memory group-by of a million rows took 2-3 times the
    # memory of its input and result together (measured: +270 MiB against +90 MiB).
    folded = rows.lazy().group_by(_SERIES_KEYS).agg(pl.col("count").sum())
    return folded.select(list(SERIES_SCHEMA)).collect(engine="streaming")


def sorted_series(table: pl.DataFrame) -> pl.DataFrame:
    """A series table in its canonical order: minute, key, level."""
    return table.sort(_SERIES_KEYS)


def empty_patterns() -> pl.DataFrame:
    """A pattern table with no rows."""
    return pl.DataFrame(schema=PATTERN_SCHEMA)


def merge_patterns(tables: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge pattern tables: counts add up, the earliest example wins.

    Rows come out ordered by the position of their example, a canonical order, so equal
    summaries have equal tables however they were merged.
    """
    tables = [table for table in tables if not table.is_empty()]
    if len(tables) <= 1:
        return tables[0] if tables else empty_patterns()
    return _fold(pl.concat(tables), ordered=_follow_each_other(tables))


def _follow_each_other(tables: Sequence[pl.DataFrame]) -> bool:
    """Whether each table begins after the one before it ends. Every pattern table is in
    canonical order, so their concatenation then is too: the parts of one file merged in
    file order, as the processor merges them."""
    positions = [table.select(_POSITION) for table in tables]
    return all(earlier.row(-1) < later.row(0) for earlier, later in pairwise(positions))


class PatternStack:
    """Pattern and series tables merged in batches: the tables pushed wait until they hold
    half as many rows as the table merged so far (at least ``_FOLD_FROM_ROWS``), then are
    merged with it at once. Each row is merged about three times, however many tables come
    (merging is commutative: counts add, the earliest example wins); merging in tiers of
    pairs merged each row once per tier and cost three times as much. Waiting for as many
    rows as the merged table halved the merges again but raised the peak memory of the
    merge. Series tables are batched the same way, on their own: they keep growing with
    time while the patterns of a log stop growing, so waiting for the patterns would merge
    the whole series again for every few blocks.

    With `aliases` false the stack keeps no aliases: only the events of each entry need
    them (to count an entry's raw pattern under its template), and past each compaction
    they grow by every pattern renamed, without bound, while the tables stay bounded.
    """

    def __init__(self, first: Summary | None = None, aliases: bool = True) -> None:
        self._keep_aliases = aliases
        self._merged = empty_patterns()
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        # Series rows before the hour the latest tables begin in are settled (see
        # `merge_series`): kept as they are, in pieces; only the recent rows are folded.
        self._settled_series: list[pl.DataFrame] = []
        self._settled_until = -(2**31)  # every settled row is before this minute
        self._merged_series = empty_series()  # the recent rows
        self._series_sorted = True  # in canonical order (as a summary's own table is)
        self._pending_series: list[pl.DataFrame] = []
        self._pending_series_rows = 0
        self.aliases = empty_aliases()
        self.compacted = False
        if first is not None:
            self.push(first.patterns, first.series, first.aliases)

    def push(
        self,
        table: pl.DataFrame,
        series: pl.DataFrame | None = None,
        aliases: pl.DataFrame | None = None,
    ) -> None:
        """Add tables; merge the waiting ones once they are half as big as the merged ones."""
        if self._keep_aliases and aliases is not None and not aliases.is_empty():
            both = pl.concat([self.aliases, aliases])
            self.aliases = both.unique("pattern", keep="first", maintain_order=True)
        if series is not None and not series.is_empty():
            self._pending_series.append(series)
            self._pending_series_rows += series.height
            if self._pending_series_rows >= _FOLD_FROM_ROWS:
                self._merge_series()
        if table.is_empty():
            return
        self._pending.append(table)
        self._pending_rows += table.height
        if 2 * self._pending_rows >= max(self._merged.height, 2 * _FOLD_FROM_ROWS):
            self._merge_pending()

    def merged(self) -> pl.DataFrame:
        """All pattern tables merged into one."""
        self._merge_pending()
        return self._merged

    def merged_series(self) -> pl.DataFrame:
        """All series tables merged into one, in canonical order (keyed like the patterns
        of `merged`)."""
        self._merge_pending()
        self._merge_series()
        self._settle_all()
        if not self._series_sorted:
            self._merged_series = sorted_series(self._merged_series)
            self._series_sorted = True
        return self._merged_series

    def _merge_series(self) -> None:
        if not self._pending_series:
            return
        pending, self._pending_series, self._pending_series_rows = self._pending_series, [], 0
        if len(pending) == 1 and self._merged_series.is_empty() and not self._settled_series:
            self._merged_series = pending[0]  # a summary's table: folded and sorted already
            return
        self._series_sorted = False
        rest = pl.concat(pending)
        begins = int(rest["minute"].min())  # type: ignore[arg-type]
        begins -= begins % 60  # coarse levels are counted per hour, in its first minute
        if begins < self._settled_until:  # out of time order: fold everything again
            self._settle_all()
            self._merged_series = _fold_series(pl.concat([self._merged_series, rest]))
            return
        recent = self._merged_series["minute"] >= begins
        if not recent.all():
            self._settled_series.append(self._merged_series.filter(~recent))
            self._settled_until = begins
        self._merged_series = _fold_series(pl.concat([self._merged_series.filter(recent), rest]))

    def _settle_all(self) -> None:
        """Put the settled pieces back into one table with the recent rows: they hold
        disjoint minutes, so this is a concatenation."""
        if self._settled_series:
            self._merged_series = pl.concat([*self._settled_series, self._merged_series])
            self._settled_series, self._settled_until = [], -(2**31)

    def _merge_pending(self) -> None:
        if not self._pending:
            return
        table = merge_patterns([self._merged, *self._pending])
        if table.height > PATTERN_LIMIT:
            self._merge_series()  # every series row must follow its pattern to its template
            self._settle_all()
            table, self._merged_series, renamed = compact_patterns(table, self._merged_series)
            if self._keep_aliases:
                self.aliases = follow_aliases(self.aliases, renamed)
            self._series_sorted = False
            self.compacted = True
        self._merged, self._pending, self._pending_rows = table, [], 0


def compact_patterns(
    table: pl.DataFrame, series: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Replace each pattern by its template and fold the rows that become equal, in the
    pattern table and in the series (whose keys follow their patterns); also return the
    patterns renamed (pattern -> alias)."""
    templates = build_templates(dict.fromkeys(table["pattern"].unique().to_list(), 1))
    names = pl.DataFrame(
        {"pattern": list(templates), "template": [t.text for t in templates.values()]},
        schema={"pattern": pl.String, "template": pl.String},
    )
    renamed = table.join(names, on="pattern", how="left").with_columns(
        pattern=pl.col("template").fill_null(pl.col("pattern"))
    )
    folded = _fold(renamed.select(list(PATTERN_SCHEMA)))
    aliases = names.filter(pl.col("pattern") != pl.col("template")).select(
        "pattern", alias="template"
    )
    if series is None or series.is_empty():
        return folded, empty_series() if series is None else series, aliases
    keys = names.select(
        key=pattern_key(pl.col("pattern")), new_key=pattern_key(pl.col("template"))
    ).filter(pl.col("key") != pl.col("new_key"))
    rekeyed = series.join(keys, on="key", how="left").with_columns(
        key=pl.col("new_key").fill_null(pl.col("key"))
    )
    return folded, _fold_series(rekeyed.select(list(SERIES_SCHEMA))), aliases


def _fold(rows: pl.DataFrame, ordered: bool = False) -> pl.DataFrame:
    """One row per (pattern, level): counts summed, the earliest example kept. `ordered`:
    the rows are in canonical order already (a sort less, a fifth of the fold)."""
    merged = (
        (rows if ordered else rows.sort(_POSITION))
        .group_by(row_key=row_key(pl.col("pattern"), pl.col("level")), maintain_order=True)
        .agg(pl.col("count").sum(), pl.col("pattern", "level", *_POSITION, "example").first())
        .select(list(PATTERN_SCHEMA))
    )
    # Polars strings are views into shared buffers: a table kept from merge to merge would
    # pin the whole buffer of every table that gave it a row. Rare patterns come from late
    # blocks, so even a small table pinned most of them (38 MiB of the parent's 110 on a
    # gigabyte). Concatenation writes fresh strings, and costs little next to the sort.
    return merged.with_columns(pl.col("pattern", "example") + pl.lit(""))


@dataclass(frozen=True)
class Tail:
    """How a part ends: inside an entry (open) or not, or as the part before it ended (None:
    every line of it waits for that); the filter that entry fell to; and whether its last
    line is empty (never said of a closed end, so that equal ends compare equal)."""

    open: bool | None
    dropped_by: str | None = None
    blank: bool = False

    def then(self, later: Tail) -> Tail:
        """How a part that ends like this one and then holds `later`'s lines ends."""
        if later.open is not None:
            return later
        if self.open:
            return Tail(True, self.dropped_by, later.blank)
        return self if self.open is False else later


@dataclass
class FileInfo:
    """What was found in one file: its format, the count of its lines and entries, and how
    much of them was understood (counts of kept entries, so that they merge by adding)."""

    format: str
    layout: str = ""  # the format's one-line description (a learned one says what it learned)
    expects_levels: bool = False  # its lines carry a level: none read means misread
    bytes: int = 0
    lines: int = 0
    entries: int = 0
    timed: int = 0  # entries with a timestamp
    leveled: int = 0  # entries whose level was read from the line, not guessed
    understood: int = 0  # entries with a timestamp or a read level

    @property
    def confidence(self) -> float:
        """The share of entries understood (0.0 without entries): the format's coverage."""
        return self.understood / self.entries if self.entries else 0.0

    def add(self, later: FileInfo) -> None:
        """Add the counts of a later part of the same file."""
        self.bytes += later.bytes
        self.lines += later.lines
        self.entries += later.entries
        self.timed += later.timed
        self.leveled += later.leveled
        self.understood += later.understood


@dataclass
class Head:
    """The lines at the start of a part that wait for the part before it: continuation
    lines not yet known to belong to an entry (`lines`), comment lines not yet known to
    continue one (`comments`), and whether the part's first line is such a comment line."""

    lines: int = 0
    samples: list[Sample] = field(default_factory=list)
    comments: int = 0
    leading_comment: bool = False

    def extend(self, later: Head) -> None:
        """Take in the head of a later part whose lines all wait too."""
        self.lines += later.lines
        self.comments += later.comments
        self.samples = sorted(self.samples + later.samples, key=_by_pos)[:SAMPLES_PER_REASON]


@dataclass(eq=False)
class Summary:
    """Mergeable statistics of some log text; see the module docstring."""

    lines: int = 0
    bytes: int = 0
    entries: int = 0
    continuation_lines: int = 0
    directive_lines: int = 0
    untimed_entries: int = 0
    levels: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    rejected_samples: dict[str, list[Sample]] = field(default_factory=dict)
    filtered: Counter[str] = field(default_factory=Counter)
    filtered_lines: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    timeline: Counter[tuple[int, str]] = field(default_factory=Counter)
    patterns: pl.DataFrame = field(default_factory=empty_patterns)
    series: pl.DataFrame = field(default_factory=empty_series)
    aliases: pl.DataFrame = field(default_factory=empty_aliases)
    patterns_compacted: bool = False
    files: dict[str, FileInfo] = field(default_factory=dict)
    part_lines: dict[tuple[str, int], int] = field(default_factory=dict)
    heads: dict[str, Head] = field(default_factory=dict)
    tails: dict[str, Tail] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Summary):
            return NotImplemented
        return all(
            getattr(self, f.name).equals(getattr(other, f.name))
            if f.name == "patterns"
            else sorted_series(self.series).equals(sorted_series(other.series))
            if f.name == "series"
            else self.aliases.sort("pattern").equals(other.aliases.sort("pattern"))
            if f.name == "aliases"
            else getattr(self, f.name) == getattr(other, f.name)
            for f in fields(self)
        )

    def merge(self, later: Summary) -> Summary:
        """Return the summary of this part followed by `later` (neither is changed)."""
        merged = copy.deepcopy(self)
        merged.absorb(later)
        return merged

    def absorb(self, later: Summary, aliases: bool = True) -> None:
        """Merge `later`, a part that follows this one, into this summary in place (without
        `aliases`, keeping none: see `PatternStack`)."""
        self.absorb_all([later], aliases)

    def absorb_all(self, parts: Sequence[Summary], aliases: bool = True) -> None:
        """Merge parts that follow this one, in order; pattern tables are merged at once."""
        stack = PatternStack(self, aliases)
        for later in parts:
            self.absorb_counts(later)
            stack.push(later.patterns, later.series, later.aliases)
        self.take_tables(stack)

    def take_tables(self, stack: PatternStack) -> None:
        """Hold the pattern and series tables merged by `stack`."""
        self.patterns = stack.merged()
        self.series = stack.merged_series()
        self.aliases = stack.aliases
        self.patterns_compacted |= stack.compacted

    def pattern_counts(self) -> dict[str, int]:
        """Entries per masked pattern, all levels together."""
        totals = self.patterns.group_by("pattern").agg(pl.col("count").sum())
        return dict(totals.iter_rows())

    def absorb_counts(self, later: Summary) -> None:
        """Merge everything of `later`, a part that follows, but its pattern table."""
        self.patterns_compacted |= later.patterns_compacted
        for name in later.tails:
            self._join_chain(name, later.heads.get(name, Head()), later.tails[name])
        self.lines += later.lines
        self.bytes += later.bytes
        self.entries += later.entries
        self.continuation_lines += later.continuation_lines
        self.directive_lines += later.directive_lines
        self.untimed_entries += later.untimed_entries
        self.levels.update(later.levels)
        self.repaired.update(later.repaired)
        self.filtered.update(later.filtered)
        self.filtered_lines += later.filtered_lines
        self.timeline.update(later.timeline)
        self.part_lines.update(later.part_lines)
        for reason, count in later.rejected.items():
            self.add_rejected(reason, count, later.rejected_samples.get(reason, []))
        self.first_ts = _pick(min, self.first_ts, later.first_ts)
        self.last_ts = _pick(max, self.last_ts, later.last_ts)
        for name, info in later.files.items():
            have = self.files.get(name)
            if have is None:
                self.files[name] = copy.copy(info)
            else:
                have.add(info)

    def add_rejected(self, reason: str, count: int, samples: list[Sample]) -> None:
        """Count `count` rejected lines for `reason`, keeping the earliest samples."""
        if count <= 0:
            return
        self.rejected[reason] += count
        kept = self.rejected_samples.get(reason, []) + samples
        self.rejected_samples[reason] = sorted(kept, key=_by_pos)[:SAMPLES_PER_REASON]

    def _join_chain(self, name: str, head: Head, later_tail: Tail) -> None:
        """Resolve the head of a later part of file `name` and take its tail."""
        tail = self.tails.get(name)
        if tail is None:
            # Nothing of this file before it: its head stays unresolved, its tail is ours.
            if head.lines or head.comments:
                self.heads[name] = copy.deepcopy(head)
            self.tails[name] = later_tail
            return
        if tail.blank and head.leading_comment:
            # Its first line is a comment line after an empty line: a directive, so
            # whatever waits after it follows no entry.
            tail = Tail(open=False)
        elif tail.open is None:
            # Every line of this file so far waits: the two heads are one.
            if head.lines or head.comments:
                self.heads.setdefault(name, Head()).extend(head)
            self.tails[name] = later_tail
            return
        self._settle(head, tail)
        self.tails[name] = tail.then(later_tail)

    def _settle(self, head: Head, tail: Tail) -> None:
        """Count the lines of a head that follows a part ending as `tail` says."""
        if tail.open and tail.dropped_by is None:
            self.continuation_lines += head.lines + head.comments
        elif tail.open:
            self.filtered_lines += head.lines + head.comments
        else:
            self.add_rejected(ORPHAN, head.lines, head.samples)
            self.directive_lines += head.comments

    def close_file(self, name: str) -> None:
        """Declare that this summary holds all of file `name` from its first byte."""
        head = self.heads.pop(name, None)
        start = Tail(open=False)  # what a file's first line follows: no entry
        if head is not None:
            self._settle(head, start)
        self.tails[name] = start.then(self.tails.get(name, start))

    def line_number(self, pos: Position) -> int:
        """Return the 1-based line number in its file of a position held by this summary."""
        name, offset, line = pos
        before = sum(n for (f, off), n in self.part_lines.items() if f == name and off < offset)
        return before + line + 1


def _by_pos(sample: Sample) -> Position:
    return sample.pos


def _pick(choose: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)
