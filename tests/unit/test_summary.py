"""Pattern and series tables: merging in batches gives exactly the tables of one merge of
everything; the counts of a file add up; lines waiting at the start of a part are settled by
how the part before ends."""

from __future__ import annotations

import random

import polars as pl
import pytest

import loglens.analysis.summary as summary_module
from loglens.analysis.summary import (
    PATTERN_SCHEMA,
    SERIES_SCHEMA,
    FileInfo,
    Head,
    PatternStack,
    Summary,
    Tail,
    merge_patterns,
    merge_series,
    sorted_series,
)


def block_table(offset: int, rng: random.Random, rows: int) -> pl.DataFrame:
    """A pattern table as one block yields it: one row per (pattern, level), by row."""
    keys = sorted({(f"pattern {rng.randrange(40)}", rng.choice("IWE")) for _ in range(rows)})
    rng.shuffle(keys)
    return pl.DataFrame(
        {
            "pattern": [pattern for pattern, _ in keys],
            "level": [level for _, level in keys],
            "count": [rng.randrange(1, 9) for _ in keys],
            "file": ["app.log"] * len(keys),
            "offset": [offset] * len(keys),
            "row": list(range(len(keys))),
            "example": [f"{pattern} at {offset}" for pattern, _ in keys],
        },
        schema=PATTERN_SCHEMA,
    )


def block_series(rng: random.Random, rows: int) -> pl.DataFrame:
    """A series table as one block yields it: one row per (minute, key, level)."""
    levels = ("INFO", "WARNING", "ERROR")
    keys = sorted({(rng.randrange(5), rng.randrange(8), rng.choice(levels)) for _ in range(rows)})
    return pl.DataFrame(
        {
            "minute": [minute for minute, _, _ in keys],
            "key": [key for _, key, _ in keys],
            "level": [level for _, _, level in keys],
            "count": [rng.randrange(1, 9) for _ in keys],
        },
        schema=SERIES_SCHEMA,
    )


@pytest.mark.parametrize("fold_from_rows", [1, 7, 1_000_000])
def test_stack_merges_into_the_table_of_one_merge(
    fold_from_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_module, "_FOLD_FROM_ROWS", fold_from_rows)
    rng = random.Random(fold_from_rows)
    tables = [block_table(offset * 100, rng, rng.randrange(0, 30)) for offset in range(40)]
    series = [block_series(rng, rng.randrange(0, 30)) for _ in tables]
    stack = PatternStack()
    for table, counts in zip(tables, series, strict=True):
        stack.push(table, counts)
    merged = stack.merged()
    assert merged.equals(merge_patterns(tables))
    assert int(merged["count"].sum()) == sum(int(table["count"].sum()) for table in tables)
    merged_series = stack.merged_series()
    assert merged_series.equals(sorted_series(merge_series(series)))
    assert int(merged_series["count"].sum()) == sum(int(t["count"].sum()) for t in series)
    assert merged_series.select("minute", "key", "level").is_unique().all()
    assert not stack.compacted


def test_tables_in_file_order_merge_as_tables_in_any_order() -> None:
    # In file order the merge skips its sort; out of order it sorts: the same table, with
    # each pattern's earliest example and rows in the order of those examples.
    rng = random.Random(3)
    tables = [block_table(offset * 100, rng, rng.randrange(1, 30)) for offset in range(12)]
    in_order = merge_patterns(tables)
    assert in_order.equals(merge_patterns(tables[::-1]))
    assert in_order.equals(merge_patterns(rng.sample(tables, len(tables))))
    first = in_order.row(0, named=True)
    assert (first["offset"], first["row"]) == (0, 0)
    assert in_order.select("offset", "row").rows() == sorted(
        in_order.select("offset", "row").rows()
    )


def test_stack_of_nothing_is_empty() -> None:
    stack = PatternStack()
    stack.push(pl.DataFrame(schema=PATTERN_SCHEMA))
    assert stack.merged().is_empty()
    assert stack.merged().schema == pl.Schema(PATTERN_SCHEMA)


