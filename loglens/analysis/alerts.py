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

An incident knows whether it held within the first window of the data it was found in
(open at start) and still held at its last bucket (open at end): an incident open at the
end of one upload goes on in the next upload of the same source when that one is open at
start (see `continues`). Windows do not reach across uploads: the first windows of an
upload count only its own entries.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import polars as pl

from loglens.analysis.anomalies import KINDS, LEVEL_ORDER, MICROS_PER_MINUTE, Anomaly
from loglens.analysis.summary import FINE_LEVELS
from loglens.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_MINUTES = 7 * 24 * 60
HOUR = 60
_MATCH_KEYS = ("level", "template", "category", "regex")
_THRESHOLD_KEYS = ("threshold", "window")
_ANOMALY_KEYS = ("anomaly_score", "kind")
_KEYS = ("name", *_MATCH_KEYS, *_THRESHOLD_KEYS, *_ANOMALY_KEYS)
SERIES_SCHEMA = {
    "minute": pl.Int64,
    "template_id": pl.String,
    "level": pl.String,
    "count": pl.Int64,
}


@dataclass(frozen=True)
class ThresholdRule:
    """At least `threshold` matching entries within `window` minutes."""

    name: str
    threshold: int
    window: int  # minutes
    window_text: str  # as written ("5m")
    levels: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None

    @property
    def step(self) -> int:
        """The minutes a window slides by: 1 when only per-minute levels match, else 60."""
        fine = bool(self.levels) and all(level in FINE_LEVELS for level in self.levels)
        return 1 if fine else HOUR

    def describe(self) -> str:
        """What the rule matches, in words."""
        parts = []
        if self.levels:
            parts.append("level " + "/".join(self.levels))
        if self.templates:
            parts.append("template " + "/".join(self.templates))
        if self.categories:
            parts.append("category " + "/".join(self.categories))
        if self.regex is not None:
            parts.append(f"regex {self.regex.pattern!r}")
        return ", ".join(parts)


@dataclass(frozen=True)
class AnomalyRule:
    """Any anomaly scoring at least `score` (of one of `kinds`, when given)."""

    name: str
    score: float
    kinds: tuple[str, ...] = ()


Rule = ThresholdRule | AnomalyRule


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


# parsing ------------------------------------------------------------------------------


