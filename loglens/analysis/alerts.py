"""Alert rules and the incidents they find: pure parsing and evaluation, no I/O.

A rules file (TOML, ``ALERT_RULES_FILE``, see docs/alerts.md) holds ``[[rule]]`` tables of
two kinds:

- **threshold** rules: a match (any of ``level``, ``template``, ``category``, ``regex``;
  all given must hold, each may list several values, any of which will do) and
  ``threshold`` entries within ``window``. A window slides one bucket at a time; the rule
  is over the threshold while a window holds at least ``threshold`` matching entries. A
  run of consecutive over-threshold windows is one *incident*; it ends (resolves) when the
  count falls back below the threshold.
- **anomaly** rules: ``anomaly_score`` (optionally ``kind``): each anomaly of the analysis
  at or above that score is one incident.

Time resolution: the per-template series count WARNING, ERROR and CRITICAL entries per
minute but the other levels per hour. A threshold rule limited to those three levels
slides minute by minute; any other threshold rule slides hour by hour, and its window must
be whole hours (a shorter one is refused when the rules are read, with a message saying
how to fix it).

Rules overlap (a burst of database errors meets a database rule, an error rule and anomaly
rules on its spike and its new template): `one_per_incident` merges the hits of one upload
that belong to one incident, so that it gives one alert.

An incident knows whether it held within the first window of the data it was found in
(open at start) and still held at its last bucket (open at end): an incident open at the
end of one upload goes on in the next upload of the same source when that one is open at
start (see `continues`). Windows do not reach across uploads: the first windows of an
upload count only its own entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import accumulate

import polars as pl

from loglens.analysis.alert_rules import (
    AnomalyRule,
    Rule,
    ThresholdRule,
)
from loglens.analysis.anomalies import Anomaly
from loglens.analysis.vocabulary import MICROS_PER_MINUTE

# Rule hits this close in log time (or overlapping) are one incident, and one alert.
MERGE_GAP_MINUTES = 10
# Anomaly kinds whose window is a template's first to last entry, not a time of trouble.
TEMPLATE_KINDS = ("new_template", "rare_template")
SERIES_SCHEMA = {
    "minute": pl.Int64,
    "template_id": pl.String,
    "level": pl.String,
    "count": pl.Int64,
}


@dataclass(frozen=True)
class AlertInput:
    """What rules are evaluated over: one upload's series, templates and anomalies.

    `series` has (minute, template_id, level, count), minutes since the epoch; `first_minute`
    and `last_minute` are the minutes of the upload's first and last timed entries.
    """

    series: pl.DataFrame
    texts: Mapping[str, str] = field(default_factory=dict)  # template id -> text
    categories: Mapping[str, Sequence[str]] = field(default_factory=dict)  # by template id
    anomalies: Sequence[Anomaly] = ()
    first_minute: int | None = None
    last_minute: int | None = None


def live_input(
    series: pl.DataFrame,
    texts: Mapping[str, str],
    categories: Mapping[str, Sequence[str]],
    anomalies: Sequence[Anomaly],
    first_ts: int | None,
    last_ts: int | None,
) -> AlertInput:
    """The rules' input from an analysis in memory (a followed file's, so far): its
    per-template series (minutes since the epoch), template texts and categories by id,
    anomalies, and first and last entry (microseconds)."""
    return AlertInput(
        series.select(list(SERIES_SCHEMA)).cast(SERIES_SCHEMA),  # type: ignore[arg-type]
        texts,
        categories,
        tuple(anomalies),
        None if first_ts is None else first_ts // MICROS_PER_MINUTE,
        None if last_ts is None else last_ts // MICROS_PER_MINUTE,
    )


@dataclass(frozen=True)
class Incident:
    """One stretch of log time during which a rule held."""

    rule: str
    subject: str  # "" for a threshold rule; the anomaly (kind, templates, source) otherwise
    start: int  # microseconds since the epoch, inclusive
    end: int  # exclusive
    value: float  # the most entries in one window, or the anomaly's score
    message: str
    open_at_start: bool = False  # held within the first window of the data
    open_at_end: bool = False  # still held at the last bucket of the data


def one_per_incident(rules: Sequence[Rule], hits: Sequence[Incident]) -> list[Incident]:
    """The rule hits of one upload with those of one incident merged, so that an incident
    gives one alert however many rules it meets. Hits are of one incident when they start
    within the trouble of another (its window, allowing a gap of `MERGE_GAP_MINUTES`): a
    threshold run, or a spike, silence or shift; a new or rare template's window runs from
    its first entry to its last, which is no trouble, so only its start counts.

    A merged incident is its lead hit's (that of the rule listed first in the file, then
    the earliest): its rule, subject and value, the lead's message naming the other rules
    that held, from the earliest start to the end of the trouble. By rule (in order), then
    by time."""
    order = {rule.name: rank for rank, rule in enumerate(rules)}
    gap = MERGE_GAP_MINUTES * MICROS_PER_MINUTE
    groups: list[list[Incident]] = []
    for hit in sorted(hits, key=lambda h: (h.start, order.get(h.rule, len(order)), h.subject)):
        if groups and hit.start <= max(_trouble_end(h) for h in groups[-1]) + gap:
            groups[-1].append(hit)
        else:
            groups.append([hit])
    merged = [_merge(group, order) for group in groups]
    return sorted(merged, key=lambda i: (order.get(i.rule, len(order)), i.start, i.subject))


def _trouble_end(hit: Incident) -> int:
    """Where the trouble of a hit ends: its end, or its start for a template anomaly."""
    kind = hit.subject.split(":", 1)[0]
    return hit.start if kind in TEMPLATE_KINDS else hit.end


def _merge(hits: Sequence[Incident], order: Mapping[str, int]) -> Incident:
    """One incident of the rule hits of one incident, led by the first rule's earliest."""
    lead = min(hits, key=lambda h: (order.get(h.rule, len(order)), h.start, h.subject))
    if len(hits) == 1:
        return lead
    others = sorted({h.rule for h in hits} - {lead.rule}, key=lambda r: order.get(r, len(order)))
    also = f"; also {', '.join(repr(r) for r in others)}" if others else ""
    troubled = [h for h in hits if _trouble_end(h) == h.end]
    return replace(
        lead,
        start=min(h.start for h in hits),
        end=max([lead.end, *(h.end for h in troubled)]),
        message=f"{lead.message} [one incident: {len(hits)} rule hits{also}]",
        open_at_end=lead.open_at_end or any(h.open_at_end for h in troubled),
    )


