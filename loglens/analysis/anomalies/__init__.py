"""Find what is unusual in merged summaries: spikes, silences, level shifts, new and rare
templates. Pure code over small tables (the timeline and the series), no I/O.

Time is cut into buckets of one size per analysis, the smallest of `BUCKET_MINUTES` that
puts about `MIN_MEAN_PER_BUCKET` entries in a bucket on average (sparse logs get hours or
days, busy ones minutes). Each bucket is judged against a robust baseline of the
`HISTORY_BUCKETS` buckets before it: their median, with the spread of their inter-quartile
range (never less than a Poisson count's, plus one: small counts are noisy). The baseline
looks only backwards, so a bucket is judged as soon as it is complete, as a live stream or
an alert would be; the first `MIN_HISTORY` buckets of a log cannot be judged.

Kinds:

- ``error_spike`` / ``volume_spike``: ERROR+CRITICAL entries (or all entries) in a run of
  buckets at least `SPIKE_RATIO` times the baseline and `SPIKE_SCORE` robust deviations
  above it; named after the templates that make most of the excess. Not when all of those
  are sporadic templates that burst before (`habitual_burst`: the source's habit); an error
  spike does not name templates also logged below WARNING, and a volume spike flags no
  entry (a flood is an anomaly of the log, not of its lines).
- ``silence``: a run of buckets lasting at least `SILENCE_MINUTES` with at most
  `SILENCE_SHARE` of the entries the baseline expects (and at least `SILENCE_EXPECTED`).
- ``level_shift``: the mix of levels in `SHIFT_RUN` or more consecutive buckets differs from
  the usual mix (see `level_shifts`) by a Jensen-Shannon divergence of at least
  `SHIFT_DIVERGENCE`, and by more than chance (a G-test); a shift inside an error spike is
  not reported again.
- ``new_template``: a template with WARNING-or-worse entries first seen after the first
  `WARM_UP_SHARE` of the log's time span (in a log of at least `RARE_MIN_ENTRIES`) whose
  own rate makes its absence before unlikely (`NEW_BY_CHANCE`), or never seen in earlier
  uploads of the same source (when those are given). Budget: in a source that keeps
  producing new or once-seen templates, only one with more entries than most of its new
  ones, and not a new ending of a template it had (`VARIANT_SHARE`). New until it bursts a
  second time.
- ``rare_template``: a template with WARNING-or-worse entries that has at most `RARE_MAX`
  entries and at most `RARE_SHARE` of all entries (judged only from `RARE_MIN_ENTRIES`),
  in a source where rare templates are themselves rare (not many of them, no long tail).

Each anomaly names the entries it covers (`template_ids`, `flag_levels`, its window), which
is how each entry of the events output gets its ``anomaly`` kind. Only WARNING-or-worse
entries are ever flagged: a flood of INFO lines is an anomaly of the log, and the report
says so, but each of its lines is an ordinary one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import polars as pl

from loglens.analysis.anomalies.buckets import buckets, choose_bucket
from loglens.analysis.anomalies.model import (
    ERROR_LEVELS,
    KINDS,
    MAX_ANOMALIES,
    Anomaly,
    Context,
    History,
    TemplateInfo,
)
from loglens.analysis.anomalies.shifts import level_shifts
from loglens.analysis.anomalies.templates import new_templates, rare_templates
from loglens.analysis.anomalies.volume import error_share, silences, spikes
from loglens.analysis.vocabulary import LEVEL_ORDER


def detect(
    timeline: pl.DataFrame,
    series: pl.DataFrame,
    templates: Mapping[str, TemplateInfo],
    history: History | None = None,
    source: str = "",
) -> list[Anomaly]:
    """The anomalies in time of one source (a file, an upload), highest score first.

    `timeline` has (minute, level, count) for every timed entry; `series` (minute,
    template_id, level, count) with minutes for the fine levels and hours for the rest.
    `source`, when given, leads each explanation. Rare templates are judged over all
    sources at once: see `rare_templates`.
    """
    found: list[Anomaly] = []
    if not timeline.is_empty():
        frame, bucket = buckets(timeline)
        ctx = Context(bucket, frame, series, templates)
        spikes(ctx, "error_spike", pl.sum_horizontal(ERROR_LEVELS), ERROR_LEVELS)
        spikes(ctx, "volume_spike", pl.col("total"), LEVEL_ORDER)
        silences(ctx)
        level_shifts(ctx)
        new_templates(ctx, history)
        found = ctx.found
        if history is not None:
            found += error_share(timeline, history)
    if source:
        found = [replace(a, explanation=f"{source}: {a.explanation}", source=source) for a in found]
    return ranked(found)


def ranked(anomalies: list[Anomaly]) -> list[Anomaly]:
    """Anomalies highest score first (at most `MAX_ANOMALIES`)."""
    order = sorted(anomalies, key=lambda a: (-a.score, a.start, a.kind, a.source, a.template_ids))
    return order[:MAX_ANOMALIES]


__all__ = [
    "KINDS",
    "Anomaly",
    "History",
    "TemplateInfo",
    "choose_bucket",
    "detect",
    "ranked",
    "rare_templates",
]
