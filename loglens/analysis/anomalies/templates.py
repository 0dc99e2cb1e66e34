"""Anomalies of what is logged: templates seen for the first time, and rare ones."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import polars as pl

from loglens.analysis.anomalies.model import (
    ERROR_LEVELS,
    RARE_MAX,
    RARE_MIN_ENTRIES,
    RARE_SHARE,
    WARM_UP_SHARE,
    Anomaly,
    Context,
    History,
    TemplateInfo,
    clock,
    examples,
    quote,
    worst,
)
from loglens.analysis.vocabulary import FINE_LEVELS, MICROS_PER_MINUTE


def new_templates(ctx: Context, history: History | None) -> None:
    """Templates with WARNING-or-worse entries that appear late, or never appeared before."""
    if ctx.series.is_empty():
        return
    # Within one log, "late" means something only in a log big enough to have a usual set
    # of templates (in a few hundred lines, most error templates occur once, anywhere).
    judge_late = int(ctx.frame["total"].sum()) >= RARE_MIN_ENTRIES
    first_minute = int(ctx.frame["start"][0])
    span = int(ctx.frame["start"][-1]) + ctx.bucket - first_minute
    warm_up_end = first_minute + WARM_UP_SHARE * span
    seen = (
        ctx.series.group_by("template_id")
        .agg(
            first=pl.col("minute").min(),
            last=pl.col("minute").max(),
            bad_first=pl.col("minute").filter(pl.col("level").is_in(FINE_LEVELS)).min(),
        )
        .filter(pl.col("bad_first").is_not_null())
    )
    for tid, first, last, bad_first in seen.sort("first").iter_rows():
        info = ctx.templates.get(tid)
        if info is None:
            continue
        if history is not None and history.template_ids:
            if tid in history.template_ids:
                continue
            why = "never seen in earlier uploads of this source"
        elif judge_late and first > warm_up_end:
            seen_at = clock(first * MICROS_PER_MINUTE)
            why = f"first seen {seen_at}, after the first {WARM_UP_SHARE:.0%} of the log"
        else:
            continue
        level = worst(info.levels)
        start = bad_first * MICROS_PER_MINUTE
        end = (max(last, bad_first) + 1) * MICROS_PER_MINUTE
        ctx.found.append(
            Anomaly(
                "new_template",
                (6.0 if level in ERROR_LEVELS else 4.0) + math.log10(1 + info.count),
                start,
                end,
                f"New {level} template {quote(info)}: {why} ({count_text(info.count)})",
                (tid,),
                FINE_LEVELS,
                examples(ctx.templates, (tid,)),
            )
        )


def rare_templates(
    templates: Mapping[str, TemplateInfo],
    series: pl.DataFrame,
    reported: Collection[tuple[str, ...]] = (),
) -> list[Anomaly]:
    """Templates with WARNING-or-worse entries seen only a handful of times (not those of
    anomalies already `reported`)."""
    entries = sum(info.count for info in templates.values())
    if entries < RARE_MIN_ENTRIES:
        return []
    limit = min(RARE_MAX, RARE_SHARE * entries)
    taken = {tid for ids in reported for tid in ids}
    spans = {
        tid: (first, last)
        for tid, first, last in series.group_by("template_id")
        .agg(pl.col("minute").min(), pl.col("minute").max().alias("last"))
        .iter_rows()
    }
    found = []
    for info in templates.values():
        if info.count > limit or info.id in taken or not info.levels & set(FINE_LEVELS):
            continue
        if info.id not in spans:
            continue  # no timed entry: no window to show
        first, last = spans[info.id]
        level = worst(info.levels)
        found.append(
            Anomaly(
                "rare_template",
                math.log10(entries / info.count),
                first * MICROS_PER_MINUTE,
                (last + 1) * MICROS_PER_MINUTE,
                f"Rare {level} template {quote(info)}: {info.count:,} of {entries:,} entries",
                (info.id,),
                FINE_LEVELS,
                examples(templates, (info.id,)),
            )
        )
    return found


def count_text(count: int) -> str:
    """'1 entry', '12 entries'."""
    return f"{count:,} {'entry' if count == 1 else 'entries'}"
