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
  above it; named after the templates that make most of the excess.
- ``silence``: a run of buckets lasting at least `SILENCE_MINUTES` with at most
  `SILENCE_SHARE` of the entries the baseline expects (and at least `SILENCE_EXPECTED`).
- ``level_shift``: the mix of levels in `SHIFT_RUN` or more consecutive buckets differs from
  the usual mix (see `_level_shifts`) by a Jensen-Shannon divergence of at least
  `SHIFT_DIVERGENCE`, and by more than chance (a G-test); a shift inside an error spike is
  not reported again.
- ``new_template``: a template with WARNING-or-worse entries first seen after the first
  `WARM_UP_SHARE` of the log's time span, or never seen in earlier uploads of the same
  source (when those are given).
- ``rare_template``: a template with WARNING-or-worse entries that has at most `RARE_MAX`
  entries and at most `RARE_SHARE` of all entries (judged only from `RARE_MIN_ENTRIES`).

Each anomaly names the entries it covers (`template_ids`, `flag_levels`, its window), which
is how each entry of the events output gets its ``anomaly`` kind. Only WARNING-or-worse
entries are ever flagged: a flood of INFO lines is an anomaly of the log, and the report
says so, but each of its lines is an ordinary one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from loglens.analysis.vocabulary import ANOMALY_KINDS, FINE_LEVELS, LEVEL_ORDER, MICROS_PER_MINUTE

BUCKET_MINUTES = (1, 5, 15, 60, 360, 1440)
MIN_MEAN_PER_BUCKET = 20
MAX_BUCKETS = 20_000
HISTORY_BUCKETS = 30
MIN_HISTORY = 5
SPIKE_RATIO = 2.0
SPIKE_MIN_EXCESS = 5
SPIKE_SCORE = 5.0
SILENCE_MINUTES = 3
SILENCE_SHARE = 0.05
SILENCE_EXPECTED = 50
SHIFT_DIVERGENCE = 0.01
SHIFT_G = 40.0
SHIFT_RUN = 3
# A shift goes on through at most this many buckets of the usual mix in a row.
SHIFT_GAP = 2
SHIFT_NEW_NORMAL = 2 * HISTORY_BUCKETS
SHIFT_MIN_ENTRIES = 50
WARM_UP_SHARE = 0.2
RARE_MAX = 20
RARE_SHARE = 1e-3
RARE_MIN_ENTRIES = 1_000
# The templates named as the cause of a spike: the largest shares of its excess, until
# they explain this much of it (at most `CAUSE_TEMPLATES`).
CAUSE_SHARE = 0.8
CAUSE_TEMPLATES = 3
MAX_ANOMALIES = 200

ERROR_LEVELS = ("ERROR", "CRITICAL")
KINDS = ANOMALY_KINDS


@dataclass(frozen=True)
class TemplateInfo:
    """What anomaly detection needs to know of a template."""

    id: str
    text: str
    count: int
    levels: frozenset[str]
    example: tuple[str, int] | None = None  # (file, line) of its earliest entry


@dataclass(frozen=True)
class Anomaly:
    """Something unusual, where and when it is, and which entries it covers."""

    kind: str
    score: float
    start: int  # microseconds since the epoch, inclusive
    end: int  # exclusive
    explanation: str
    template_ids: tuple[str, ...] = ()  # the entries covered: of these templates (or any) …
    flag_levels: tuple[str, ...] = ()  # … at these levels (none: no entry is covered)
    examples: tuple[tuple[str, int], ...] = ()
    source: str = ""  # the file (or upload) it was found in; "" when there is one

    def to_dict(self) -> dict[str, Any]:
        """The anomaly as JSON-ready data (times in ISO-8601 UTC)."""
        return {
            "kind": self.kind,
            "score": round(self.score, 2),
            "start": _iso(self.start),
            "end": _iso(self.end),
            "explanation": self.explanation,
            "template_ids": list(self.template_ids),
            "source": self.source or None,
            "examples": [{"file": file, "line": line} for file, line in self.examples],
        }


@dataclass(frozen=True)
class History:
    """What earlier uploads of the same source tell: their templates and error share."""

    template_ids: frozenset[str] = frozenset()
    entries: int = 0
    errors: int = 0


