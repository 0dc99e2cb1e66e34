"""Group findings into incidents: what a person reads first. Pure code, no I/O.

Findings (anomalies) of one source are *related* when their windows overlap, allowing a
gap of `GAP_MINUTES` between them, and they concern the same thing: one of them is about
the whole stream (a spike, a silence, a level shift), or they share a template, or they
share a category (not the catch-all ones). A finding's window counts for this only over
its first `LINK_MINUTES` (a template first seen at noon and seen ever since began at noon;
it must not pull every later finding into its incident).

An incident grows in one sweep in time order: a finding joins the earliest incident begun
at most `LINK_MINUTES` before it that holds a finding related to it, so a long run of
findings cannot chain into one endless incident. A spike, silence or shift lasting more
than `BROAD_MINUTES` (a whole upload's error share against earlier uploads, say) is broad:
it joins the best incident it overlaps, as evidence, rather than opening one of its own.

An incident has a window (its findings' earliest start to latest end, broad ones left
out unless all are), a score (its best finding's, plus `CORROBORATION` for each further
kind of finding that agrees), a title after its best finding, the templates that changed
most in its window against the rest of the log, and its findings (their places in the
anomaly list). Its id is a hash of its source and findings, so the same findings give the
same incident wherever they are computed; incidents are ordered by score, then start,
then id.

Findings about templates only make an incident when one of them is a new template with
ERROR or CRITICAL entries that recurs (at least `RECURS` entries): a rare template, or odd
messages seen once or twice, stay among the anomalies. A spike, a silence or a level
shift is always an incident.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from loglens.analysis.anomalies import Anomaly, TemplateInfo
from loglens.analysis.anomalies.model import iso
from loglens.analysis.categories import APPLICATION_ERROR, OTHER
from loglens.analysis.vocabulary import FINE_LEVELS, MICROS_PER_MINUTE

GAP_MINUTES = 10
LINK_MINUTES = 60
RECURS = 5
# A finding about the whole stream lasting longer than this is broad (see `_broad`).
BROAD_MINUTES = 2 * LINK_MINUTES
CORROBORATION = 1.0
TOP_TEMPLATES = 5
# Kinds about the whole stream of a source: they relate to any finding they overlap.
STREAM_KINDS = frozenset({"error_spike", "volume_spike", "silence", "level_shift"})
# Categories every unclassified template falls into: sharing one says nothing.
CATCH_ALL = frozenset({OTHER, APPLICATION_ERROR})
TITLES = {
    "error_spike": "Error spike",
    "volume_spike": "Volume spike",
    "silence": "Silence",
    "level_shift": "Level shift",
    "new_template": "New template",
    "rare_template": "Rare template",
}
_HOUR = 60


@dataclass(frozen=True)
class TemplateChange:
    """A template of an incident: its entries in the window and those its usual rate
    would give there."""

    template_id: str
    text: str
    entries: int
    expected: float

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data."""
        return {
            "template_id": self.template_id,
            "template": self.text,
            "entries": self.entries,
            "expected": round(self.expected, 1),
        }


@dataclass(frozen=True)
class Incident:
    """Related findings of one source: when, how bad, what changed, and the evidence."""

    id: str
    title: str
    score: float
    start: int  # microseconds since the epoch, inclusive
    end: int  # exclusive
    source: str
    kinds: tuple[str, ...]  # of its findings, most telling first
    categories: tuple[str, ...]
    findings: tuple[int, ...]  # places in the anomaly list, best first
    templates: tuple[TemplateChange, ...] = ()

    def to_dict(self, anomalies: Sequence[Anomaly] | None = None) -> dict[str, Any]:
        """The incident as JSON-ready data; with `anomalies` (the list its findings index)
        each finding in full, else their places."""
        data: dict[str, Any] = {
            "incident_id": self.id,
            "title": self.title,
            "score": round(self.score, 2),
            "start": iso(self.start),
            "end": iso(self.end),
            "source": self.source or None,
            "kinds": list(self.kinds),
            "categories": list(self.categories),
            "finding_count": len(self.findings),
            "templates": [change.to_dict() for change in self.templates],
        }
        if anomalies is None:
            data["findings"] = list(self.findings)
        else:
            data["findings"] = [anomalies[i].to_dict() for i in self.findings]
        return data


