"""Templates over a selection: their counts in one pass, the top ones, and their examples.

`template_id` is a hash of `template`, so one id has one text: the text is read only for
the few templates shown, never summed over every row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from loglens.storage.dialect import Connection
from loglens.storage.read.filters import LEVELS
from loglens.storage.read.selection import Selection, like_pattern, marks
from loglens.storage.read.summaries import rows

ERROR_LEVELS = ("CRITICAL", "ERROR")
"""The levels of "top errors" without a level filter (as `processor.py` ranks them)."""

Example = dict[str, Any]


async def tally(
    conn: Connection,
    sel: Selection,
    ranked: Sequence[str],
    only: Sequence[str] | None = None,
    text: str | None = None,
) -> tuple[int, list[tuple[str, int]]]:
    """One aggregate over the selection's template rows at levels `only` (all if None) and
    matching `text`: how many distinct templates, and each one's entries at the levels
    `ranked` (templates with none there are left out)."""
    head, source, params = sel.rows_of("templates", summed=text is None)
    where: list[str] = ["1 = 1"]
    where_params: list[Any] = []
    if only:
        where.append(f"t.level IN ({marks(len(only))})")
        where_params.extend(only)
    if text is not None:
        where.append(f"t.template {conn.dialect.like} ? ESCAPE '\\'")
        where_params.append(like_pattern(text))
    found = await rows(
        conn,
        f"{head} SELECT t.template_id,"
        f" SUM(t.count) FILTER (WHERE t.level IN ({marks(len(ranked))})) FROM {source}"
        f" WHERE {' AND '.join(where)} GROUP BY t.template_id",
        [*params, *ranked, *where_params],
    )
    return len(found), [(tid, int(n)) for tid, n in found if n is not None]


async def top(
    conn: Connection,
    sel: Selection,
    counted: Sequence[tuple[str, int]],
    levels: Sequence[str],
    n: int,
) -> list[dict[str, Any]]:
    """The `n` templates of `counted` with most entries, then by text and id, each with
    its example at `levels`: {template, template_id, count, example, upload_id, ...}."""
    chosen = sorted(counted, key=lambda item: item[1], reverse=True)
    if len(chosen) > n:
        least = chosen[n - 1][1]
        chosen = [item for item in chosen if item[1] >= least]  # ties at the cut: text decides
    shown = await examples(conn, sel, [tid for tid, _count in chosen], levels)
    chosen.sort(key=lambda item: (-item[1], shown[item[0]][0], item[0]))
    return [
        {"template": shown[tid][0], "template_id": tid, "count": count, **shown[tid][1]}
        for tid, count in chosen[:n]
    ]


async def examples(
    conn: Connection,
    sel: Selection,
    template_ids: Sequence[str],
    levels: Sequence[str] | None,
) -> dict[str, tuple[str, Example]]:
    """Per template id, its text and its example at `levels` (all if None): the earliest
    line of it in the blob of the first selected upload holding it, as {example,
    upload_id, original_name, file, line}."""
    if not template_ids:
        return {}
    level_sql = f" AND t.level IN ({marks(len(levels))})" if levels else ""
    level_params = list(levels or ())
    # Through the template_id index: the first upload holding each id, then the earliest
    # line in its blob (the other columns from the row of the least t.line).
    dialect = conn.dialect
    found = await rows(
        conn,
        f"{sel.cte}, best AS (SELECT t.template_id, MIN(sel.upload_id) AS upload_id"
        f" FROM {dialect.json_values('ids')} CROSS JOIN templates AS t"
        f" ON t.template_id = ids.value{level_sql} JOIN sel ON sel.blob_id = t.blob_id"
        " GROUP BY t.template_id) "
        + dialect.least_row(
            "b.template_id, t.template, t.example, b.upload_id, u.original_name",
            "t.line",
            "best AS b JOIN uploads AS u ON u.id = b.upload_id JOIN templates AS t"
            f" ON t.blob_id = u.blob_id AND t.template_id = b.template_id{level_sql}",
            "b.template_id",
        ),
        [*sel.params, json.dumps(list(template_ids)), *level_params, *level_params],
    )
    return {
        tid: (
            text,
            {
                "example": example,
                "upload_id": upload_id,
                "original_name": name,
                "file": name,
                "line": line,
            },
        )
        for tid, text, example, upload_id, name, line in found
    }


async def template_levels(
    conn: Connection, sel: Selection, template_ids: Sequence[str], level: str | None
) -> dict[str, dict[str, int]]:
    """Per template id, its entries per level over the selection (only `level` if given)."""
    if not template_ids:
        return {}
    head, source, params = sel.rows_of("templates", summed=True)
    only = " AND t.level = ?" if level else ""
    found = await rows(
        conn,
        f"{head} SELECT t.template_id, t.level, SUM(t.count) FROM {source}"
        f" WHERE t.template_id IN ({marks(len(template_ids))}){only}"
        " GROUP BY t.template_id, t.level",
        [*params, *template_ids, *([level] if level else [])],
    )
    order = {name: i for i, name in enumerate(LEVELS)}
    found.sort(key=lambda row: (order.get(row[1], len(order)), row[1]))
    levels: dict[str, dict[str, int]] = {}
    for tid, lvl, count in found:
        levels.setdefault(tid, {})[lvl] = int(count)
    return levels
