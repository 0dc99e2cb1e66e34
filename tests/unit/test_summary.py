"""Pattern and series tables: merging in batches gives exactly the tables of one merge of
everything."""

from __future__ import annotations

import random

import polars as pl
import pytest

import loglens.analysis.summary as summary_module
from loglens.analysis.summary import (
    PATTERN_SCHEMA,
    SERIES_SCHEMA,
    PatternStack,
    merge_patterns,
    merge_series,
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
    keys = sorted({(rng.randrange(5), rng.randrange(8), rng.choice("IWE")) for _ in range(rows)})
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
    assert merged_series.equals(merge_series(series))
    assert int(merged_series["count"].sum()) == sum(int(t["count"].sum()) for t in series)
    assert merged_series.select("minute", "key", "level").is_unique().all()
    assert not stack.compacted


def test_stack_of_nothing_is_empty() -> None:
    stack = PatternStack()
    stack.push(pl.DataFrame(schema=PATTERN_SCHEMA))
    assert stack.merged().is_empty()
    assert stack.merged().schema == pl.Schema(PATTERN_SCHEMA)