def group(
    anomalies: Sequence[Anomaly],
    template_categories: Mapping[str, Sequence[str]] | None = None,
    templates: Mapping[str, TemplateInfo] | None = None,
    series: pl.DataFrame | None = None,
    gap_minutes: float = GAP_MINUTES,
) -> list[Incident]:
    """The incidents of `anomalies` (a ranked list: an incident's findings are places in
    it), best first. `template_categories` and `templates` (by id) give the categories and
    texts; `series` (minute, template_id, level, count) the templates that changed."""
    categories = template_categories or {}
    texts = {tid: info.text for tid, info in (templates or {}).items()}
    gap = int(gap_minutes * MICROS_PER_MINUTE)
    link = LINK_MINUTES * MICROS_PER_MINUTE
    shared = [_categories(a, categories) for a in anomalies]
    order = sorted(range(len(anomalies)), key=lambda i: _key(anomalies[i]))
    # One sweep in time order: a finding joins the earliest incident still open (begun at
    # most `LINK_MINUTES` before it) with a member related to it and near enough; else it
    # opens one. Bounded so, many findings in a row cannot chain into one endless incident.
    broad = [i for i in order if _broad(anomalies[i])]
    clusters: list[list[int]] = []
    open_clusters: list[list[int]] = []
    for i in order:
        if i in broad:
            continue
        b = anomalies[i]
        open_clusters = [c for c in open_clusters if b.start - anomalies[c[0]].start <= link]
        home = None
        for cluster in open_clusters:
            for j in cluster:
                a = anomalies[j]
                reach = min(a.end, a.start + link) + gap
                if (
                    a.source == b.source
                    and b.start <= reach
                    and _related(a, b, shared[j], shared[i])
                ):
                    home = cluster
                    break
            if home is not None:
                break
        if home is None:
            home = []
            clusters.append(home)
            open_clusters.append(home)
        home.append(i)
    for i in broad:
        _attach(i, anomalies, clusters)
    found = []
    for places in clusters:
        items = [anomalies[i] for i in places]
        if not _worth(items, templates or {}):
            continue
        found.append(_incident(places, items, shared, texts))
    found.sort(key=lambda incident: (-incident.score, incident.start, incident.id))
    if series is not None and not series.is_empty() and found:
        found = _with_changes(found, anomalies, series, texts)
    return found


def _broad(a: Anomaly) -> bool:
    """Whether a finding is about a long stretch of the stream (a whole upload's error
    share against earlier ones, a long level shift): evidence for what happened inside it."""
    return a.kind in STREAM_KINDS and a.end - a.start > BROAD_MINUTES * MICROS_PER_MINUTE


def _attach(i: int, anomalies: Sequence[Anomaly], clusters: list[list[int]]) -> None:
    """Put a broad finding in the incident of its source it overlaps that scores most
    (then the earliest); alone when it overlaps none."""
    a = anomalies[i]
    best: list[int] | None = None
    best_key: tuple[float, int] | None = None
    for cluster in clusters:
        items = [anomalies[j] for j in cluster]
        if items[0].source != a.source:
            continue
        start, end = min(x.start for x in items), max(x.end for x in items)
        if start >= a.end or end <= a.start:
            continue
        key = (-max(x.score for x in items), start)
        if best_key is None or key < best_key:
            best, best_key = cluster, key
    if best is None:
        clusters.append([i])
    else:
        best.append(i)


def _key(a: Anomaly) -> tuple[int, int, str, str, tuple[str, ...]]:
    return (a.start, a.end, a.kind, a.source, a.template_ids)


def _categories(a: Anomaly, categories: Mapping[str, Sequence[str]]) -> frozenset[str]:
    """The telling categories of an anomaly's templates."""
    found = {c for tid in a.template_ids for c in categories.get(tid, ())}
    return frozenset(found - CATCH_ALL)


def _related(
    a: Anomaly, b: Anomaly, a_categories: frozenset[str], b_categories: frozenset[str]
) -> bool:
    """Whether two overlapping findings concern the same thing."""
    if a.kind in STREAM_KINDS or b.kind in STREAM_KINDS:
        return True
    return bool(set(a.template_ids) & set(b.template_ids) or a_categories & b_categories)


def _worth(items: Sequence[Anomaly], templates: Mapping[str, TemplateInfo]) -> bool:
    """Whether related findings make an incident: one about the whole stream does; findings
    of templates only do when one of them is new, has errors and recurs (`RECURS` entries
    or more): a handful of odd messages, each seen once or twice, is not an incident."""
    if any(a.kind in STREAM_KINDS for a in items):
        return True
    for a in items:
        if a.kind != "new_template":
            continue
        infos = [templates[tid] for tid in a.template_ids if tid in templates]
        if any(info.errors and info.count >= RECURS for info in infos):
            return True
    return False


