"""Output for people of `loglens query`: tables, and the views of the findings (anomalies,
categories, trends, diffs). Rich tables; plain ASCII when stdout is not a terminal."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_NUMERIC = frozenset({"id", "count", "entries", "size", "#", "score", "templates", "a", "b"})
_LABEL_CHARS = 60  # of a template's text in the legends


def console() -> Console:
    """A console for the query output (no highlighting, no soft wrap)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def table(*columns: str) -> Any:
    """A table with these columns, numbers right-aligned."""
    from rich import box
    from rich.table import Table

    ascii_only = not sys.stdout.isatty()
    made = Table(box=box.ASCII if ascii_only else box.SIMPLE_HEAD, show_edge=not ascii_only)
    for name in columns:
        made.add_column(name, justify="right" if name in _NUMERIC else "left", overflow="fold")
    return made


def cells(*values: object) -> list[Any]:
    """Table cells of values (whole numbers with thousands separators)."""
    from rich.text import Text

    return [Text("" if v is None else f"{v:,}" if isinstance(v, int) else str(v)) for v in values]


def _when(iso: str | None) -> str:
    return "" if iso is None else iso.replace("T", " ").removesuffix("Z")[:16]


def _indented(text: str, width: int) -> str:
    return textwrap.fill(text, max(width, 40), initial_indent="    ", subsequent_indent="    ")


def _cut(text: str, size: int = _LABEL_CHARS) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def show_anomalies(data: dict[str, Any]) -> None:
    """Each anomaly: its score, kind, window and upload, then its explanation and examples
    (as the stats report lists them)."""
    rows = data["anomalies"]
    out = console()
    for row in rows:
        window = f"{_when(row['start'])} to {_when(row['end'])[11:]}"
        out.print(
            f"[{row['kind']}, score {row['score']:.1f}] {window} UTC, upload "
            f"{row['upload_id']} ({row['original_name']})",
            markup=False,
        )
        out.print(_indented(row["explanation"], out.width), markup=False)
        examples = ", ".join(f"{e['file']}:{e['line']}" for e in row["examples"][:3])
        if examples:
            out.print(f"    e.g. {examples}", markup=False)
    first = data["offset"] + 1 if rows else 0
    out.print(f"anomalies {first}-{data['offset'] + len(rows)} of {data['total']:,}", markup=False)


def show_incidents(data: dict[str, Any]) -> None:
    """Each incident: its score, window, upload and title, what changed most, then its
    findings indented (as `anomalies` shows them)."""
    rows = data["incidents"]
    out = console()
    for row in rows:
        window = f"{_when(row['start'])} to {_when(row['end'])[11:]}"
        count = row["finding_count"]
        out.print(
            f"[score {row['score']:.1f}, {count:,} finding{'s' if count != 1 else ''}] "
            f"{window} UTC, upload {row['upload_id']} ({row['original_name']})",
            markup=False,
        )
        out.print(_indented(row["title"], out.width), markup=False)
        for change in row["templates"][:3]:
            out.print(
                f"      {change['entries']:,} entries (usually {change['expected']:,.1f}): "
                f"{_cut(change['template'])}",
                markup=False,
            )
        for finding in row["findings"]:
            out.print(f"      - [{finding['kind']}, score {finding['score']:.1f}] "
                      f"{_cut(finding['explanation'], 100)}", markup=False)  # fmt: skip
            examples = ", ".join(f"{e['file']}:{e['line']}" for e in finding["examples"][:3])
            if examples:
                out.print(f"        e.g. {examples}", markup=False)
    first = data["offset"] + 1 if rows else 0
    out.print(f"incidents {first}-{data['offset'] + len(rows)} of {data['total']:,}", markup=False)


