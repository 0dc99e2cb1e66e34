"""Anomalies of how much is logged: error and volume spikes (with the templates that
cause them), silences, and an upload's error share against its source's history."""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from loglens.analysis.anomalies.buckets import baseline, runs
from loglens.analysis.anomalies.model import (
    CAUSE_SHARE,
    CAUSE_TEMPLATES,
    ERROR_LEVELS,
    HABIT_ACTIVE_SHARE,
    HISTORY_BUCKETS,
    RARE_MIN_ENTRIES,
    ROUTINE_LEVELS,
    SILENCE_EXPECTED,
    SILENCE_MINUTES,
    SILENCE_SHARE,
    SPIKE_MIN_EXCESS,
    SPIKE_RATIO,
    SPIKE_SCORE,
    Anomaly,
    Context,
    History,
    cause_name,
    clock,
    examples,
    window,
)
from loglens.analysis.vocabulary import FINE_LEVELS, MICROS_PER_MINUTE


def spikes(ctx: Context, kind: str, values: pl.Expr, levels: Sequence[str]) -> None:
    """Runs of buckets far above their baseline."""
    median, spread = baseline(values)
    scored = ctx.frame.with_columns(value=values, median=median, spread=spread).with_columns(
        score=(pl.col("value") - pl.col("median")) / pl.col("spread")
    )
    # Only where the log is usually active: in a log of scattered bursts every burst
    # would stand out against the empty buckets between them.
    active, _ = baseline(pl.col("total"))
    flagged = scored.filter(
        (pl.col("score") >= SPIKE_SCORE)
        & (pl.col("value") >= SPIKE_RATIO * pl.col("median") + SPIKE_MIN_EXCESS)
        & (active > 0)
    )
    what = "ERROR rate" if kind == "error_spike" else "Volume"
    for run in runs(flagged):
        start, end = window(ctx, run)
        observed = int(run["value"].sum())
        expected = float(run["median"].sum())
        ratio = observed / max(expected, 1.0)
        named_causes = causes(ctx, start, end, levels, run.height)
        if named_causes:
            # A burst of a template this source already bursts with now and then is its
            # routine, whatever the template's level: not news, and no entry of it is flagged.
            named_causes = [c for c in named_causes if not habitual_burst(ctx, c[0], start)]
            if not named_causes:
                continue
            if kind == "error_spike":
                # A template this source also logs as routine (below WARNING) does not show
                # an error by its level alone: it is not named as the error's cause.
                named_causes = [c for c in named_causes if not _also_routine(ctx, c[0])]
        named = "; mostly " + ", ".join(cause_name(ctx, t, share) for t, share in named_causes)
        between = f"between {clock(start)} and {clock(end)}"
        if expected < 0.5:
            explanation = (
                f"{what} jumped: {observed:,} entries {between}, where there are usually none"
            )
        else:
            explanation = (
                f"{what} {ratio:.0f}x the usual {between}"
                f" ({observed:,} entries, about {expected:,.0f} expected)"
            )
        explanation += named if named_causes else ""
        ids = tuple(tid for tid, _ in named_causes)
        # A flood is an anomaly of the log, not of its lines: a volume spike flags no entry
        # (its errors, when they rose too, are flagged by the error spike).
        flags_entries = kind == "error_spike" and bool(ids)
        ctx.found.append(
            Anomaly(
                kind,
                float(run["score"].max()),  # type: ignore[arg-type]
                start,
                end,
                explanation,
                ids,
                tuple(level for level in levels if level in FINE_LEVELS) if flags_entries else (),
                examples(ctx.templates, ids),
            )
        )


def silences(ctx: Context) -> None:
    """Runs of buckets with next to nothing where the baseline expects plenty."""
    median, _ = baseline(pl.col("total"))
    # A bucket the log ends in (or starts in) is expected to hold only its covered share.
    scored = ctx.frame.with_columns(expected=median * pl.col("covered"))
    quiet = scored.filter(
        pl.col("expected").is_not_null()
        & (pl.col("expected") > 0)
        & (pl.col("total") <= SILENCE_SHARE * pl.col("expected"))
    )
    for run in runs(quiet):
        expected = float(run["expected"].sum())
        minutes = float(run["covered"].sum()) * ctx.bucket
        if minutes < SILENCE_MINUTES or expected < SILENCE_EXPECTED:
            continue
        observed = int(run["total"].sum())
        start, end = window(ctx, run)
        ctx.found.append(
            Anomaly(
                "silence",
                expected / (observed + 1),
                start,
                end,
                f"Silence between {clock(start)} and {clock(end)}: {observed:,} entries"
                f" where about {expected:,.0f} were expected",
            )
        )


