"""Time cut into buckets, and the robust baseline each bucket is judged against."""

from __future__ import annotations

import math

import polars as pl

from loglens.analysis.anomalies.model import (
    BUCKET_MINUTES,
    HISTORY_BUCKETS,
    MAX_BUCKETS,
    MIN_HISTORY,
    MIN_MEAN_PER_BUCKET,
)
from loglens.analysis.vocabulary import LEVEL_ORDER


def choose_bucket(first_minute: int, last_minute: int, entries: int) -> int:
    """The bucket size (minutes) for a log of `entries` between these minutes."""
    span = last_minute - first_minute + 1
    for minutes in BUCKET_MINUTES:
        buckets = math.ceil(span / minutes)
        if buckets <= MAX_BUCKETS and entries >= MIN_MEAN_PER_BUCKET * buckets:
            return minutes
    return BUCKET_MINUTES[-1]


def buckets(timeline: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Counts per bucket and level, every bucket of the span present (zeros included), and
    the share of each that the log's span covers."""
    first, last = int(timeline["minute"].min()), int(timeline["minute"].max())  # type: ignore[arg-type]
    bucket = choose_bucket(first, last, int(timeline["count"].sum()))
    origin = first - first % bucket
    counts = (
        timeline.with_columns(index=(pl.col("minute") - origin) // bucket)
        .group_by("index", "level")
        .agg(pl.col("count").sum())
        .pivot(on="level", index="index", values="count")
    )
    buckets = pl.DataFrame({"index": pl.int_range(0, (last - origin) // bucket + 1, eager=True)})
    frame = buckets.join(counts, on="index", how="left").with_columns(
        pl.lit(0, pl.Int64).alias(level) for level in LEVEL_ORDER if level not in counts.columns
    )
    frame = frame.with_columns(pl.col(LEVEL_ORDER).fill_null(0).cast(pl.Int64)).with_columns(
        start=origin + pl.col("index") * bucket, total=pl.sum_horizontal(LEVEL_ORDER)
    )
    # The share of each bucket inside the log's span: the first and last buckets may be
    # cut by its first and last minutes, and hold fewer entries for that alone.
    inside = pl.min_horizontal(pl.col("start") + bucket, last + 1) - pl.max_horizontal(
        pl.col("start"), first
    )
    return frame.with_columns(covered=inside / bucket).sort("index"), bucket


def baseline(values: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The robust baseline of each bucket from the buckets before it: median and spread."""
    before = values.shift(1)
    median = before.rolling_median(HISTORY_BUCKETS, min_samples=MIN_HISTORY)
    q1 = before.rolling_quantile(0.25, window_size=HISTORY_BUCKETS, min_samples=MIN_HISTORY)
    q3 = before.rolling_quantile(0.75, window_size=HISTORY_BUCKETS, min_samples=MIN_HISTORY)
    # A count's own noise is at least Poisson's; the +1s keep small counts (a median of 1
    # or 0 errors a minute) from making every handful of errors a spike.
    spread = pl.max_horizontal((q3 - q1) / 1.349, (median + 1).sqrt() + 1)
    return median, spread


def runs(flags: pl.DataFrame) -> list[pl.DataFrame]:
    """Split the flagged bucket rows (sorted by index) into runs of consecutive buckets."""
    if flags.is_empty():
        return []
    numbered = flags.with_columns(run=(pl.col("index").diff().fill_null(1) != 1).cum_sum())
    return list(numbered.partition_by("run", maintain_order=True))
