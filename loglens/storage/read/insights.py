"""What the Reader reads of the findings over a selection: categories and anomalies.

Categories are whole-upload figures, like templates: an entry counts once in each category
of its template, and each selected blob counts once. Anomalies belong to a blob and are
listed with the upload that stands for it (its first selected upload).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from loglens.storage.dialect import Connection, Dialect
from loglens.storage.read.filters import AnomalyFilters, Filters, Page, check_sort
from loglens.storage.read.selection import Selection, iso, marks
from loglens.storage.read.summaries import rows
from loglens.storage.schema import format_time

# Sorts of `anomalies`: the name, the column; ties go by time, kind, upload, report order.
ANOMALY_SORTS = {"score": "a.score", "start": "a.start_ts", "kind": "a.kind",
                 "upload_id": "sel.upload_id"}  # fmt: skip
_ANOMALY_COLUMNS = (
    "a.id, a.kind, a.score, a.start_ts, a.end_ts, a.explanation, a.template_ids,"
    " a.flag_levels, a.examples, a.source, sel.upload_id, u.original_name"
)


async def category_counts(conn: Connection, sel: Selection, level: str | None) -> dict[str, int]:
    """Entries per category over the selection (at `level` only, if given), most first;
    ties in the order of the reports (the classifier's rule order)."""
    if level is None:
        head, source, params = sel.rows_of("category_counts", "c")
        found = await rows(
            conn,
            f"{head} SELECT c.category, SUM(c.count), MIN(c.rank) FROM {source}"
            " GROUP BY c.category",
            params,
        )
        ordered = sorted(found, key=lambda row: (-row[1], row[2], row[0]))
        return {category: int(count) for category, count, _rank in ordered}
    head, source, params = sel.rows_of("templates")
    found = await rows(
        conn,
        # The templates of the level first (by their index), each then finds its categories:
        # the other way round read every category row.
        f"{head} SELECT c.category, SUM(t.count) FROM {source}"
        " CROSS JOIN template_categories AS c ON c.blob_id = t.blob_id"
        " AND c.template_id = t.template_id WHERE t.level = ? GROUP BY c.category",
        [*params, level],
    )
    totals = {str(category): int(count) for category, count in found}
    ranks = await _ranks(conn, sel)
    ordered_names = sorted(totals, key=lambda c: (-totals[c], ranks.get(c, len(ranks)), c))
    return {category: totals[category] for category in ordered_names if totals[category]}


async def category_templates(
    conn: Connection, sel: Selection, level: str | None
) -> dict[str, dict[str, int]]:
    """Per category, the entries of each of its templates over the selection (at `level`)."""
    head, source, params = sel.rows_of("templates")
    only = " WHERE t.level = ?" if level else ""
    found = await rows(
        conn,
        f"{head} SELECT c.category, t.template_id, SUM(t.count) FROM {source}"
        " JOIN template_categories AS c ON c.blob_id = t.blob_id"
        f" AND c.template_id = t.template_id{only} GROUP BY c.category, t.template_id",
        [*params, *([level] if level else [])],
    )
    per_category: dict[str, dict[str, int]] = {}
    for category, tid, count in found:
        per_category.setdefault(category, {})[tid] = int(count)
    return per_category


async def categories_of(
    conn: Connection, sel: Selection, level: str | None, shown: int
) -> list[dict[str, Any]]:
    """The categories of the selection, most entries first: {category, count, templates,
    top_templates: [{template_id, template, count}]} with the `shown` biggest templates."""
    per_category = await category_templates(conn, sel, level)
    ranks = await _ranks(conn, sel)
    items = []
    for category, counts in per_category.items():
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:shown]
        items.append((category, sum(counts.values()), len(counts), top))
    items.sort(key=lambda item: (-item[1], ranks.get(item[0], len(ranks)), item[0]))
    texts = await template_texts(conn, [tid for item in items for tid, _ in item[3]])
    return [
        {
            "category": category,
            "count": count,
            "templates": templates,
            "top_templates": [
                {"template_id": tid, "template": texts.get(tid, ""), "count": n} for tid, n in top
            ],
        }
        for category, count, templates, top in items
        if count
    ]


