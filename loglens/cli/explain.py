"""`python processor.py --explain-format FILE`: what loglens understood of a file's lines.

Shows the format detected (from the library, or learned from the file), how its header is
read, how much of a sample it understood, and a few sample lines split into timestamp,
level, component and message, so a user sees at once what was read and what was not.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from loglens.analysis.parse import ParseContext, parse_lines
from loglens.processor.inputs import Source
from loglens.processor.local import Options, detect_source

SHOWN_LINES = 8
_MESSAGE_CHARS = 80


def explain(source: Source, options: Options) -> dict[str, Any]:
    """The detected format of a source, its coverage of the sample, and parsed sample lines."""
    detection, _head, sample = detect_source(source, options)
    fmt = detection.format
    parsed = parse_lines(
        pl.Series("line", sample, dtype=pl.String), fmt, ParseContext(tz=options.timezone)
    )
    headers = parsed.filter(pl.col("header"))
    entries = headers.height

    def share(column: pl.Expr) -> float:
        return round(float(headers.select(column.mean()).item()), 3) if entries else 0.0

    shown: list[dict[str, Any]] = []
    for number, (line, row) in enumerate(zip(sample, parsed.iter_rows(named=True), strict=True)):
        if len(shown) == SHOWN_LINES:
            break
        ts = row["ts"]
        shown.append(
            {
                "line": number + 1,
                "text": line,
                "entry": bool(row["header"]),
                "ts": ts.isoformat().replace("+00:00", "Z") if ts is not None else None,
                "level": row["level"],
                "level_read": bool(row["level_read"]),
                "component": row["component"],
                "message": row["message"],
            }
        )
    return {
        "file": source.name,
        "format": fmt.name,
        "learned": fmt.learned,
        "description": fmt.description,
        "header": fmt.header or None,
        "ts_format": fmt.ts_format,
        "json_paths": dict(fmt.json_paths) or None,
        "sample_lines": len(sample),
        "entries": entries,
        "timestamps": share(pl.col("ts").is_not_null()),
        "levels": share(pl.col("level_read")),
        "confidence": round(detection.confidence, 3),
        "lines": shown,
    }


def render_explanation(report: dict[str, Any]) -> str:
    """The explanation as text for a terminal."""
    kind = "learned from this file" if report["learned"] else "from the library"
    out = [
        f"{report['file']}: format {report['format']} ({kind})",
        f"  {report['description']}",
    ]
    if report["header"]:
        out.append(f"  header regex: {report['header']}")
    if report["ts_format"]:
        out.append(f"  timestamp read as: {report['ts_format']}")
    if report["json_paths"]:
        paths = ", ".join(f"{field} at {path}" for field, path in report["json_paths"].items())
        out.append(f"  JSON fields: {paths}")
    out.append(
        f"  of {report['sample_lines']} sample lines, {report['entries']} start entries; "
        f"of these {report['timestamps']:.0%} have a timestamp, {report['levels']:.0%} a level "
        "read from the line"
    )
    out.append("Sample lines:")
    for line in report["lines"]:
        out.append(f"  {line['line']:>4}: {line['text'][:120]}")
        if not line["entry"]:
            out.append("        continues the entry above (or is not understood)")
            continue
        level = line["level"] or "-"
        if line["level"] and not line["level_read"]:
            level += " (guessed from the message)"
        out.append(f"        ts        {line['ts'] or '- (none read)'}")
        out.append(f"        level     {level}")
        if line["component"]:
            out.append(f"        component {line['component']}")
        message = line["message"]
        if len(message) > _MESSAGE_CHARS:
            message = message[: _MESSAGE_CHARS - 1] + "…"
        out.append(f"        message   {message}")
    out.append(
        "If this is wrong, force a format with --format NAME, or describe it in a FORMATS_FILE "
        "(see --list-formats and the README)."
    )
    return "\n".join(out) + "\n"
