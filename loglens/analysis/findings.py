"""What a merged summary says beyond its counts: categories, the series per template, and
the anomalies. Runs once per analysis, on the merged summary and its templates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from loglens.analysis.anomalies import (
    Anomaly,
    History,
    TemplateInfo,
    detect,
    ranked,
    rare_templates,
)
from loglens.analysis.anomalies.model import ERROR_LEVELS
from loglens.analysis.categories import APPLICATION_ERROR, DEFAULT_CLASSIFIER, OTHER, Classifier
from loglens.analysis.incidents import Incident, group
from loglens.analysis.summary import Summary, pattern_key
from loglens.analysis.templates import Template

TEMPLATE_SERIES_SCHEMA = {
    "minute": pl.Int64,
    "template_id": pl.String,
    "level": pl.String,
    "count": pl.Int64,
}


@dataclass
class Findings:
    """Categories, per-template series and anomalies of one analysis."""

    categories: dict[str, int] = field(default_factory=dict)  # category -> entries
    template_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by id
    templates: dict[str, TemplateInfo] = field(default_factory=dict)  # by id
    series: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=TEMPLATE_SERIES_SCHEMA)
    )
    anomalies: list[Anomaly] = field(default_factory=list)
    # Related anomalies grouped (their findings are places in `anomalies`), best first.
    incidents: list[Incident] = field(default_factory=list)
    # Templates no category rule matches: an entry of one is "application error" at ERROR
    # or CRITICAL, else "other" (the template is listed under the first when it has any).
    unmatched: frozenset[str] = frozenset()


def find(
    summary: Summary,
    templates: dict[str, Template],
    classifier: Classifier = DEFAULT_CLASSIFIER,
    history: History | None = None,
    sources: Mapping[str, Summary] | None = None,
) -> Findings:
    """Classify the templates, count categories, and look for anomalies.

    Anomalies in time are looked for in each of `sources` (the summaries of the files that
    make `summary`, by name) on its own: files of different times merged would make every
    file a burst. Without `sources`, the summary is one source.
    """
    infos = template_infos(summary, templates)
    # Each template's rules are searched once (Python regexes over every template's text:
    # the dearest part of the findings on long templates).
    matched = {tid: classifier.rule_categories(info.text) for tid, info in infos.items()}
    template_categories = {
        tid: classifier.categories_of(matched[tid], info.levels) for tid, info in infos.items()
    }
    # Templates no rule matches: their ERROR and CRITICAL entries are application errors,
    # the others are "other" (each entry counts under what it is).
    unmatched = frozenset(tid for tid, found in matched.items() if not found)
    counts: Counter[str] = Counter()
    for tid, info in infos.items():
        if tid in unmatched:
            counts[APPLICATION_ERROR] += info.errors
            counts[OTHER] += info.count - info.errors
            continue
        for category in template_categories[tid]:
            counts[category] += info.count
    counts = +counts  # no category of no entries
    order = {name: rank for rank, name in enumerate(classifier.names)}
    categories = dict(sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], 0))))
    series = template_series(summary, templates)
    anomalies = []
    if sources is None or len(sources) <= 1:
        anomalies = detect(timeline_frame(summary), series, infos, history)
    else:
        for name, part in sorted(sources.items()):
            part_series = template_series(part, templates)
            part_infos = template_infos(part, templates)  # its own counts and examples
            anomalies += detect(timeline_frame(part), part_series, part_infos, history, name)
    anomalies += rare_templates(infos, series, [a.template_ids for a in anomalies])
    anomalies = ranked(anomalies)
    incidents = group(anomalies, template_categories, infos, series)
    return Findings(categories, template_categories, infos, series, anomalies, incidents, unmatched)


def _names(templates: dict[str, Template]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pattern": list(templates),
            "template_id": [t.id for t in templates.values()],
            "template": [t.text for t in templates.values()],
        },
        schema={"pattern": pl.String, "template_id": pl.String, "template": pl.String},
    )


def template_infos(summary: Summary, templates: dict[str, Template]) -> dict[str, TemplateInfo]:
    """Each template's text, entry count, levels and earliest entry, by template id."""
    if not templates or summary.patterns.is_empty():
        return {}
    grouped = (
        summary.patterns.join(_names(templates), on="pattern", how="inner")
        .sort("file", "offset", "row")
        .group_by("template_id", maintain_order=True)
        .agg(
            pl.col("template").first(),
            pl.col("count").sum(),
            pl.col("level").unique(),
            pl.col("file", "offset", "row").first(),
            errors=pl.col("count").filter(pl.col("level").is_in(ERROR_LEVELS)).sum(),
        )
    )
    before = {
        (file, offset): summary.line_number((file, offset, 0)) - 1
        for file, offset in grouped.select("file", "offset").unique().iter_rows()
    }
    return {
        row["template_id"]: TemplateInfo(
            row["template_id"],
            row["template"],
            row["count"],
            frozenset(row["level"]),
            (row["file"], before[row["file"], row["offset"]] + row["row"] + 1),
            row["errors"],
        )
        for row in grouped.iter_rows(named=True)
    }


def template_series(summary: Summary, templates: dict[str, Template]) -> pl.DataFrame:
    """The summary's series with template ids instead of pattern keys."""
    if summary.series.is_empty() or not templates:
        return pl.DataFrame(schema=TEMPLATE_SERIES_SCHEMA)
    ids = sorted({template.id for template in templates.values()})
    codes = {template_id: code for code, template_id in enumerate(ids)}
    keys = pl.DataFrame(
        {
            "pattern": list(templates),
            "code": [codes[template.id] for template in templates.values()],
        },
        schema={"pattern": pl.String, "code": pl.UInt32},
    ).select(key=pattern_key(pl.col("pattern")), code="code")
    # Templates by a 4-byte code while the rows are many (a gigabyte's series: most of a
    # million), by their ids once grouped; streaming, as the summary's merges.
    grouped = (
        summary.series.lazy()
        .join(keys.lazy(), on="key", how="inner")
        .group_by("minute", "code", "level")
        .agg(pl.col("count").sum())
        .collect(engine="streaming")
    )
    names = pl.DataFrame(
        {"code": range(len(ids)), "template_id": ids},
        schema={"code": pl.UInt32, "template_id": pl.String},
    )
    return (
        grouped.join(names, on="code")
        .cast({"minute": pl.Int64, "level": pl.String, "count": pl.Int64})
        .sort("minute", "template_id", "level")
        .select(list(TEMPLATE_SERIES_SCHEMA))
    )


def timeline_frame(summary: Summary) -> pl.DataFrame:
    """The summary's per-minute level counts as a table (minute, level, count)."""
    items = sorted(summary.timeline.items())
    return pl.DataFrame(
        {
            "minute": [minute for (minute, _), _ in items],
            "level": [level for (_, level), _ in items],
            "count": [count for _, count in items],
        },
        schema={"minute": pl.Int64, "level": pl.String, "count": pl.Int64},
    )