@dataclass
class _Context:
    """The inputs of one detection, bucketed."""

    bucket: int  # minutes
    frame: pl.DataFrame  # one row per bucket: index, start minute, counts per level
    series: pl.DataFrame  # minute, template_id, level, count
    templates: Mapping[str, TemplateInfo]  # by template id
    found: list[Anomaly] = field(default_factory=list)


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
        frame, bucket = _buckets(timeline)
        ctx = _Context(bucket, frame, series, templates)
        _spikes(ctx, "error_spike", pl.sum_horizontal(ERROR_LEVELS), ERROR_LEVELS)
        _spikes(ctx, "volume_spike", pl.col("total"), LEVEL_ORDER)
        _silences(ctx)
        _level_shifts(ctx)
        _new_templates(ctx, history)
        found = ctx.found
        if history is not None:
            found += _error_share(timeline, history)
    if source:
        found = [replace(a, explanation=f"{source}: {a.explanation}", source=source) for a in found]
    return ranked(found)


def ranked(anomalies: list[Anomaly]) -> list[Anomaly]:
    """Anomalies highest score first (at most `MAX_ANOMALIES`)."""
    order = sorted(anomalies, key=lambda a: (-a.score, a.start, a.kind, a.source, a.template_ids))
    return order[:MAX_ANOMALIES]


def choose_bucket(first_minute: int, last_minute: int, entries: int) -> int:
    """The bucket size (minutes) for a log of `entries` between these minutes."""
    span = last_minute - first_minute + 1
    for minutes in BUCKET_MINUTES:
        buckets = math.ceil(span / minutes)
        if buckets <= MAX_BUCKETS and entries >= MIN_MEAN_PER_BUCKET * buckets:
            return minutes
    return BUCKET_MINUTES[-1]


