"""Anomalies of what is logged: templates seen for the first time, and rare ones."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

import polars as pl

from loglens.analysis.anomalies.model import (
    CHATTY_TEMPLATES,
    ERROR_LEVELS,
    NEW_BY_CHANCE,
    NEW_MIN_ENTRIES,
    NEW_SHARE,
    RARE_MAX,
    RARE_MIN_ENTRIES,
    RARE_SHARE,
    RARE_TAIL,
    RARE_TEMPLATES_SHARE,
    SPIKE_MIN_EXCESS,
    VARIANT_SHARE,
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
    known = history.template_ids if history is not None and history.template_ids else None
    firsts = ctx.series.group_by("template_id").agg(pl.col("minute").min())
    minimum = _news_minimum(
        ctx, dict(firsts.iter_rows()), known, warm_up_end if judge_late else None
    )
    # Entries expected before a template's first (at its own rate) for a chance of no
    # entry there, e**-expected, below `NEW_BY_CHANCE` across all of the source's templates.
    unlikely = math.log(max(len(ctx.templates), 1) / NEW_BY_CHANCE)
    established = _established(ctx, dict(firsts.iter_rows()), known, warm_up_end)
    for tid, first, last, bad_first in seen.sort("first").iter_rows():
        info = ctx.templates.get(tid)
        if info is None or info.count < minimum:
            continue
        if minimum > 1 and _is_variant(info.text, established):
            continue
        if known is not None:
            if tid in known:
                continue
            why = "never seen in earlier uploads of this source"
        elif judge_late and first > warm_up_end:
            # Late is news only if the template's own rate, since it appeared, makes its
            # absence before unlikely for any of the source's templates (a rare steady one
            # may show up late by chance; among many templates, some will).
            rate = info.count / (max(last - first, 0) + ctx.bucket)
            if rate * (first - first_minute) < unlikely:
                continue
            seen_at = clock(first * MICROS_PER_MINUTE)
            why = f"first seen {seen_at}, after the first {WARM_UP_SHARE:.0%} of the log"
        else:
            continue
        level = worst(info.levels)
        start = bad_first * MICROS_PER_MINUTE
        # New until it bursts a second time: a template that comes back in bursts is the
        # source's habit, and its later bursts are judged as spikes (see `habitual_burst`).
        settled = _second_burst(ctx, tid)
        end = min((max(last, bad_first) + 1) * MICROS_PER_MINUTE, settled)
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


def _news_minimum(
    ctx: Context, firsts: Mapping[str, int], known: frozenset[str] | None, late: float | None
) -> int:
    """The fewest entries a new template needs to be news in this source.

    A source that keeps producing new templates (at least `CHATTY_TEMPLATES`, and more than
    `NEW_SHARE` of its templates, at any level, are new: never seen before, or first seen
    after the warm-up), or whose templates are often seen only once or twice (as many, and
    more than `RARE_TEMPLATES_SHARE` of them, have fewer than `NEW_MIN_ENTRIES` entries),
    makes each one ordinary: there, only a new template with more entries than most of its
    new ones is news (at least `NEW_MIN_ENTRIES` and twice their median). Elsewhere every
    new template is.
    """
    if known is not None:
        new = [tid for tid in firsts if tid not in known]
    elif late is not None:
        new = [tid for tid, first in firsts.items() if first > late]
    else:
        return 1
    # Or one where many templates are seen only once or twice: any new one is likely such.
    few = sum(info.count < NEW_MIN_ENTRIES for info in ctx.templates.values())
    keeps_producing = len(new) >= CHATTY_TEMPLATES and len(new) > NEW_SHARE * len(firsts)
    mostly_rare = few >= CHATTY_TEMPLATES and few > RARE_TEMPLATES_SHARE * len(ctx.templates)
    if not (keeps_producing or mostly_rare):
        return 1
    counts = sorted(ctx.templates[tid].count for tid in new if tid in ctx.templates)
    median = counts[len(counts) // 2] if counts else 1
    return max(NEW_MIN_ENTRIES, 2 * median)


def _second_burst(ctx: Context, template_id: str) -> int:
    """When (microseconds) a template's second burst begins: a run of buckets holding at
    least `SPIKE_MIN_EXCESS` of its entries each, after an earlier run and a gap. The end of
    time when it has none."""
    origin = int(ctx.frame["start"][0])
    bursts = (
        ctx.series.filter(pl.col("template_id") == template_id)
        .group_by(index=(pl.col("minute") - origin) // ctx.bucket)
        .agg(pl.col("count").sum())
        .filter(pl.col("count") >= SPIKE_MIN_EXCESS)
        .sort("index")["index"]
        .to_list()
    )
    for earlier, later in itertools.pairwise(bursts):
        if later > earlier + 1:
            return int(origin + later * ctx.bucket) * MICROS_PER_MINUTE
    return 2**62


def _established(
    ctx: Context, firsts: Mapping[str, int], known: frozenset[str] | None, warm_up_end: float
) -> dict[tuple[str, ...], list[list[str]]]:
    """The words of the templates this source had before (in history, or in the warm-up),
    by their first three words (a template of fewer words is nobody's variant's source)."""
    ids = known if known is not None else {t for t, first in firsts.items() if first <= warm_up_end}
    by_start: dict[tuple[str, ...], list[list[str]]] = defaultdict(list)
    for tid in sorted(ids):
        if tid in ctx.templates:
            words = ctx.templates[tid].text.split()
            if len(words) >= 3:
                by_start[tuple(words[:3])].append(words)
    return by_start


def _is_variant(text: str, established: Mapping[tuple[str, ...], Sequence[list[str]]]) -> bool:
    """Whether a template shares most of its leading words (`VARIANT_SHARE`, at least three)
    with one the source had before: the same statement with another ending."""
    words = text.split()
    need = max(3, math.ceil(VARIANT_SHARE * len(words)))
    if len(words) < need:
        return False  # fewer words than must be shared: no other template's start is it
    # Only templates with the same first three words can share `need` of them.
    others = established.get(tuple(words[:3]), ())
    return any(len(other) >= need and other[:need] == words[:need] for other in others)


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
    # Rarity is news only where it stands out: not in a source where many templates (at any
    # level: `CHATTY_TEMPLATES`, and `RARE_TEMPLATES_SHARE` of them) are this rare, nor in
    # one whose long tail runs down to the limit (`CHATTY_TEMPLATES` templates with at most
    # `RARE_TAIL` times its entries): there the rare ones are the end of the tail.
    rare = sum(info.count <= limit for info in templates.values())
    if rare >= CHATTY_TEMPLATES and rare > RARE_TEMPLATES_SHARE * len(templates):
        return []
    if sum(limit < info.count <= RARE_TAIL * limit for info in templates.values()) >= (
        CHATTY_TEMPLATES
    ):
        return []
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