async def template_categories(
    conn: Connection, sel: Selection, template_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Per template id, its categories in the selected blobs (in the classifier's order)."""
    if not template_ids:
        return {}
    head, source, params = sel.rows_of("template_categories", "c")
    found = await rows(
        conn,
        f"{head} SELECT c.template_id, c.category FROM {source}"
        f" WHERE c.template_id IN ({marks(len(template_ids))})"
        " GROUP BY c.template_id, c.category ORDER BY c.template_id, MIN(c.position), c.category",
        [*params, *template_ids],
    )
    categories: dict[str, list[str]] = {}
    for tid, category in found:
        categories.setdefault(tid, []).append(category)
    return categories


async def template_texts(conn: Connection, template_ids: Sequence[str]) -> dict[str, str]:
    """The text of each template id (an id is a hash of its text: any row has it)."""
    if not template_ids:
        return {}
    found = await rows(
        conn,
        "SELECT ids.value, (SELECT t.template FROM templates AS t"
        f" WHERE t.template_id = ids.value LIMIT 1) FROM {conn.dialect.json_values('ids')}",
        [json.dumps(sorted(set(template_ids)))],
    )
    return {tid: text for tid, text in found if text is not None}


async def anomaly_page(
    conn: Connection, sel: Selection, f: Filters, a: AnomalyFilters, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """One page of the anomalies of the selected blobs, and how many match: those of
    `a`'s kind, score and template, overlapping [f.start, f.end), covering `f.level`."""
    column, descending = check_sort(page.sort, ANOMALY_SORTS, "-score")
    where, params = _anomaly_where(conn.dialect, f, a)
    direction = "DESC" if descending else "ASC"
    # The count is a query of its own: a window function over the page's query kept every
    # matching row, explanations and all, in memory until the end (6x slower over 1,000
    # uploads); the count reads only the index.
    found = await rows(
        conn,
        f"{sel.cte} SELECT {_ANOMALY_COLUMNS}"
        " FROM sel CROSS JOIN anomalies AS a ON a.blob_id = sel.blob_id"
        f" JOIN uploads AS u ON u.id = sel.upload_id WHERE {where}"
        f" ORDER BY {column} {direction}, a.start_ts, a.kind, sel.upload_id, a.rank"
        " LIMIT ? OFFSET ?",
        [*sel.params, *params, page.limit, page.offset],
    )
    counted = await rows(
        conn,
        f"{sel.cte} SELECT COUNT(*) FROM sel CROSS JOIN anomalies AS a"
        f" ON a.blob_id = sel.blob_id WHERE {where}",
        [*sel.params, *params],
    )
    return [anomaly(row) for row in found], int(counted[0][0])


def _anomaly_where(dialect: Dialect, f: Filters, a: AnomalyFilters) -> tuple[str, list[Any]]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if a.kind is not None:
        where.append("a.kind = ?")
        params.append(a.kind)
    if a.min_score is not None:
        where.append("a.score >= ?")
        params.append(float(a.min_score))
    # The lists are JSON arrays of plain ids and level names, written by json.dumps: a
    # quoted value found in the text is an element (json_each per row took 3 times longer).
    if a.template_id is not None:
        where.append(dialect.json_list_has("a.template_ids"))
        params.append(a.template_id)
    if f.level is not None:
        where.append(dialect.json_list_has("a.flag_levels"))
        params.append(f.level)
    overlap(where, params, "a", f)
    return " AND ".join(where), params


def overlap(where: list[str], params: list[Any], alias: str, f: Filters) -> None:
    """Keep the rows of `alias` (with start_ts and end_ts) that overlap [f.start, f.end):
    they end after its start and start before its end."""
    if f.start is not None:
        where.append(f"{alias}.end_ts > ?")
        params.append(format_time(f.start))
    if f.end is not None:
        where.append(f"{alias}.start_ts < ?")
        params.append(format_time(f.end))


def anomaly(row: Sequence[Any]) -> dict[str, Any]:
    """An anomaly as the report has it ({kind, score, start, end, explanation, template_ids,
    source, examples}) plus anomaly_id, flag_levels, upload_id and original_name. Examples
    of a one-file analysis are named after the upload."""
    (anomaly_id, kind, score, start, end, explanation, template_ids, flag_levels, examples,
     source, upload_id, name) = row  # fmt: skip
    return {
        "kind": kind,
        "score": round(score, 2),
        "start": iso(start),
        "end": iso(end),
        "explanation": explanation,
        "template_ids": json.loads(template_ids),
        "source": source,
        "examples": [
            {"file": name if source is None else e["file"], "line": e["line"]}
            for e in json.loads(examples)
        ],
        "anomaly_id": anomaly_id,
        "flag_levels": json.loads(flag_levels),
        "upload_id": upload_id,
        "original_name": name,
    }


async def _ranks(conn: Connection, sel: Selection) -> dict[str, int]:
    """Each category's best place in the reports of the selected blobs."""
    head, source, params = sel.rows_of("category_counts", "c")
    found = await rows(
        conn, f"{head} SELECT c.category, MIN(c.rank) FROM {source} GROUP BY c.category", params
    )
    return {category: int(rank) for category, rank in found}