def show_categories(rows: list[dict[str, Any]]) -> None:
    """One row per category: entries, templates, and its biggest templates."""
    shown = table("category", "entries", "templates", "biggest templates (entries)")
    for row in rows:
        top = "\n".join(f"{_cut(t['template'])} ({t['count']:,})" for t in row["top_templates"])
        shown.add_row(*cells(row["category"], row["count"], row["templates"], top))
    out = console()
    out.print(shown)
    out.print(
        "an entry counts in each category of its template"
        if rows
        else "no categories: no analysed entries selected",
        markup=False,
    )


def show_trend(data: dict[str, Any]) -> None:
    """A legend of the keys, then one row per bucket with a column per key."""
    keys = data["keys"]
    out = console()
    if not keys or not data["points"]:
        out.print("no entries", markup=False)
        return
    templates = data["by"] == "template"
    legend = table("#", "template id" if templates else data["by"], "entries",
                   *(("template",) if templates else ()))  # fmt: skip
    for i, key in enumerate(keys, 1):
        extra = (_cut(key["label"]),) if templates else ()
        legend.add_row(*cells(i, key["key"], key["count"], *extra))
    out.print(legend)
    column = {key["key"]: i for i, key in enumerate(keys)}
    per_bucket: dict[str, list[int]] = {}
    for point in data["points"]:
        per_bucket.setdefault(point["bucket"], [0] * len(keys))[column[point["key"]]] = point[
            "count"
        ]
    grid = table(data["bucket"], *(f"#{i}" for i in range(1, len(keys) + 1)))
    for name in column:
        grid.columns[column[name] + 1].justify = "right"
    for bucket, counts in per_bucket.items():
        grid.add_row(*cells(_when(bucket), *counts))
    out.print(grid)
    levels = data["levels"]
    note = f"levels {', '.join(levels)} only; " if levels else ""
    out.print(f"{note}{data['bucket']} buckets in UTC; empty ones left out", markup=False)


def show_diff(data: dict[str, Any]) -> None:
    """What each side covers, then the templates that appeared, vanished and moved."""
    out = console()
    for name in ("a", "b"):
        side = data[name]
        what = f"upload {side['upload']}" if side["upload"] is not None else "window"
        out.print(
            f"{name.upper()}: {what}, {_when(side['start'])} to {_when(side['end'])}, "
            f"{side['entries']:,} entries, {side['templates']:,} templates",
            markup=False,
        )
    share = data["rate"] == "share"
    unit = "share of entries" if share else "entries per hour"

    def rate(value: float) -> str:
        return f"{value:.2%}" if share else f"{value:,.1f}/h"

    if data.get("no_change"):
        out.print(f"No change: the same templates at the same {unit} in A and B.", markup=False)
        return
    for key, title in (("appeared", "Appeared (in B, not in A)"),
                       ("vanished", "Vanished (in A, not in B)")):  # fmt: skip
        found = data[key]
        out.print(f"{title}: {found['total']:,}", markup=False)
        if found["items"]:
            shown = table("a", "b", "template", "example (file:line)")
            for item in found["items"]:
                where = f"{item.get('file')}:{item.get('line')}" if item.get("file") else ""
                shown.add_row(*cells(item["count_a"], item["count_b"], item["template"], where))
            out.print(shown)
    changed = data["changed"]
    out.print(f"Changed most ({unit}; {changed['total']:,} moved):", markup=False)
    if changed["items"]:
        shown = table("a", "b", "rate a -> b", "score", "template")
        for item in changed["items"]:
            move = f"{rate(item['rate_a'])} -> {rate(item['rate_b'])}"
            shown.add_row(*cells(item["count_a"], item["count_b"], move,
                                 f"{item['score']:.1f}", item["template"]))  # fmt: skip
        out.print(shown)


FINDINGS: dict[str, Callable[[Any], None]] = {
    "incidents": show_incidents,
    "anomalies": show_anomalies,
    "categories": show_categories,
    "trend": show_trend,
    "diff": show_diff,
}
"""The view of each findings subcommand's answer."""