def time_ordered_series(rng: random.Random, first_minute: int, rows: int) -> pl.DataFrame:
    """A block's series as a log in time order yields it: fine levels per minute from
    `first_minute` on, INFO in the first minute of its hour."""
    counts: dict[tuple[int, int, str], int] = {}
    for _ in range(rows):
        minute = first_minute + rng.randrange(30)
        level = rng.choice(("INFO", "WARNING", "ERROR"))
        if level == "INFO":
            minute -= minute % 60
        key = (minute, rng.randrange(6), level)
        counts[key] = counts.get(key, 0) + 1
    items = sorted(counts.items())
    return pl.DataFrame(
        {
            "minute": [m for (m, _, _), _ in items],
            "key": [k for (_, k, _), _ in items],
            "level": [lv for (_, _, lv), _ in items],
            "count": [c for _, c in items],
        },
        schema=SERIES_SCHEMA,
    )


@pytest.mark.parametrize("out_of_order", [False, True])
def test_series_of_a_log_in_time_order_merge_exactly_piece_by_piece(
    out_of_order: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_module, "_FOLD_FROM_ROWS", 20)
    rng = random.Random(7)
    # Blocks of a log: each starts a little after the one before (overlapping minutes and
    # shared hours), so rows settle along the way; one late block goes back in time.
    series = [time_ordered_series(rng, 25 * number, 40) for number in range(30)]
    if out_of_order:
        series.insert(20, time_ordered_series(rng, 100, 40))
    stack = PatternStack()
    for counts in series:
        stack.push(pl.DataFrame(schema=PATTERN_SCHEMA), counts)
    merged = stack.merged_series()
    everything = pl.concat(series).group_by("minute", "key", "level").agg(pl.col("count").sum())
    assert merged.equals(sorted_series(everything.select(list(SERIES_SCHEMA))))
    assert merged.select("minute", "key", "level").is_unique().all()
    assert int(merged["count"].sum()) == sum(int(t["count"].sum()) for t in series)


def test_file_info_counts_add_up_and_confidence_follows_them() -> None:
    layout = "Java log4j/logback: ts LEVEL [thread] logger: message"
    first = FileInfo("log4j", layout, True, bytes=10, lines=4, entries=4, timed=4, understood=4)
    later = FileInfo("log4j", layout, True, bytes=5, lines=2, entries=2, leveled=2, understood=2)
    head, tail = Summary(files={"app.log": first}), Summary(files={"app.log": later})
    merged = head.merge(tail).files["app.log"]
    assert (merged.bytes, merged.lines, merged.entries) == (15, 6, 6)
    assert (merged.timed, merged.leveled, merged.understood) == (4, 2, 6)
    assert merged.confidence == 1.0
    assert head.files["app.log"].entries == 4  # merge changes neither part


def part_with_head(comments: int, blank_end: bool = False) -> Summary:
    """A later part of app.log: `comments` comment lines first, waiting; then it decides."""
    return Summary(
        lines=comments + 1,
        heads={"app.log": Head(comments=comments, leading_comment=True)},
        tails={"app.log": Tail(open=True, blank=blank_end)},
    )


@pytest.mark.parametrize(
    ("ending", "continued", "directives"),
    [
        (Tail(open=True), 2, 0),  # right below an entry: they continue it
        (Tail(open=True, blank=True), 0, 2),  # below an empty line: directives
        (Tail(open=False), 0, 2),  # below a broken line: directives
    ],
)
def test_waiting_comment_lines_are_settled_by_how_the_part_before_ends(
    ending: Tail, continued: int, directives: int
) -> None:
    earlier = Summary(lines=1, tails={"app.log": ending})
    merged = earlier.merge(part_with_head(2))
    assert (merged.continuation_lines, merged.directive_lines) == (continued, directives)
    assert merged.heads == {}
    assert merged.tails["app.log"] == Tail(open=True)  # the later part's own end


def test_comment_lines_wait_through_a_part_that_decides_nothing() -> None:
    first = Summary(lines=1, tails={"app.log": Tail(open=True)})
    # Its lines all wait (a comment line), the last one is empty: the next part's comment
    # lines are directives whatever comes before, its own comment line is not.
    through = Summary(
        lines=2,
        heads={"app.log": Head(comments=1, leading_comment=True)},
        tails={"app.log": Tail(open=None, blank=True)},
    )
    later = part_with_head(3)
    for merged in (first.merge(through).merge(later), first.merge(through.merge(later))):
        assert (merged.continuation_lines, merged.directive_lines) == (1, 3)
    closed = through.merge(later)
    closed.close_file("app.log")  # at the start of the file: all four are directives
    assert (closed.continuation_lines, closed.directive_lines) == (0, 4)