def error_share(timeline: pl.DataFrame, history: History) -> list[Anomaly]:
    """This upload's share of ERROR+CRITICAL entries against earlier uploads of its source."""
    if history.entries < RARE_MIN_ENTRIES or timeline.is_empty():
        return []
    total = int(timeline["count"].sum())
    errors = int(timeline.filter(pl.col("level").is_in(ERROR_LEVELS))["count"].sum())
    usual = history.errors / history.entries
    expected = usual * total
    spread = math.sqrt(expected + 1) + 1
    if (
        errors - expected
    ) / spread < SPIKE_SCORE or errors < SPIKE_RATIO * expected + SPIKE_MIN_EXCESS:
        return []
    # A whole upload's counts make any change look certain; score how much the share grew
    # instead (an error-free history counts as one error), so that a burst inside the
    # upload, with its window and templates, ranks above this summary of it.
    ratio = (errors / total) / max(usual, 1 / history.entries)
    score = SPIKE_SCORE + math.log2(ratio)
    first = int(timeline["minute"].min())  # type: ignore[arg-type]
    last = int(timeline["minute"].max())  # type: ignore[arg-type]
    return [
        Anomaly(
            "error_spike",
            score,
            first * MICROS_PER_MINUTE,
            (last + 1) * MICROS_PER_MINUTE,
            f"ERROR share {errors / total:.1%} in this upload against {usual:.1%} in"
            f" earlier uploads of the same source ({errors:,} of {total:,} entries)",
        )
    ]


def causes(
    ctx: Context, start: int, end: int, levels: Sequence[str], buckets: int
) -> list[tuple[str, float]]:
    """The templates that make most of the excess in a window, with their shares."""
    if ctx.series.is_empty():
        return []
    first, last = start // MICROS_PER_MINUTE, end // MICROS_PER_MINUTE
    span = last - first
    history = HISTORY_BUCKETS * ctx.bucket
    # Coarse levels are counted per hour: take the hours that overlap the window.
    fine = pl.col("level").is_in(FINE_LEVELS)
    opens = pl.when(fine).then(pl.lit(first)).otherwise(pl.lit(first - first % 60))
    rows = ctx.series.filter(pl.col("level").is_in(levels))
    now = rows.filter((pl.col("minute") >= opens) & (pl.col("minute") < last))
    before = rows.filter((pl.col("minute") >= first - history) & (pl.col("minute") < first))
    excess = (
        now.group_by("template_id")
        .agg(pl.col("count").sum().alias("now"))
        .join(
            before.group_by("template_id").agg(pl.col("count").sum().alias("before")),
            on="template_id",
            how="left",
        )
        .with_columns(excess=pl.col("now") - pl.col("before").fill_null(0) * span / max(history, 1))
        .filter(pl.col("excess") > 0)
        .sort(["excess", "template_id"], descending=[True, False])
    )
    total = float(excess["excess"].sum()) if not excess.is_empty() else 0.0
    if total <= 0:
        return []
    found: list[tuple[str, float]] = []
    explained = 0.0
    for tid, value in excess.select("template_id", "excess").iter_rows():
        found.append((tid, value / total))
        explained += value / total
        if explained >= CAUSE_SHARE or len(found) >= CAUSE_TEMPLATES:
            break
    return found


def habitual_burst(ctx: Context, template_id: str, start: int) -> bool:
    """Whether a template's warnings and errors burst before `start` (microseconds) in this
    source, and are sporadic.

    Sporadic: present in at most `HABIT_ACTIVE_SHARE` of the buckets since it first
    appeared (a steady template, even a slow one, is not); burst: some earlier bucket held at
    least `SPIKE_MIN_EXCESS` of its entries.
    """
    first_minute = start // MICROS_PER_MINUTE
    origin = int(ctx.frame["start"][0])
    # Warnings and errors only: they are counted per minute (the others per hour, which
    # would make any steady template look sporadic in buckets of minutes).
    before = ctx.series.filter(
        (pl.col("template_id") == template_id)
        & (pl.col("minute") < first_minute)
        & pl.col("level").is_in(FINE_LEVELS)
    )
    if before.is_empty():
        return False
    per_bucket = before.group_by((pl.col("minute") - origin) // ctx.bucket).agg(
        pl.col("count").sum()
    )
    if int(per_bucket["count"].max()) < SPIKE_MIN_EXCESS:  # type: ignore[arg-type]
        return False
    appeared = int(before["minute"].min())  # type: ignore[arg-type]
    buckets_since = max(1, (first_minute - appeared) // ctx.bucket)
    return per_bucket.height <= HABIT_ACTIVE_SHARE * buckets_since


def _also_routine(ctx: Context, template_id: str) -> bool:
    """Whether some entries of a template are at a level below WARNING."""
    info = ctx.templates.get(template_id)
    return info is not None and bool(info.levels & ROUTINE_LEVELS)
