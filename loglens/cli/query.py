"""`python -m loglens query SUBCOMMAND`: read the results database (DB_PATH) from a terminal.

    loglens query uploads [--operator OP] [--status S] [--since T] [--until T]
    loglens query stats [--upload ID | --operator OP] [--start T] [--end T] [--top N]
    loglens query top-errors N [filters]       loglens query templates [--search TEXT]
    loglens query timeline [--bucket auto|minute|hour|day] [--level L]
    loglens query rejected [filters]
    loglens query incidents [--kind K] [--min-score X] [--category C] [--template ID]
    loglens query anomalies [--kind K] [--min-score X] [--template ID] [filters]
    loglens query categories [filters]      loglens query trend --by level|template|category
    loglens query diff A B                  (A, B: upload ids, or windows START..END)

Times are ISO-8601 (`2024-05-01`, `2024-05-01T12:00`, a zone or UTC), `now`, or relative
(`-15m`, `-1h`, `-2d`). `--json` prints the Reader's dicts for machines; otherwise tables
(rich; plain ASCII when stdout is not a terminal). Exit status: 0 ok, 1 for an unknown
upload id, a missing database or a storage error, 2 for a usage error.

It reads the SQLite file directly, so it sees every operator's uploads: whoever can read
the file reads everything (file access is admin access; the API's tokens scope reads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loglens.cli.query_output import FINDINGS as _FINDINGS
from loglens.cli.query_output import cells
from loglens.cli.query_output import console as _console
from loglens.cli.query_output import table as _table
from loglens.config import config_from_environment
from loglens.errors import ConfigError, StorageError
from loglens.storage.dialect import describe
from loglens.storage.read.filters import (
    ANOMALY_KINDS,
    BUCKETS,
    RATES,
    STATUSES,
    TREND_BY,
    AnomalyFilters,
    Filters,
    IncidentFilters,
    Page,
    QueryError,
    parse_side,
    parse_time,
)
from loglens.storage.read.queries import Reader

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
_BAR_MARKS = {"TRACE": ".", "DEBUG": ":", "INFO": "=", "NOTICE": "n", "WARNING": "w",
              "ERROR": "E", "CRITICAL": "!", "UNKNOWN": "?"}  # fmt: skip
_BAR_STYLES = {"TRACE": "grey50", "DEBUG": "blue", "INFO": "green", "NOTICE": "cyan",
               "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold magenta",
               "UNKNOWN": "white"}  # fmt: skip
_LABELS = {"minute": 16, "hour": 13, "day": 10}  # characters of a bucket's start shown
_MAX_GAP_ROWS = 200  # fill empty buckets of a timeline when that gives at most this many rows


class UsageError(Exception):
    """A flag's value is wrong (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The query command's flags: global ones, then one parser per subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, default=argparse.SUPPRESS,
                        help="results database (DB_PATH, data/loglens.db)")  # fmt: skip
    common.add_argument("--env-file", default=argparse.SUPPRESS, help="settings file (.env)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON for machines")  # fmt: skip
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--operator", metavar="OP", help="only this operator's uploads")
    filters.add_argument("--upload", metavar="ID", type=int, help="only this upload")
    filters.add_argument("--start", "--since", metavar="T", help="from this time (inclusive)")
    filters.add_argument("--end", "--until", metavar="T", help="to this time (exclusive)")
    logged = argparse.ArgumentParser(add_help=False, parents=[filters])
    logged.add_argument("--level", metavar="LEVEL", help="only entries of this level")
    paged = argparse.ArgumentParser(add_help=False)
    paged.add_argument("--limit", type=int, default=50, help="rows to show (50, at most 1000)")
    paged.add_argument("--offset", type=int, default=0, help="rows to skip (0)")
    paged.add_argument("--sort", metavar="NAME", help="sort by NAME, -NAME to reverse")

    parser = argparse.ArgumentParser(
        prog="loglens query", parents=[common],
        description="Query the results database the server writes (DB_PATH).",
        epilog="Times: ISO-8601 (no zone = UTC), now, or -15m / -1h / -2d. start/end are "
        "log time, except for uploads (received time).",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    uploads = sub.add_parser("uploads", parents=[common, filters, paged],
                             help="list uploads (received --since/--until)")  # fmt: skip
    uploads.add_argument("--status", choices=STATUSES, help="upload status or job state")
    stats = sub.add_parser("stats", parents=[common, logged], help="the classic report")
    stats.add_argument("--top", type=int, default=5, help="error templates to show (5)")
    top = sub.add_parser("top-errors", parents=[common, logged], help="top error templates")
    top.add_argument("n", type=int, metavar="N", help="how many")
    top.add_argument("--search", metavar="TEXT", help="templates containing TEXT")
    templates = sub.add_parser("templates", parents=[common, logged, paged],
                               help="message templates, most entries first")  # fmt: skip
    templates.add_argument("--search", metavar="TEXT", help="templates containing TEXT")
    timeline = sub.add_parser("timeline", parents=[common, logged], help="entries over time")
    timeline.add_argument("--bucket", choices=("auto", *BUCKETS), default="auto",
                          help="bucket size (auto: fit the time range)")  # fmt: skip
    sub.add_parser("rejected", parents=[common, filters], help="rejected lines by reason")
    incidents = sub.add_parser("incidents", parents=[common, logged, paged],
                               help="related anomalies grouped, with their findings")  # fmt: skip
    incidents.add_argument("--kind", choices=ANOMALY_KINDS, help="with a finding of this kind")
    incidents.add_argument("--min-score", type=float, metavar="X", help="only scores >= X")
    incidents.add_argument("--category", metavar="C", help="only those of this category")
    incidents.add_argument("--template", metavar="ID", help="with a finding naming this template")
    anomalies = sub.add_parser("anomalies", parents=[common, logged, paged],
                               help="spikes, silences, new and rare templates, ...")  # fmt: skip
    anomalies.add_argument("--kind", choices=ANOMALY_KINDS, help="only this kind")
    anomalies.add_argument("--min-score", type=float, metavar="X", help="only scores >= X")
    anomalies.add_argument("--template", metavar="ID", help="only those naming this template")
    categories = sub.add_parser("categories", parents=[common, logged],
                                help="entries per category (database, network, ...)")  # fmt: skip
    categories.add_argument("--shown", type=int, default=3, help="templates per category (3)")
    trend = sub.add_parser("trend", parents=[common, logged],
                           help="entries over time per level, template or category")  # fmt: skip
    trend.add_argument("--by", choices=TREND_BY, default="level", help="what to count (level)")
    trend.add_argument("--key", metavar="K", help="one level, template id or category")
    trend.add_argument("--bucket", choices=BUCKETS, default="hour", help="bucket size (hour)")
    trend.add_argument("--top", type=int, default=10, help="templates without --key (10)")
    sides = argparse.ArgumentParser(add_help=False)
    sides.add_argument("--operator", metavar="OP", help="only this operator's uploads")
    sides.add_argument("--upload", metavar="ID", type=int, help="windows of this upload only")
    sides.add_argument("--level", metavar="LEVEL", help="only entries of this level")
    diff = sub.add_parser("diff", parents=[common, sides],
                          help="what changed from A to B: templates that appeared, vanished, "
                          "moved", epilog="A and B: an upload id (42) or a log-time window "
                          "START..END (an end may be left out); -- before relative ones: "
                          "diff -- -2h..-1h -1h..now")  # fmt: skip
    diff.add_argument("a", metavar="A", help="before: an upload id or a window START..END")
    diff.add_argument("b", metavar="B", help="after: an upload id or a window START..END")
    diff.add_argument("--top", type=int, default=10, help="templates per list (10)")
    diff.add_argument("--rate", choices=RATES, default="share",
                      help="compare shares of entries, or entries per hour (share)")  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one query; return the exit status."""
    args = build_parser().parse_args(_joined(sys.argv[1:] if argv is None else argv))
    # The global flags may come before or after the subcommand: both parsers SUPPRESS them.
    args.db = getattr(args, "db", None)
    args.env_file = getattr(args, "env_file", ".env")
    args.json = getattr(args, "json", False)
    try:
        db_path = args.db or config_from_environment(args.env_file).database
        filters = _filters(args)
        page = _page(args) if hasattr(args, "limit") else Page()
        return asyncio.run(_run(args, db_path, filters, page))
    except (ConfigError, QueryError, UsageError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except StorageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR


_TIME_FLAGS = ("--start", "--since", "--end", "--until")


def _joined(argv: Sequence[str]) -> list[str]:
    """`--since -1h` as `--since=-1h`: argparse would take `-1h` for a flag."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _TIME_FLAGS and arg.startswith("-"):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _filters(args: argparse.Namespace) -> Filters:
    now = datetime.now(UTC)
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    return Filters(
        start=None if start is None else parse_time(start, "--start", now),
        end=None if end is None else parse_time(end, "--end", now),
        operator=args.operator,
        level=getattr(args, "level", None),
        upload=args.upload,
        status=getattr(args, "status", None),
        text=getattr(args, "search", None),
    )


def _page(args: argparse.Namespace) -> Page:
    return Page(limit=args.limit, offset=args.offset, sort=args.sort)


async def _run(args: argparse.Namespace, db_path: Path | str, f: Filters, page: Page) -> int:
    async with await Reader.open(db_path) as reader:
        detail = None if f.upload is None else await reader.upload(f.upload)
        if f.upload is not None and detail is None:
            raise StorageError(f"no upload {f.upload} in {describe(db_path)}")
        if detail is not None and detail["results"] is None and args.command != "uploads":
            state = detail["job_state"] or detail["status"]
            sys.stderr.write(f"note: upload {f.upload} has no results yet ({state})\n")
        command = args.command
        if command == "uploads":
            rows, total = await reader.uploads(f, page)
            data: Any = {"total": total, "limit": page.limit, "offset": page.offset,
                         "uploads": rows}  # fmt: skip
        elif command == "stats":
            data = await reader.stats(f, _count(args.top, "--top"))
        elif command == "top-errors":
            data = await reader.top_errors(f, _count(args.n, "N"))
        elif command == "templates":
            rows, total = await reader.templates(f, page)
            data = {"total": total, "limit": page.limit, "offset": page.offset,
                    "templates": rows}  # fmt: skip
        elif command == "timeline":
            bucket = args.bucket if args.bucket != "auto" else _auto_bucket(await reader.span(f))
            data = {"bucket": bucket, "timeline": await reader.timeline(f, bucket)}
        elif command == "incidents":
            grouped = IncidentFilters(args.kind, args.min_score, args.category, args.template)
            rows, total = await reader.incidents(f, page, grouped)
            data = {"total": total, "limit": page.limit, "offset": page.offset,
                    "incidents": rows}  # fmt: skip
        elif command == "anomalies":
            chosen = AnomalyFilters(args.kind, args.min_score, args.template)
            rows, total = await reader.anomalies(f, page, chosen)
            data = {"total": total, "limit": page.limit, "offset": page.offset,
                    "anomalies": rows}  # fmt: skip
        elif command == "categories":
            data = await reader.categories(f, _count(args.shown, "--shown", 0, 100))
        elif command == "trend":
            data = await reader.trend(f, args.by, args.key, args.bucket,
                                      _count(args.top, "--top", 1, 100))  # fmt: skip
        elif command == "diff":
            now = datetime.now(UTC)
            a, b = parse_side(args.a, "A", f, now), parse_side(args.b, "B", f, now)
            for side in (a, b):
                if side.upload is not None and await reader.upload(side.upload) is None:
                    raise StorageError(f"no upload {side.upload} in {describe(db_path)}")
            data = await reader.diff(a, b, _count(args.top, "--top"), args.rate)
        else:
            data = await reader.rejected(f)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        _show(command, data, f)
    return EXIT_OK


def _count(n: int, name: str, low: int = 1, high: int = 1000) -> int:
    if not low <= n <= high:
        raise UsageError(f"{name}={n} must be from {low} to {high}")
    return n


def _auto_bucket(span: tuple[str | None, str | None]) -> str:
    """The finest bucket that draws the time range in at most ~100 rows."""
    first, last = span
    if first is None or last is None:
        return "minute"
    seconds = (_when(last) - _when(first)).total_seconds()
    return "minute" if seconds <= 100 * 60 else "hour" if seconds <= 100 * 3600 else "day"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# output for people ----------------------------------------------------------------------


def _show(command: str, data: Any, f: Filters) -> None:
    if command == "stats":
        _show_stats(data)
    elif command == "uploads":
        _show_uploads(data)
    elif command == "top-errors":
        _show_templates(data, None)
    elif command == "templates":
        _show_templates(data["templates"], data)
    elif command == "timeline":
        _show_timeline(data["timeline"], data["bucket"], f)
    elif command in _FINDINGS:
        _FINDINGS[command](data)
    else:
        _show_rejected(data)


def _show_stats(report: dict[str, Any]) -> None:
    from loglens.analysis.report import render_text

    out = render_text(report)
    uploads, blobs = report["uploads"], report["blobs"]
    out += f"Uploads counted: {uploads:,}"
    if blobs != uploads:
        out += f" ({blobs:,} distinct contents, each counted once)"
    out += "\n"
    window = report["window"]
    if window:
        out += (
            f"Window (log time, whole minutes): {window['start'] or 'beginning'} to "
            f"{window['end'] or 'end'}; levels, entries and first/last are cut to it, "
            "templates, rejected lines, lines and formats are those of whole uploads with "
            "entries in it\n"
        )
    if report.get("incidents_total", 0) > len(report.get("incidents", [])):
        out += (
            f"Incidents: the {len(report['incidents']):,} highest scores of "
            f"{report['incidents_total']:,} (loglens query incidents lists them all)\n"
        )
    if report["anomalies_total"] > len(report["anomalies"]):
        out += (
            f"Anomalies: the {len(report['anomalies']):,} highest scores of "
            f"{report['anomalies_total']:,} (loglens query anomalies lists them all)\n"
        )
    sys.stdout.write(out)


def _show_uploads(data: dict[str, Any]) -> None:
    table = _table("id", "operator", "name", "received", "size", "status", "entries")
    for row in data["uploads"]:
        state = row["status"] if row["status"] != "stored" else row["job_state"] or "stored"
        if row.get("kind") == "stream":  # a followed log: live until its client ends it
            state = "stream, ended" if row.get("ended_at") else "stream, live"
        received = (row["received_at"] or "")[:19].replace("T", " ")
        table.add_row(*cells(row["upload_id"], row["operator"], row["original_name"],
                              received, row["size"], state, row["entries"]))  # fmt: skip
    console = _console()
    console.print(table)
    shown = len(data["uploads"])
    first = data["offset"] + 1 if shown else 0
    console.print(f"uploads {first}-{data['offset'] + shown} of {data['total']:,}", markup=False)


def _show_templates(rows: list[dict[str, Any]], page: dict[str, Any] | None) -> None:
    table = _table("#", "count", "levels" if page else "template", *(("template",) if page else ()),
                   "example (upload:line)")  # fmt: skip
    offset = page["offset"] if page else 0
    for i, row in enumerate(rows, offset + 1):
        where = f"{row['original_name']} (upload {row['upload_id']}) line {row['line']}"
        example = f"{row['example']}\n  {where}"
        if page:
            levels = " ".join(f"{lvl} {n:,}" for lvl, n in row["levels"].items())
            table.add_row(*cells(i, row["count"], levels, row["template"], example))
        else:
            table.add_row(*cells(i, row["count"], row["template"], example))
    console = _console()
    console.print(table)
    if page:
        shown = len(rows)
        first = offset + 1 if shown else 0
        console.print(f"templates {first}-{offset + shown} of {page['total']:,}", markup=False)
    elif not rows:
        console.print("no error templates", markup=False)


def _show_rejected(rows: list[dict[str, Any]]) -> None:
    table = _table("reason", "count", "samples (upload:line: text)")
    for row in rows:
        samples = "\n".join(
            f"{s['original_name']} (upload {s['upload_id']}):{s['line']}: {s['text'][:200]}"
            for s in row["samples"]
        )
        table.add_row(*cells(row["reason"], row["count"], samples))
    console = _console()
    console.print(table)
    console.print(f"rejected lines: {sum(r['count'] for r in rows):,}", markup=False)


def _show_timeline(rows: list[dict[str, Any]], bucket: str, f: Filters) -> None:
    """One line per bucket: its start, a bar stacked by level, and the total."""
    from rich.text import Text

    console = _console()
    per_bucket: dict[str, dict[str, int]] = {}
    for row in rows:
        per_bucket.setdefault(row["bucket"], {})[row["level"]] = row["count"]
    if not per_bucket:
        console.print("no entries", markup=False)
        return
    buckets = _fill(sorted(per_bucket), bucket)
    levels = [lvl for lvl in _BAR_MARKS if any(lvl in c for c in per_bucket.values())]
    fancy = sys.stdout.isatty()
    legend = Text("  ".join(f"{_BAR_MARKS[lvl]} {lvl}" for lvl in levels))
    if fancy:
        legend = Text()
        for lvl in levels:
            legend.append("█", style=_BAR_STYLES[lvl]).append(f" {lvl}  ")
    console.print(legend)
    label = _LABELS[bucket]
    width = max(10, min(console.width, 120) - label - 12 - len(levels))
    biggest = max(sum(c.values()) for c in per_bucket.values())
    for start in buckets:
        counts = per_bucket.get(start, {})
        line = Text(start[:label].replace("T", " ") + " |")
        for lvl in levels:
            n = counts.get(lvl, 0)
            cells = max(1, round(n * width / biggest)) if n else 0
            if fancy:
                line.append("█" * cells, style=_BAR_STYLES[lvl])
            else:
                line.append(_BAR_MARKS[lvl] * cells)
        line.append(f" {sum(counts.values()):,}")
        console.print(line, overflow="crop", no_wrap=True)
    if f.level:
        console.print(f"level {f.level} only; {bucket} buckets in UTC", markup=False)
    else:
        console.print(f"{bucket} buckets in UTC; bars scaled to {biggest:,}", markup=False)


def _fill(starts: list[str], bucket: str) -> list[str]:
    """The buckets from first to last with the empty ones between (if not too many)."""
    step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
    first, last = _when(starts[0]), _when(starts[-1])
    if (last - first) / step[bucket] > _MAX_GAP_ROWS:
        return starts
    filled, moment = [], first
    while moment <= last:
        filled.append(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        moment += step[bucket]
    return filled