def _incident(
    places: Sequence[int],
    items: Sequence[Anomaly],
    shared: Sequence[frozenset[str]],
    texts: Mapping[str, str],
) -> Incident:
    """One incident of related findings (their places and the findings)."""
    ranked = sorted(zip(places, items, strict=True), key=lambda p: (-p[1].score, *_key(p[1])))
    best = ranked[0][1]
    kinds = sorted(
        {a.kind for a in items}, key=lambda k: (-max(a.score for a in items if a.kind == k), k)
    )
    score = best.score + CORROBORATION * (len(kinds) - 1)
    # A broad finding is evidence; the incident's window is that of the others.
    timed = [a for a in items if not _broad(a)] or list(items)
    categories = sorted({c for i in places for c in shared[i]})
    digest = hashlib.sha256()
    digest.update(best.source.encode())
    for _, a in sorted(ranked, key=lambda p: _key(p[1])):
        digest.update(f"|{a.kind}:{a.start}:{a.end}:{','.join(a.template_ids)}".encode())
    return Incident(
        id=digest.hexdigest()[:12],
        title=_title(best, len(items), categories, texts),
        score=score,
        start=min(a.start for a in timed),
        end=max(a.end for a in timed),
        source=best.source,
        kinds=tuple(kinds),
        categories=tuple(categories),
        findings=tuple(place for place, _ in ranked),
    )


def _title(best: Anomaly, count: int, categories: Sequence[str], texts: Mapping[str, str]) -> str:
    """'Error spike (database): 'connection to <*> failed' and 3 more findings in app.log'."""
    title = TITLES.get(best.kind, best.kind.replace("_", " ").capitalize())
    if categories:
        title += f" ({', '.join(categories[:2])})"
    named = next((texts[tid] for tid in best.template_ids if tid in texts), None)
    if named is not None:
        shown = named if len(named) <= 60 else named[:57] + "..."
        title += f": '{shown}'"
    if count > 1:
        title += f" and {count - 1} more finding{'s' if count > 2 else ''}"
    if best.source:
        title += f" in {best.source}"
    return title


def _with_changes(
    found: list[Incident],
    anomalies: Sequence[Anomaly],
    series: pl.DataFrame,
    texts: Mapping[str, str],
) -> list[Incident]:
    """Each incident with the templates of its findings that changed most in its window."""
    wanted = sorted({tid for i in found for f in i.findings for tid in anomalies[f].template_ids})
    if not wanted:
        return found
    rows = series.filter(pl.col("template_id").is_in(wanted)).select(
        "minute", "template_id", pl.col("level").is_in(FINE_LEVELS).alias("fine"), "count"
    )
    if rows.is_empty():
        return found
    first = int(series["minute"].min())  # type: ignore[arg-type]
    last = int(series["minute"].max())  # type: ignore[arg-type]
    totals: dict[tuple[str, bool], int] = {
        (tid, fine): int(n)
        for tid, fine, n in rows.group_by("template_id", "fine")
        .agg(pl.col("count").sum())
        .iter_rows()
    }
    changed = []
    for incident in found:
        ids = sorted({tid for f in incident.findings for tid in anomalies[f].template_ids})
        if not ids:
            changed.append(incident)
            continue
        start = incident.start // MICROS_PER_MINUTE
        end = max(start + 1, -(-incident.end // MICROS_PER_MINUTE))
        # Levels below WARNING are counted per hour: they are measured only over an incident
        # of an hour or more (its window widened to whole hours); a shorter one would count
        # a whole hour's entries as its own.
        spans = {True: (start, end)}
        if end - start >= _HOUR:
            spans[False] = (start // _HOUR * _HOUR, -(-end // _HOUR) * _HOUR)
        ids = [tid for tid in ids if any(totals.get((tid, fine), 0) for fine in spans)]
        inside: dict[str, int] = {}
        expected: dict[str, float] = {}
        mine = rows.filter(pl.col("template_id").is_in(ids))
        for fine, (low, high) in spans.items():
            counted = (
                mine.filter(
                    pl.col("fine") == fine, pl.col("minute") >= low, pl.col("minute") < high
                )
                .group_by("template_id")
                .agg(pl.col("count").sum())
            )
            in_window = dict(counted.iter_rows())
            width = high - low
            rest = max(1, (last - first + (1 if fine else _HOUR)) - width)
            for tid in ids:
                n = int(in_window.get(tid, 0))
                outside = totals.get((tid, fine), 0) - n
                inside[tid] = inside.get(tid, 0) + n
                expected[tid] = expected.get(tid, 0.0) + outside * width / rest
        top = sorted(ids, key=lambda t: (-(inside[t] - expected[t]), t))[:TOP_TEMPLATES]
        if not top:
            changed.append(incident)
            continue
        changes = tuple(
            TemplateChange(tid, texts.get(tid, ""), inside[tid], expected[tid]) for tid in top
        )
        changed.append(
            Incident(
                incident.id, incident.title, incident.score, incident.start, incident.end,
                incident.source, incident.kinds, incident.categories, incident.findings, changes,
            )
        )  # fmt: skip
    return changed