def parse_rules(
    text: str, where: str = "ALERT_RULES_FILE", categories: Collection[str] | None = None
) -> tuple[Rule, ...]:
    """Parse a rules file's TOML; `where` names it in errors; `categories`, when given, are
    the category names a rule may use. Raises ConfigError naming the rule and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"rule"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}: write each rule as [[rule]]")
    entries = data.get("rule", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: write each rule as a [[rule]] table")
    rules: list[Rule] = []
    for number, entry in enumerate(entries, 1):
        rule = parse_rule(entry, f"{where}: rule {number}", categories)
        if any(rule.name == other.name for other in rules):
            raise ConfigError(f"{where}: rule {number}: key 'name': {rule.name!r} is used twice")
        rules.append(rule)
    return tuple(rules)


def parse_rule(
    entry: Mapping[str, Any], where: str, categories: Collection[str] | None = None
) -> Rule:
    """One [[rule]] table as a rule; `where` says which in errors."""
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: key 'name': every rule needs a name (text)")
    name = name.strip()
    where = f"{where} ({name!r})"
    unknown = [key for key in entry if key not in _KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}: use {', '.join(_KEYS)}")
    matches = [key for key in _MATCH_KEYS if key in entry]
    if "anomaly_score" in entry:
        extra = [key for key in (*_MATCH_KEYS, *_THRESHOLD_KEYS) if key in entry]
        if extra:
            raise ConfigError(
                f"{where}: key {extra[0]!r}: an anomaly_score rule takes only kind besides "
                "its name; write the threshold rule as a rule of its own"
            )
        return _anomaly_rule(name, entry, where)
    if "kind" in entry:
        raise ConfigError(f"{where}: key 'kind': it goes with anomaly_score, which is missing")
    if not matches:
        raise ConfigError(
            f"{where}: nothing to match: give level, template, category or regex with "
            "threshold and window, or anomaly_score"
        )
    return _threshold_rule(name, entry, where, categories)


def _threshold_rule(
    name: str, entry: Mapping[str, Any], where: str, categories: Collection[str] | None
) -> ThresholdRule:
    for key in _THRESHOLD_KEYS:
        if key not in entry:
            raise ConfigError(
                f"{where}: key {key!r} is missing: a match needs threshold and window"
            )
    threshold = entry["threshold"]
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ConfigError(
            f"{where}: key 'threshold': {threshold!r} is not a whole number of entries of 1 or more"
        )
    window_text = entry["window"]
    window = parse_window(window_text, f"{where}: key 'window'")
    levels = _names(entry, "level", where)
    bad = [level for level in (lv.upper() for lv in levels) if level not in LEVEL_ORDER]
    if bad:
        raise ConfigError(
            f"{where}: key 'level': unknown level {bad[0]!r}: use {', '.join(LEVEL_ORDER)}"
        )
    levels = tuple(level.upper() for level in levels)
    wanted = _names(entry, "category", where)
    if categories is not None:
        missing = [c for c in wanted if c not in categories]
        if missing:
            raise ConfigError(
                f"{where}: key 'category': unknown category {missing[0]!r}: use one of "
                f"{', '.join(categories)} (or add it in CATEGORIES_FILE)"
            )
    regex = None
    if "regex" in entry:
        pattern = entry["regex"]
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{where}: key 'regex': {pattern!r} is not a regular expression")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: key 'regex': {pattern!r} does not compile: {exc}") from exc
    rule = ThresholdRule(
        name, threshold, window, str(window_text).strip(), levels,
        _names(entry, "template", where), wanted, regex,
    )  # fmt: skip
    if rule.step == HOUR and window % HOUR:
        raise ConfigError(
            f"{where}: key 'window': {window_text!r} is not whole hours, but the rule matches "
            "entries below WARNING, which are counted per hour: use a window of '1h' or more "
            "in whole hours, or limit the rule to level = ['WARNING', 'ERROR', 'CRITICAL'] "
            "(counted per minute)"
        )
    return rule


def _anomaly_rule(name: str, entry: Mapping[str, Any], where: str) -> AnomalyRule:
    score = entry["anomaly_score"]
    if not isinstance(score, int | float) or isinstance(score, bool) or score < 0:
        raise ConfigError(f"{where}: key 'anomaly_score': {score!r} is not a number of 0 or more")
    kinds = _names(entry, "kind", where)
    bad = [kind for kind in kinds if kind not in KINDS]
    if bad:
        raise ConfigError(f"{where}: key 'kind': unknown kind {bad[0]!r}: use {', '.join(KINDS)}")
    return AnomalyRule(name, float(score), kinds)


def _names(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A key's value as a tuple of text: one string or a non-empty list of strings."""
    if key not in entry:
        return ()
    value = entry[key]
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v.strip() for v in values)
    ):
        raise ConfigError(f"{where}: key {key!r}: {value!r} is not text or a list of text")
    return tuple(v.strip() for v in values)


def parse_window(text: object, where: str) -> int:
    """A window such as "5m", "1h" or "1d" in minutes (whole minutes, 1m to 7d)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not a duration: write e.g. '5m', '1h' or '1d'")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds % 60 or not 60 <= seconds <= MAX_WINDOW_MINUTES * 60:
        raise ConfigError(f"{where}: {text!r} must be whole minutes, from '1m' to '7d'")
    return seconds // 60


# evaluation -----------------------------------------------------------------------------


def evaluate(rules: Iterable[Rule], data: AlertInput) -> list[Incident]:
    """Every incident of every rule in `data`, by rule (in order), then by time."""
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
        incidents = evaluate(rules, data)
        for rule in rules:
            mine = [i for i in incidents if i.rule == rule.name]
            before = still_open.pop((rule.name, source), [])
            going_on = continues(bool(before), mine)
            fired = [Fired(i, source, (upload_id,)) for i in mine if i is not going_on]
            if going_on is not None:
                last = before.pop()
                merged = Incident(
                    rule.name, "", last.incident.start, going_on.end,
                    max(last.incident.value, going_on.value), going_on.message,
                    last.incident.open_at_start, going_on.open_at_end,
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
