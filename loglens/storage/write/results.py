"""Turn a merged analysis (summary, templates, report, findings) into the rows stored for
a blob."""

from __future__ import annotations

import json
import logging
from typing import Any

import polars as pl

from loglens.analysis.anomalies import Anomaly
from loglens.analysis.findings import Findings
from loglens.analysis.incidents import Incident
from loglens.analysis.lines import printable
from loglens.analysis.summary import Summary
from loglens.analysis.templates import Template
from loglens.storage.models import (
    CategoryCount,
    FormatInfo,
    IncidentFinding,
    LevelCount,
    MinuteCount,
    ReasonCount,
    RejectedSample,
    Results,
    RuleCount,
    SeriesCount,
    StoredAnomaly,
    StoredIncident,
    TemplateCategory,
    TemplateCount,
)
from loglens.storage.schema import from_micros, from_minutes

logger = logging.getLogger(__name__)

# The report's examples are cut to this length: the stored ones are the same text.
EXAMPLE_CHARS = 500


def results_from_analysis(
    summary: Summary,
    templates: dict[str, Template],
    report: dict[str, Any],
    findings: Findings | None = None,
) -> Results:
    """The rows of an analysis: counts, templates per level, timeline, rejections, formats,
    and (from `findings`) categories, anomalies and the series per template."""
    findings = findings or Findings()
    minutes = _MinuteTexts()
    return Results(
        entries=summary.entries,
        lines=summary.lines,
        bytes=summary.bytes,
        continuation_lines=summary.continuation_lines,
        directive_lines=summary.directive_lines,
        untimed_entries=summary.untimed_entries,
        filtered_lines=summary.filtered_lines,
        first_ts=from_micros(summary.first_ts),
        last_ts=from_micros(summary.last_ts),
        templates=len({template.id for template in templates.values()}),
        templates_approximate=summary.patterns_compacted,
        report=report,
        level_counts=tuple(
            LevelCount(level, count) for level, count in sorted(summary.levels.items()) if count
        ),
        template_counts=template_counts(summary, templates),
        timeline=tuple(
            MinuteCount(minutes[minute], level, count)
            for (minute, level), count in sorted(summary.timeline.items())
            if count
        ),
        rejected=tuple(ReasonCount(r, n) for r, n in sorted(summary.rejected.items()) if n),
        rejected_samples=tuple(
            RejectedSample(reason, summary.line_number(sample.pos), sample.text)
            for reason, samples in sorted(summary.rejected_samples.items())
            for sample in samples
        ),
        filtered=tuple(RuleCount(rule, n) for rule, n in sorted(summary.filtered.items()) if n),
        formats=tuple(
            FormatInfo(
                info.format,
                round(info.confidence, 3),
                info.lines,
                info.entries,
                info.bytes,
                info.timed,
                info.leveled,
                info.understood,
                info.layout,
                info.expects_levels,
            )
            for _name, info in sorted(summary.files.items())
        ),
        category_counts=tuple(
            CategoryCount(category, count, rank)
            for rank, (category, count) in enumerate(findings.categories.items())
        ),
        template_categories=tuple(
            TemplateCategory(tid, category, position)
            for tid, categories in sorted(findings.template_categories.items())
            for position, category in enumerate(categories)
        ),
        anomalies=tuple(
            stored_anomaly(rank, anomaly) for rank, anomaly in enumerate(findings.anomalies)
        ),
        incidents=tuple(
            stored_incident(rank, incident) for rank, incident in enumerate(findings.incidents)
        ),
        incident_findings=tuple(
            IncidentFinding(rank, anomaly_rank, position)
            for rank, incident in enumerate(findings.incidents)
            for position, anomaly_rank in enumerate(incident.findings)
        ),
        template_series=tuple(
            SeriesCount(minutes[minute], tid, level, count)
            for minute, tid, level, count in findings.series.iter_rows()
            if count
        ),
    )


class _MinuteTexts(dict[int, str]):
    """Minutes since the epoch in the storage's form, each formatted once: the timeline and
    the series name the same minutes again and again (160 k rows, 15 k minutes, for a
    gigabyte; formatting each row took half a second)."""

    def __missing__(self, minute: int) -> str:
        text = self[minute] = from_minutes(minute)
        return text


def stored_anomaly(rank: int, anomaly: Anomaly) -> StoredAnomaly:
    """An anomaly as its row: times in the storage form, lists as JSON text."""
    return StoredAnomaly(
        rank=rank,
        kind=anomaly.kind,
        score=float(anomaly.score),
        start_ts=_stamp(anomaly.start),
        end_ts=_stamp(anomaly.end),
        explanation=anomaly.explanation,
        template_ids=json.dumps(list(anomaly.template_ids)),
        flag_levels=json.dumps(list(anomaly.flag_levels)),
        examples=json.dumps(
            [{"file": file, "line": line} for file, line in anomaly.examples], ensure_ascii=False
        ),
        source=anomaly.source or None,
    )


def stored_incident(rank: int, incident: Incident) -> StoredIncident:
    """An incident as its row: times in the storage form, lists as JSON text."""
    return StoredIncident(
        rank=rank,
        incident_key=incident.id,
        title=incident.title,
        score=float(incident.score),
        start_ts=_stamp(incident.start),
        end_ts=_stamp(incident.end),
        source=incident.source or None,
        kinds=json.dumps(list(incident.kinds)),
        categories=json.dumps(list(incident.categories), ensure_ascii=False),
        templates=json.dumps([t.to_dict() for t in incident.templates], ensure_ascii=False),
        findings=len(incident.findings),
    )


def _stamp(micros: int) -> str:
    stored = from_micros(micros)
    assert stored is not None  # only None for None
    return stored


def template_counts(summary: Summary, templates: dict[str, Template]) -> tuple[TemplateCount, ...]:
    """Entries per (template, level), each with its earliest example and that one's line."""
    if not templates or summary.patterns.is_empty():
        return ()
    names = pl.DataFrame(
        {
            "pattern": list(templates),
            "template_id": [t.id for t in templates.values()],
            "template": [t.text for t in templates.values()],
        },
        schema={"pattern": pl.String, "template_id": pl.String, "template": pl.String},
    )
    grouped = (
        summary.patterns.join(names, on="pattern", how="inner")
        .sort("file", "offset", "row")
        .group_by("template_id", "level", maintain_order=True)
        .agg(
            pl.col("template").first(),
            pl.col("count").sum(),
            pl.col("file", "offset", "row", "example").first(),
        )
    )
    # Lines before each part, once per part: `line_number` per row would rescan them all.
    before = {
        (file, offset): summary.line_number((file, offset, 0)) - 1
        for file, offset in grouped.select("file", "offset").unique().iter_rows()
    }
    return tuple(
        TemplateCount(
            row["template_id"],
            row["level"],
            row["template"],
            row["count"],
            printable(row["example"], EXAMPLE_CHARS),
            before[row["file"], row["offset"]] + row["row"] + 1,
        )
        for row in grouped.iter_rows(named=True)
    )