def _buckets(timeline: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Counts per bucket and level, every bucket of the span present (zeros included)."""
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
    return frame.sort("index"), bucket


def _baseline(values: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The robust baseline of each bucket from the buckets before it: median and spread."""
    before = values.shift(1)
    median = before.rolling_median(HISTORY_BUCKETS, min_samples=MIN_HISTORY)
    q1 = before.rolling_quantile(0.25, window_size=HISTORY_BUCKETS, min_samples=MIN_HISTORY)
    q3 = before.rolling_quantile(0.75, window_size=HISTORY_BUCKETS, min_samples=MIN_HISTORY)
    # A count's own noise is at least Poisson's; the +1s keep small counts (a median of 1
    # or 0 errors a minute) from making every handful of errors a spike.
    spread = pl.max_horizontal((q3 - q1) / 1.349, (median + 1).sqrt() + 1)
    return median, spread


def _runs(flags: pl.DataFrame) -> list[pl.DataFrame]:
    """Split the flagged bucket rows (sorted by index) into runs of consecutive buckets."""
    if flags.is_empty():
        return []
    numbered = flags.with_columns(run=(pl.col("index").diff().fill_null(1) != 1).cum_sum())
    return list(numbered.partition_by("run", maintain_order=True))


def _spikes(ctx: _Context, kind: str, values: pl.Expr, levels: Sequence[str]) -> None:
    """Runs of buckets far above their baseline."""
    median, spread = _baseline(values)
    scored = ctx.frame.with_columns(value=values, median=median, spread=spread).with_columns(
        score=(pl.col("value") - pl.col("median")) / pl.col("spread")
    )
    # Only where the log is usually active: in a log of scattered bursts every burst
    # would stand out against the empty buckets between them.
    active, _ = _baseline(pl.col("total"))
    flagged = scored.filter(
        (pl.col("score") >= SPIKE_SCORE)
        & (pl.col("value") >= SPIKE_RATIO * pl.col("median") + SPIKE_MIN_EXCESS)
        & (active > 0)
    )
    what = "ERROR rate" if kind == "error_spike" else "Volume"
    for run in _runs(flagged):
        start, end = _window(ctx, run)
        observed = int(run["value"].sum())
        expected = float(run["median"].sum())
        ratio = observed / max(expected, 1.0)
        causes = _causes(ctx, start, end, levels, run.height)
        named = "; mostly " + ", ".join(_name(ctx, tid, share) for tid, share in causes)
        explanation = (
            f"{what} {ratio:.0f}x the usual between {_clock(start)} and {_clock(end)}"
            f" ({observed:,} entries, about {expected:,.0f} expected)" + (named if causes else "")
        )
        ids = tuple(tid for tid, _ in causes)
        ctx.found.append(
            Anomaly(
                kind,
                float(run["score"].max()),  # type: ignore[arg-type]
                start,
                end,
                explanation,
                ids,
                tuple(level for level in levels if level in FINE_LEVELS) if ids else (),
                _examples(ctx.templates, ids),
            )
        )


def _silences(ctx: _Context) -> None:
    """Runs of buckets with next to nothing where the baseline expects plenty."""
    median, _ = _baseline(pl.col("total"))
    scored = ctx.frame.with_columns(median=median)
    quiet = scored.filter(
        pl.col("median").is_not_null()
        & (pl.col("median") > 0)
        & (pl.col("total") <= SILENCE_SHARE * pl.col("median"))
    )
    for run in _runs(quiet):
        expected = float(run["median"].sum())
        if run.height * ctx.bucket < SILENCE_MINUTES or expected < SILENCE_EXPECTED:
            continue
        observed = int(run["total"].sum())
        start, end = _window(ctx, run)
        ctx.found.append(
            Anomaly(
                "silence",
                expected / (observed + 1),
                start,
                end,
                f"Silence between {_clock(start)} and {_clock(end)}: {observed:,} entries"
                f" where about {expected:,.0f} were expected",
            )
        )


def _level_shifts(ctx: _Context) -> None:
    """Runs of buckets whose mix of levels differs from the usual mix.

    The usual mix is that of the last `HISTORY_BUCKETS` active buckets that were not part
    of a shift, so a shift stays visible for as long as it lasts instead of becoming its
    own baseline, and the return to normal is not a second shift. A shift goes on through
    up to `SHIFT_GAP` usual-looking buckets in a row (a lull, or a bucket too small to
    tell), and one that outlasts `SHIFT_NEW_NORMAL` buckets becomes the new normal.
    Buckets of fewer than `SHIFT_MIN_ENTRIES` entries are skipped. A bucket differs when the
    divergence is large enough to matter (`SHIFT_DIVERGENCE`) and too large to be chance
    (a G-test over the bucket's counts, `SHIFT_G`).
    """
    rows = ctx.frame.select(LEVEL_ORDER).rows()
    usual: deque[tuple[int, ...]] = deque(maxlen=HISTORY_BUCKETS)
    run: list[tuple[int, float, tuple[int, ...], tuple[int, ...]]] = []
    gap: list[tuple[int, tuple[int, ...]]] = []  # unshifted buckets since the run's last

    def close() -> None:
        if len(run) >= SHIFT_RUN:
            _report_shift(ctx, run)
        run.clear()

    for index, counts in enumerate(rows):
        if sum(counts) < SHIFT_MIN_ENTRIES:
            continue  # too few entries to say anything of the mix (a silence is its own kind)
        reference = tuple(map(sum, zip(*usual, strict=True))) if usual else ()
        divergence = _shift(counts, reference) if len(usual) >= MIN_HISTORY else None
        if divergence is None:
            if run and len(gap) < SHIFT_GAP:
                gap.append((index, counts))  # a lull inside a shift, or its end: see next
                continue
            close()
            usual.extend(counts for _index, counts in gap)
            gap.clear()
            usual.append(counts)
            continue
        run.extend((i, 0.0, c, reference) for i, c in gap)  # the shift went on through it
        gap.clear()
        run.append((index, divergence, counts, reference))
        if len(run) >= SHIFT_NEW_NORMAL:
            recent = [counts for _index, _div, counts, _ref in run[-HISTORY_BUCKETS:]]
            close()
            usual.clear()
            usual.extend(recent)
    close()


def _shift(counts: tuple[int, ...], reference: tuple[int, ...]) -> float | None:
    """The divergence (bits) of a bucket's mix from the reference mix, or None when the
    bucket or the reference is too small, or the difference too small or likely chance."""
    total, reference_total = sum(counts), sum(reference)
    if total < SHIFT_MIN_ENTRIES or reference_total < SHIFT_MIN_ENTRIES:
        return None
    # Half a count on every level, so that a level the reference never had is not
    # infinitely surprising.
    smoothed = [(count + 0.5) / (reference_total + 0.5 * len(reference)) for count in reference]
    observed = [count / total for count in counts]
    g = 2 * sum(c * math.log(c / (total * q)) for c, q in zip(counts, smoothed, strict=True) if c)
    if g < SHIFT_G:
        return None
    divergence = _jensen_shannon(observed, smoothed)
    return divergence if divergence >= SHIFT_DIVERGENCE else None


def _report_shift(
    ctx: _Context, run: list[tuple[int, float, tuple[int, ...], tuple[int, ...]]]
) -> None:
    """Report a run of shifted buckets, unless it is a rise of errors during an error spike
    (already reported as such)."""
    first, last = run[0][0], run[-1][0]
    frame = ctx.frame
    start = int(frame["start"][first]) * MICROS_PER_MINUTE
    end = (int(frame["start"][last]) + ctx.bucket) * MICROS_PER_MINUTE
    now = [sum(column) for column in zip(*(counts for _i, _d, counts, _r in run), strict=True)]
    reference = run[0][3]
    total, reference_total = sum(now), sum(reference)
    moves = sorted(
        ((now[i] / total, reference[i] / reference_total, level)
         for i, level in enumerate(LEVEL_ORDER)),
        key=lambda move: -abs(move[0] - move[1]),
    )[:2]  # fmt: skip
    rising = tuple(level for share, was, level in moves if share > was and level in FINE_LEVELS)
    spiking = any(a.kind == "error_spike" and a.start < end and start < a.end for a in ctx.found)
    if spiking and set(rising) <= set(ERROR_LEVELS):
        return
    changes = ", ".join(f"{level} {was:.0%} -> {share:.0%}" for share, was, level in moves)
    ctx.found.append(
        Anomaly(
            "level_shift",
            100 * max(divergence for _i, divergence, _c, _r in run),
            start,
            end,
            f"Mix of levels shifted between {_clock(start)} and {_clock(end)}: {changes}",
            (),
            rising,
        )
    )


def _jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """The Jensen-Shannon divergence (bits) of two distributions."""
    total = 0.0
    for a, b in zip(p, q, strict=True):
        m = (a + b) / 2
        if a > 0:
            total += a * math.log2(a / m) / 2
        if b > 0:
            total += b * math.log2(b / m) / 2
    return total


def _new_templates(ctx: _Context, history: History | None) -> None:
    """Templates with WARNING-or-worse entries that appear late, or never appeared before."""
    if ctx.series.is_empty():
        return
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
        elif first > warm_up_end:
            seen_at = _clock(first * MICROS_PER_MINUTE)
            why = f"first seen {seen_at}, after the first {WARM_UP_SHARE:.0%} of the log"
        else:
            continue
        worst = _worst(info.levels)
        start = bad_first * MICROS_PER_MINUTE
        end = (max(last, bad_first) + 1) * MICROS_PER_MINUTE
        ctx.found.append(
            Anomaly(
                "new_template",
                (6.0 if worst in ERROR_LEVELS else 4.0) + math.log10(1 + info.count),
                start,
                end,
                f"New {worst} template {_quote(info)}: {why} ({info.count:,} entries)",
                (tid,),
                FINE_LEVELS,
                _examples(ctx.templates, (tid,)),
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
        worst = _worst(info.levels)
        found.append(
            Anomaly(
                "rare_template",
                math.log10(entries / info.count),
                first * MICROS_PER_MINUTE,
                (last + 1) * MICROS_PER_MINUTE,
                f"Rare {worst} template {_quote(info)}: {info.count:,} of {entries:,} entries",
                (info.id,),
                FINE_LEVELS,
                _examples(templates, (info.id,)),
            )
        )
    return found


def _error_share(timeline: pl.DataFrame, history: History) -> list[Anomaly]:
    """This upload's share of ERROR+CRITICAL entries against earlier uploads of its source."""
    if history.entries < RARE_MIN_ENTRIES or timeline.is_empty():
        return []
    total = int(timeline["count"].sum())
    errors = int(timeline.filter(pl.col("level").is_in(ERROR_LEVELS))["count"].sum())
    usual = history.errors / history.entries
    expected = usual * total
    spread = math.sqrt(max(expected, 1.0))
    score = (errors - expected) / spread
    if score < SPIKE_SCORE or errors < SPIKE_RATIO * expected + SPIKE_MIN_EXCESS:
        return []
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


def _window(ctx: _Context, run: pl.DataFrame) -> tuple[int, int]:
    """The start and end (microseconds) of a run of buckets."""
    start = int(run["start"][0]) * MICROS_PER_MINUTE
    end = (int(run["start"][-1]) + ctx.bucket) * MICROS_PER_MINUTE
    return start, end


def _causes(
    ctx: _Context, start: int, end: int, levels: Sequence[str], buckets: int
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
    causes: list[tuple[str, float]] = []
    explained = 0.0
    for tid, value in excess.select("template_id", "excess").iter_rows():
        causes.append((tid, value / total))
        explained += value / total
        if explained >= CAUSE_SHARE or len(causes) >= CAUSE_TEMPLATES:
            break
    return causes


def _name(ctx: _Context, template_id: str, share: float) -> str:
    info = ctx.templates.get(template_id)
    text = _quote(info) if info is not None else template_id
    return f"template {template_id} {text} ({share:.0%})"


def _quote(info: TemplateInfo) -> str:
    text = info.text if len(info.text) <= 80 else info.text[:77] + "..."
    return f"'{text}'"


def _examples(
    templates: Mapping[str, TemplateInfo], ids: Sequence[str]
) -> tuple[tuple[str, int], ...]:
    found = (templates[tid].example for tid in ids if tid in templates)
    return tuple(example for example in found if example is not None)


def _worst(levels: Collection[str]) -> str:
    ranked = [level for level in LEVEL_ORDER[:-1] if level in levels]
    return ranked[-1] if ranked else "UNKNOWN"


def _clock(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M")


def _iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