def evaluate(rules: Iterable[Rule], data: AlertInput) -> list[Incident]:
    """Every incident of every rule in `data`, by rule (in order), then by time (each rule
    hit on its own: `one_per_incident` merges those of one incident)."""
    found: list[Incident] = []
    for rule in rules:
        if isinstance(rule, ThresholdRule):
            found += threshold_incidents(rule, data)
        else:
            found += anomaly_incidents(rule, data)
    return found


def matching_templates(rule: ThresholdRule, data: AlertInput) -> set[str] | None:
    """The template ids the rule's template, category and regex keys let through (None: any)."""
    if not (rule.templates or rule.categories or rule.regex is not None):
        return None
    ids = set(data.texts) | set(data.categories) | set(data.series["template_id"].unique())
    if rule.templates:
        ids &= set(rule.templates)
    if rule.categories:
        wanted = set(rule.categories)
        ids = {tid for tid in ids if wanted.intersection(data.categories.get(tid, ()))}
    if rule.regex is not None:
        regex = rule.regex
        ids = {tid for tid in ids if regex.search(data.texts.get(tid, ""))}
    return ids


def threshold_incidents(rule: ThresholdRule, data: AlertInput) -> list[Incident]:
    """The runs of windows holding at least `rule.threshold` matching entries."""
    rows = data.series
    if rule.levels:
        rows = rows.filter(pl.col("level").is_in(rule.levels))
    ids = matching_templates(rule, data)
    if ids is not None:
        rows = rows.filter(pl.col("template_id").is_in(sorted(ids)))
    if rows.is_empty():
        return []
    step, width = rule.step, rule.window // rule.step
    counts = rows.group_by(bucket=pl.col("minute") // step).agg(pl.col("count").sum())
    first = int(counts["bucket"].min())  # type: ignore[arg-type]
    last = int(counts["bucket"].max())  # type: ignore[arg-type]
    if data.first_minute is not None:
        first = min(first, data.first_minute // step)
    if data.last_minute is not None:
        last = max(last, data.last_minute // step)
    grid = (
        pl.DataFrame({"bucket": pl.int_range(first, last + 1, eager=True)})
        .join(counts, on="bucket", how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(total=pl.col("count").rolling_sum(width, min_samples=1))
        .with_row_index("position")
    )
    over = grid["total"] >= rule.threshold
    if not over.any():
        return []
    # Per-position lists: a run's entries are found by index, not by a filter per run.
    counts_at = grid["count"].to_list()
    cumulative = list(accumulate(counts_at))
    positions = pl.when(pl.col("count") > 0).then(pl.col("position"))
    marks = grid.select(after=positions.backward_fill(), before=positions.forward_fill())
    next_entry, last_entry = marks["after"].to_list(), marks["before"].to_list()
    runs = (
        grid.filter(over)
        .with_columns(run=(pl.col("position").diff().fill_null(1) != 1).cum_sum())
        .group_by("run", maintain_order=True)
        .agg(
            first=pl.col("position").first(),
            last=pl.col("position").last(),
            peak=pl.col("total").max(),
        )
    )
    spans = []
    for _, first_pos, last_pos, peak in runs.iter_rows():
        # The entries of the incident: those in its windows (the first one reaches back).
        lo = max(0, first_pos - width + 1)
        start = (first + next_entry[lo]) * step
        end = (first + last_entry[last_pos] + 1) * step
        total = cumulative[last_pos] - (cumulative[lo - 1] if lo else 0)
        spans.append((start, end, peak, total, first_pos < width, last_pos == grid.height - 1))
    tops = _top_templates(rows, [(start, end) for start, end, *_ in spans])
    incidents = []
    for (start, end, peak, total, at_start, at_end), top in zip(spans, tops, strict=True):
        message = (
            f"{peak:,} entries within {rule.window_text} (threshold "
            f"{rule.threshold:,}) from {_clock(start)} to {_clock(end)}, {total:,} in all "
            f"({rule.describe()})" + _mostly(top, data)
        )
        incidents.append(
            Incident(
                rule.name,
                "",
                start * MICROS_PER_MINUTE,
                end * MICROS_PER_MINUTE,
                peak,
                message,
                open_at_start=at_start,
                open_at_end=at_end,
            )
        )
    return incidents


def _top_templates(rows: pl.DataFrame, spans: Sequence[tuple[int, int]]) -> list[str | None]:
    """The template with most entries in each [start, end) of `spans` (minutes, in order);
    a minute in two spans counts for the later one."""
    bounds = pl.DataFrame(
        {
            "incident": range(len(spans)),
            "start": [start for start, _ in spans],
            "end": [end for _, end in spans],
        },
        schema={"incident": pl.Int64, "start": pl.Int64, "end": pl.Int64},
    )
    best = (
        rows.sort("minute")
        .join_asof(bounds, left_on="minute", right_on="start")
        .filter(pl.col("minute") < pl.col("end"))
        .group_by("incident", "template_id")
        .agg(pl.col("count").sum())
        .sort(["incident", "count", "template_id"], descending=[False, True, False])
        .group_by("incident", maintain_order=True)
        .first()
    )
    found = dict(zip(best["incident"].to_list(), best["template_id"].to_list(), strict=True))
    return [found.get(number) for number in range(len(spans))]


def _mostly(template_id: str | None, data: AlertInput) -> str:
    """ "; mostly template ID 'text'", or nothing."""
    if template_id is None:
        return ""
    text = data.texts.get(template_id, "")
    shown = text if len(text) <= 80 else text[:77] + "..."
    return (
        f"; mostly template {template_id} {shown!r}" if text else f"; mostly template {template_id}"
    )


def anomaly_incidents(rule: AnomalyRule, data: AlertInput) -> list[Incident]:
    """One incident per anomaly at or above the rule's score (and of its kinds)."""
    end_of_data = None if data.last_minute is None else (data.last_minute + 1) * MICROS_PER_MINUTE
    found = []
    for anomaly in sorted(data.anomalies, key=lambda a: (a.start, a.kind, a.template_ids)):
        if anomaly.score < rule.score or (rule.kinds and anomaly.kind not in rule.kinds):
            continue
        subject = f"{anomaly.kind}:{','.join(anomaly.template_ids)}:{anomaly.source}"
        message = f"{anomaly.kind} (score {anomaly.score:.1f}): {anomaly.explanation}"
        found.append(
            Incident(
                rule.name,
                subject,
                anomaly.start,
                anomaly.end,
                round(anomaly.score, 2),
                message,
                open_at_end=end_of_data is not None and anomaly.end >= end_of_data,
            )
        )
    return found


def continues(open_before: bool, incidents: Sequence[Incident]) -> Incident | None:
    """The incident (of one rule, in the next upload of a source) that continues one
    still open at the end of the upload before, if any: the first, when it held from the
    start of the data. Anomaly incidents never continue."""
    if open_before and incidents and incidents[0].open_at_start and not incidents[0].subject:
        return incidents[0]
    return None


def _clock(minute: int) -> str:
    """A minute since the epoch as 'YYYY-MM-DD HH:MM' (UTC)."""
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Fired:
    """An incident over one or more consecutive uploads of a source, as a backtest finds it."""

    incident: Incident  # start of its first part, end and message of its last
    source: str
    uploads: tuple[int, ...]  # the upload ids it spans
    resolved_by: int | None = None  # the later upload that found the rule no longer held

    @property
    def state(self) -> str:
        """'firing' while still open at the end of its last upload, else 'resolved'."""
        return "firing" if self.incident.open_at_end and self.resolved_by is None else "resolved"


def backtest(rules: Sequence[Rule], uploads: Iterable[tuple[int, str, AlertInput]]) -> list[Fired]:
    """When the rules would have fired over `uploads` ((upload id, source, data), in the
    order they came): incidents open at the end of an upload go on into the next upload of
    the same source, as the processor's alerts do. By rule, then source, then time."""
    done: list[Fired] = []
    still_open: dict[tuple[str, str], list[Fired]] = {}  # by (rule, source)
    for upload_id, source, data in uploads:
        incidents = one_per_incident(rules, evaluate(rules, data))
        for rule in rules:
            mine = [i for i in incidents if i.rule == rule.name]
            before = still_open.pop((rule.name, source), [])
            going_on = continues(bool(before), mine)
            fired = [Fired(i, source, (upload_id,)) for i in mine if i is not going_on]
            if going_on is not None:
                last = before.pop()
                # Value and message of the window that is current: the one going on.
                merged = Incident(
                    rule.name, "", last.incident.start, going_on.end, going_on.value,
                    going_on.message, last.incident.open_at_start, going_on.open_at_end,
                )  # fmt: skip
                fired.insert(0, Fired(merged, source, (*last.uploads, upload_id)))
            done += [replace(f, resolved_by=upload_id) for f in before]
            done += [f for f in fired if not f.incident.open_at_end]
            now_open = [f for f in fired if f.incident.open_at_end]
            if now_open:
                still_open[rule.name, source] = now_open
    done += [f for fired in still_open.values() for f in fired]
    order = {rule.name: rank for rank, rule in enumerate(rules)}
    return sorted(done, key=lambda f: (order[f.incident.rule], f.source, f.incident.start))
