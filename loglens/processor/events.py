"""Write the `--events` file: one JSON object per kept entry, in file and line order."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from loglens.analysis.summary import UNKNOWN_LEVEL, Summary
from loglens.analysis.templates import Template

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"


def write_events(
    parts_dir: Path, out: Path, summary: Summary, templates: dict[str, Template]
) -> int:
    """Join the workers' event parts with the templates into `out`; return the count.

    The file is written beside `out` and renamed into place, so a failure never leaves
    a half-written events file behind.
    """
    mapping = pl.DataFrame(
        {
            "pattern": list(templates),
            "template_id": [t.id for t in templates.values()],
            "template": [t.text for t in templates.values()],
        },
        schema={"pattern": pl.String, "template_id": pl.String, "template": pl.String},
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
                events.join(mapping, on="pattern", how="left", maintain_order="left").select(
                    "file",
                    line=pl.col("row").cast(pl.Int64) + first_line,
                    ts=pl.col("ts").dt.to_string(ISO_FORMAT),
                    level=pl.when(pl.col("level") != UNKNOWN_LEVEL).then(pl.col("level")),
                    message="message",
                    template_id="template_id",
                    template="template",
                ).write_ndjson(handle)
                written += events.height
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written
