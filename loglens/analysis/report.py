"""Turn a merged summary and its templates into the report: a JSON-ready dict and its text."""

from __future__ import annotations

import math
import shlex
from datetime import UTC, datetime
from typing import Any

import polars as pl

from loglens.analysis.findings import Findings
from loglens.analysis.lines import printable
from loglens.analysis.summary import UNKNOWN_LEVEL, FileInfo, Summary
from loglens.analysis.templates import Template

LEVEL_ORDER = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", UNKNOWN_LEVEL)
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})
# The text report lists this many anomalies (the JSON report all of them).
SHOWN_ANOMALIES = 10
# The text report lists this many incidents (the JSON report all of them).
SHOWN_INCIDENTS = 10
# The text report warns about a file whose entries have timestamps less often than this.
FEW_TIMESTAMPS = 0.5


def iso(micros: int | None) -> str | None:
    """Format microseconds since the epoch as ISO-8601 UTC (`Z`), or None."""
    if micros is None:
        return None
    stamp = datetime.fromtimestamp(micros / 1_000_000, UTC)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if micros % 1_000_000:
        text += f".{micros % 1_000_000:06d}".rstrip("0")
    return text + "Z"


def top_templates(
    summary: Summary, templates: dict[str, Template], levels: frozenset[str], limit: int
) -> list[dict[str, Any]]:
    """The `limit` templates with most entries at `levels`, each with its earliest example."""
    if not templates:
        return []
    names = pl.DataFrame(
        {
            "pattern": list(templates),
            "template_id": [t.id for t in templates.values()],
            "template": [t.text for t in templates.values()],
        }
    )
    ranked = (
        summary.patterns.filter(pl.col("level").is_in(sorted(levels)))
        .join(names, on="pattern", how="inner")
        .sort("file", "offset", "row")
        .group_by("template_id", "template", maintain_order=True)
        .agg(pl.col("count").sum(), pl.col("file", "offset", "row", "example").first())
        .sort(["count", "template"], descending=[True, False])
        .head(limit)
    )
    return [
        {
            "template": row["template"],
            "template_id": row["template_id"],
            "count": row["count"],
            "example": printable(row["example"], 500),
            "file": row["file"],
            "line": summary.line_number((row["file"], row["offset"], row["row"])),
        }
        for row in ranked.iter_rows(named=True)
    ]


def build_report(
    summary: Summary,
    templates: dict[str, Template],
    top_n: int = 5,
    findings: Findings | None = None,
) -> dict[str, Any]:
    """The report of a merged summary, as plain JSON-ready data."""
    findings = findings or Findings()
    top_errors = top_templates(summary, templates, ERROR_LEVELS, top_n)
    for item in top_errors:
        item["categories"] = list(findings.template_categories.get(item["template_id"], ()))
    return {
        "entries": summary.entries,
        "lines": summary.lines,
        "bytes": summary.bytes,
        "continuation_lines": summary.continuation_lines,
        "directive_lines": summary.directive_lines,
        "levels": {lvl: summary.levels[lvl] for lvl in LEVEL_ORDER if summary.levels.get(lvl)},
        "top_errors": top_errors,
        "first_timestamp": iso(summary.first_ts),
        "last_timestamp": iso(summary.last_ts),
        "untimed_entries": summary.untimed_entries,
        "templates": len({t.id for t in templates.values()}),
        "templates_approximate": summary.patterns_compacted,
        "rejected": dict(sorted(summary.rejected.items(), key=lambda kv: (-kv[1], kv[0]))),
        "rejected_samples": {
            reason: [
                {"file": s.pos[0], "line": summary.line_number(s.pos), "text": s.text}
                for s in samples
            ]
            for reason, samples in sorted(summary.rejected_samples.items())
        },
        "repaired": dict(sorted(summary.repaired.items())),
        "filtered": dict(sorted(summary.filtered.items())),
        "filtered_lines": summary.filtered_lines,
        "formats": [format_item(name, info) for name, info in sorted(summary.files.items())],
        "categories": dict(findings.categories),
        "anomalies": [anomaly.to_dict() for anomaly in findings.anomalies],
        # Each incident's `findings` are places in `anomalies`.
        "incidents": [incident.to_dict() for incident in findings.incidents],
    }


def format_item(name: str, info: FileInfo) -> dict[str, Any]:
    """How one file was read: its format and layout, and the shares of its entries with a
    timestamp, with a level read from the line, and with either (`confidence`)."""
    return {
        "file": name,
        "format": info.format,
        "confidence": round(info.confidence, 3),
        "timestamps": share(info.timed, info.entries),
        "levels": share(info.leveled, info.entries),
        "layout": info.layout,
        "expects_levels": info.expects_levels,
        "lines": info.lines,
        "entries": info.entries,
        "bytes": info.bytes,
        "timed": info.timed,
        "leveled": info.leveled,
        "understood": info.understood,
    }


def share(count: int, entries: int) -> float:
    """`count` as a share of `entries`, rounded to 3 places; 0.0 without entries."""
    return round(count / entries, 3) if entries else 0.0


def _when(iso_text: str | None) -> str:
    if iso_text is None:
        return "none"
    return iso_text.replace("T", " ").removesuffix("Z").split(".")[0]


