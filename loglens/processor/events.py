"""Write the `--events` file: one JSON object per kept entry, in file and line order."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from loglens.analysis.anomalies import KINDS, Anomaly
from loglens.analysis.anomalies.model import ERROR_LEVELS
from loglens.analysis.categories import APPLICATION_ERROR, OTHER
from loglens.analysis.findings import Findings
from loglens.analysis.summary import UNKNOWN_LEVEL, Summary
from loglens.analysis.templates import Template

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


def anomaly_expr(anomalies: list[Anomaly]) -> pl.Expr:
    """The kind of the first anomaly (in `KINDS` order, then by score) covering each entry
    (columns file, ts, level, template_id), or null."""
    ranked = sorted(anomalies, key=lambda a: (KINDS.index(a.kind), -a.score, a.start))
    micros = pl.col("ts").cast(pl.Int64)
    kind: pl.Expr = pl.lit(None, pl.String)
    for anomaly in reversed(ranked):  # the first in rank is the outermost `when`
        if not anomaly.flag_levels:
            continue
        covered = (micros >= anomaly.start) & (micros < anomaly.end)
        covered &= pl.col("level").is_in(anomaly.flag_levels)
        if anomaly.template_ids:
            covered &= pl.col("template_id").is_in(anomaly.template_ids)
        if anomaly.source:
            covered &= pl.col("file") == anomaly.source
        kind = pl.when(covered).then(pl.lit(anomaly.kind)).otherwise(kind)
    return kind


def write_events(
    parts_dir: Path,
    out: Path,
    summary: Summary,
    templates: dict[str, Template],
    findings: Findings | None = None,
) -> int:
    """Join the workers' event parts with the templates into `out`; return the count.

    The file is written beside `out` and renamed into place, so a failure never leaves
    a half-written events file behind.
    """
    findings = findings or Findings()
    categories = findings.template_categories
    mapping = pl.DataFrame(
        {
            "pattern": list(templates),
            "template_id": [t.id for t in templates.values()],
            "template": [t.text for t in templates.values()],
            "categories": [list(categories.get(t.id, ())) for t in templates.values()],
        },
        schema={
            "pattern": pl.String,
            "template_id": pl.String,
            "template": pl.String,
            "categories": pl.List(pl.String),
        },
    )
    anomaly = anomaly_expr(findings.anomalies)
    # An entry of a template no rule matches is what its level makes it.
    fallback = (
        pl.when(pl.col("level").is_in(ERROR_LEVELS))
        .then(pl.lit([APPLICATION_ERROR]))
        .otherwise(pl.lit([OTHER]))
    )
    entry_categories = (
        pl.when(pl.col("template_id").is_in(sorted(findings.unmatched)))
        .then(fallback)
        .otherwise(pl.col("categories"))
    )
    written = 0
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as handle:
            for part in sorted(parts_dir.glob("*.parquet")):
                events = pl.read_parquet(part)
                if events.is_empty():
                    continue
                file, offset = events["file"][0], events["offset"][0]
                first_line = summary.line_number((file, offset, 0))
                if not summary.aliases.is_empty():
                    # Patterns the summary folded into templates are counted under those.
                    events = events.join(
                        summary.aliases, on="pattern", how="left", maintain_order="left"
                    ).with_columns(pattern=pl.col("alias").fill_null(pl.col("pattern")))
                events.join(mapping, on="pattern", how="left", maintain_order="left").select(
                    "file",
                    line=pl.col("row").cast(pl.Int64) + first_line,
                    ts=pl.col("ts").dt.to_string(ISO_FORMAT),
                    level=pl.when(pl.col("level") != UNKNOWN_LEVEL).then(pl.col("level")),
                    message="message",
                    template_id="template_id",
                    template="template",
                    category=entry_categories.list.first(),
                    categories=entry_categories,
                    anomaly=anomaly,
                ).write_ndjson(handle)
                written += events.height
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