def render_text(report: dict[str, Any]) -> str:
    """The classic English report, followed by entries, rejections and formats."""
    out = ["Statistics:", "- Total logs per level:"]
    out += [f"  - {level}: {count:,}" for level, count in report["levels"].items()] or ["  none"]
    top = report["top_errors"]
    out.append(f"- Top {len(top) or 5} error messages:" + ("" if top else " none"))
    out += [
        f'  {i}. "{t["template"]}" ({t["count"]:,} {"time" if t["count"] == 1 else "times"})'
        for i, t in enumerate(top, 1)
    ]
    out.append(f"- First log: {_when(report['first_timestamp'])}")
    out.append(f"- Last log: {_when(report['last_timestamp'])}")
    out.append("")
    out += _findings_text(report)
    out.append(
        f"Entries: {report['entries']:,} from {report['lines']:,} lines "
        f"({report['continuation_lines']:,} continuation lines of multi-line entries; "
        f"{report['templates']:,} templates; times in UTC)"
    )
    if report["templates_approximate"]:
        out.append(
            "  so many distinct messages that they were folded into templates as they were "
            "merged: the grouping may differ slightly from one of everything at once"
        )
    if report["untimed_entries"]:
        out.append(f"  {report['untimed_entries']:,} entries carry no timestamp")
    # Reports stored before directive lines were counted lack them.
    if report.get("directive_lines"):
        out.append(f"Directive and comment lines: {report['directive_lines']:,}")
    rejected = report["rejected"]
    out.append(f"Rejected lines: {sum(rejected.values()):,}")
    for reason, count in rejected.items():
        out.append(f"  - {reason}: {count:,}")
        for sample in report["rejected_samples"].get(reason, [])[:1]:
            out.append(f"      e.g. {sample['file']}:{sample['line']}: {sample['text']}")
    for reason, count in report["repaired"].items():
        out.append(f"Repaired lines ({reason}, kept as entries): {count:,}")
    if report["filtered"]:
        out.append(f"Filtered (irrelevant) lines: {report['filtered_lines']:,}")
        out += [f"  - {rule}: {count:,} entries" for rule, count in report["filtered"].items()]
    out.append("Formats:")
    for item in report["formats"]:
        out += _format_text(item)
    return "\n".join(out) + "\n"


def _format_text(item: dict[str, Any]) -> list[str]:
    """A file's format line and, when its timestamps or levels could not be read, one
    warning line. Reports stored before these shares were counted lack them: no warning."""
    line = f"  - {item['file']}: {item['format']}, {item['lines']:,} lines, "
    line += f"{item['entries']:,} entries"
    stamps, levels = item.get("timestamps"), item.get("levels")
    if stamps is None or levels is None:
        return [line]
    line += f"; timestamps {_percent(stamps)}, levels {_percent(levels)}"
    missing = []
    if item["entries"] and stamps < FEW_TIMESTAMPS:
        missing.append(
            "no timestamps" if stamps == 0 else f"timestamps of only {_percent(stamps)} of entries"
        )
    if item["entries"] and levels == 0 and item.get("expects_levels"):
        missing.append("no levels")
    if not missing:
        return [line]
    layout = f" (layout: {item['layout']})" if item.get("layout") else ""
    # Stats over several uploads of a format name them "N files".
    target = "on each" if item.get("files", 1) > 1 else shlex.quote(item["file"])
    return [
        line,
        f"  ! {item['file']}: {' and '.join(missing)} could be read{layout}; "
        f"try --explain-format {target} or a FORMATS_FILE entry",
    ]


def _percent(share: float) -> str:
    """A share as a whole percentage, rounded down: 100% only for all, 0% only for none."""
    if 0 < share < 0.01:
        return "<1%"
    return f"{math.floor(share * 100 + 1e-9)}%"


def _findings_text(report: dict[str, Any]) -> list[str]:
    """The incidents, the categories and the anomalies, most telling first."""
    out = _incidents_text(report)
    categories = report.get("categories") or {}
    if categories:
        out.append("Categories (entries; an entry counts in each category of its template):")
        out += [f"  - {name}: {count:,}" for name, count in categories.items()]
    anomalies = report.get("anomalies") or []
    out.append(f"Anomalies: {len(anomalies):,}" + ("" if anomalies else " none found"))
    for anomaly in anomalies[:SHOWN_ANOMALIES]:
        out.append(
            f"  - [{anomaly['kind']}, score {anomaly['score']:.1f}] {anomaly['explanation']}"
        )
        examples = ", ".join(f"{e['file']}:{e['line']}" for e in anomaly["examples"][:3])
        if examples:
            out.append(f"      e.g. {examples}")
    if len(anomalies) > SHOWN_ANOMALIES:
        out.append(f"  … and {len(anomalies) - SHOWN_ANOMALIES:,} more (--json lists them all)")
    out.append("")
    return out


def _incidents_text(report: dict[str, Any]) -> list[str]:
    """The incidents, best first: title, window, score and how many findings each holds.
    Reports stored before incidents were found have none: nothing is said."""
    incidents = report.get("incidents")
    if incidents is None:
        return []
    total = int(report.get("incidents_total", len(incidents)))
    out = [f"Incidents: {total:,} (related anomalies grouped)" if total else "Incidents: none"]
    for item in incidents[:SHOWN_INCIDENTS]:
        count = item["finding_count"]
        out.append(
            f"  - {_when(item['start'])} to {_when(item['end'])} [score {item['score']:.1f}, "
            f"{count:,} finding{'s' if count != 1 else ''}] {item['title']}"
        )
        changed = [t for t in item.get("templates", []) if t["entries"] > t["expected"]][:2]
        for change in changed:
            out.append(
                f"      {change['entries']:,} entries (usually {change['expected']:,.1f}) of "
                f"'{change['template']}'"
            )
    if total > min(len(incidents), SHOWN_INCIDENTS):
        out.append(
            f"  … and {total - min(len(incidents), SHOWN_INCIDENTS):,} more (--json lists them)"
        )
    return out
