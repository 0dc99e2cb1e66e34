"""The Reader's queries of the findings: anomalies, categories, trends and what changed.

`FindingsQueries` is a part of `Reader` (its base class), kept apart so each module holds
one concern; the semantics of selections, windows and blobs are the Reader's.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager
from typing import Any

from loglens.storage.dialect import Connection
from loglens.storage.read.filters import (
    LEVELS,
    RATES,
    TREND_BY,
    AnomalyFilters,
    Filters,
    IncidentFilters,
    Page,
    QueryError,
    check_bucket,
    check_choice,
)
from loglens.storage.read.incidents import incident_page
from loglens.storage.read.insights import anomaly_page, categories_of
from loglens.storage.read.selection import WITH_RESULTS, select
from loglens.storage.read.summaries import rows, totals
from loglens.storage.read.trends import (
    compare,
    key_labels,
    level_trend,
    name_templates,
    series_totals,
    series_trend,
    side_counts,
    side_summary,
    trend_levels,
)

# A trend without a key shows this many templates (the most entries) unless told.
TREND_KEYS = 10


def _level_rank(level: str) -> tuple[int, str]:
    return (LEVELS.index(level) if level in LEVELS else len(LEVELS), level)


class FindingsQueries:
    """Anomalies, categories, trends and diffs over the results (see `Reader`)."""

    def _read(self, what: str) -> AbstractAsyncContextManager[Connection]:
        raise NotImplementedError  # the Reader's read transaction

    async def anomalies(
        self, f: Filters, page: Page, a: AnomalyFilters | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of anomalies of the selected uploads (each content once, listed with
        its first selected upload), and how many match. `start`/`end` keep anomalies that
        overlap [start, end); `level` those covering entries at that level; `a` filters
        kind, score and template. Sorts: score (default -score), start, kind, upload_id.

        Each: the report's {kind, score, start, end, explanation, template_ids, source,
        examples: [{file, line}]} plus anomaly_id, flag_levels, upload_id, original_name."""
        uploads = dataclasses.replace(f, start=None, end=None)
        async with self._read("anomalies") as conn:
            return await anomaly_page(conn, select(uploads), f, a or AnomalyFilters(), page)

    async def incidents(
        self, f: Filters, page: Page, i: IncidentFilters | None = None, findings: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of incidents of the selected uploads (each content once, listed with its
        first selected upload), and how many match; each with up to `findings` of its
        findings (anomalies, best first) beneath. `start`/`end` keep incidents that
        overlap [start, end); `level` those with a finding covering that level; `i` filters
        kind, score, category and template. Sorts: score (default -score), start, findings,
        upload_id, id (the order they were stored in).

        Each: the report's {incident_id, title, score, start, end, source, kinds,
        categories, finding_count, templates: [{template_id, template, entries, expected}]}
        plus id, upload_id, original_name and findings: [anomalies as `anomalies` lists]."""
        if isinstance(findings, bool) or not isinstance(findings, int) or not 0 <= findings <= 200:
            raise QueryError(f"findings={findings!r} must be a whole number from 0 to 200")
        uploads = dataclasses.replace(f, start=None, end=None)
        async with self._read("incidents") as conn:
            return await incident_page(
                conn, select(uploads), f, i or IncidentFilters(), page, findings
            )

    async def categories(self, f: Filters, shown: int = 3) -> list[dict[str, Any]]:
        """Entries per category over the selection (at `level`), most first: {category,
        count, templates, top_templates: [{template_id, template, count}]} with the `shown`
        biggest templates. Whole-upload counts, as templates (an entry counts in each
        category of its template)."""
        if isinstance(shown, bool) or not isinstance(shown, int) or not 0 <= shown <= 100:
            raise QueryError(f"shown={shown!r} must be a whole number from 0 to 100")
        async with self._read("categories") as conn:
            sel, _figures = await totals(conn, select(f))
            return await categories_of(conn, sel, f.level, shown)

    async def trend(
        self,
        f: Filters,
        by: str = "level",
        key: str | None = None,
        bucket: str = "hour",
        top: int = TREND_KEYS,
    ) -> dict[str, Any]:
        """Entries over time per level, template or category (`by`): {by, bucket, key,
        levels (counted; null: all), keys: [{key, label, count}], points: [{bucket (ISO
        start), key, count}]}, buckets without entries left out.

        `key` picks one level, template id or category; without it, every level or
        category, or the `top` templates with most entries. Template and category counts
        below WARNING are kept per hour: a minute trend counts WARNING, ERROR and CRITICAL
        only (`levels` says so), and refuses another `level`."""
        check_choice(by, "by", TREND_BY)
        check_bucket(bucket)
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
            raise QueryError(f"top={top!r} must be a whole number from 1 to 100")
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 1000):
            raise QueryError(f"key={key!r} must be 1 to 1000 characters")
        level = f.level
        if by == "level" and key is not None:
            key = key.upper()
            check_choice(key, "key", LEVELS)
            if level is not None and level != key:
                raise QueryError(f"key={key!r} and level={level!r} disagree: give one of them")
            level = key
        levels = trend_levels(level, bucket, by)
        async with self._read("trend") as conn:
            sel, _figures = await totals(conn, select(f))
            if by == "level":
                points = await level_trend(conn, sel, level, bucket)
                counted: dict[str, int] = {}
                for point in points:
                    counted[point["key"]] = counted.get(point["key"], 0) + point["count"]
                keys = sorted(counted, key=_level_rank)
            else:
                counted = await series_totals(conn, sel, by, levels)
                if key is not None:
                    counted = {key: counted.get(key, 0)}
                ranked = sorted(counted, key=lambda k: (-counted[k], k))
                keys = ranked[:top] if by == "template" and key is None else ranked
                points = await series_trend(conn, sel, by, keys, levels, bucket)
            # Only keys the selection holds get a text: a template id asked for in a scope
            # without it must not read its text from another operator's uploads.
            labels = await key_labels(conn, by, [k for k in keys if counted.get(k)])
        return {
            "by": by,
            "bucket": bucket,
            "key": key,
            "levels": list(levels) if levels else None,
            "keys": [{"key": k, "label": labels.get(k, k), "count": counted[k]} for k in keys],
            "points": points,
        }

    async def diff(
        self, a: Filters, b: Filters, top: int = 10, rate: str = "share"
    ) -> dict[str, Any]:
        """What changed from selection `a` to selection `b` (two uploads, two windows, ...):
        {a, b (what each covers: uploads, span, hours, levels), rate, appeared, vanished,
        changed, no_change}. `appeared` lists templates with entries in b and none in a
        (most entries first), `vanished` the reverse, `changed` the templates of both whose
        rate moved, most first (none at the same rate: `no_change` when nothing appeared,
        vanished or moved); each {total, items} with `top` items of {template_id, template, count_a,
        count_b, rate_a, rate_b, change, ratio, score, example, upload_id, file, line}.

        `rate` "share": a template's share of its side's entries; "hour": its entries per
        hour of its side's time span. `score` is the change in standard errors of the two
        rates (Poisson counts). Without a window a side counts whole uploads; in a window,
        the template series (hourly rows below WARNING by overlap)."""
        check_choice(rate, "rate", RATES)
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
            raise QueryError(f"top={top!r} must be a whole number from 1 to 1000")
        async with self._read("diff") as conn:
            sel_a, figures_a = await totals(conn, select(a))
            sel_b, figures_b = await totals(conn, select(b))
            side_a = await side_summary(conn, sel_a, a, figures_a)
            side_b = await side_summary(conn, sel_b, b, figures_b)
            counts_a = await side_counts(conn, sel_a, a.level)
            counts_b = await side_counts(conn, sel_b, b.level)
            side_a["entries"], side_b["entries"] = sum(counts_a.values()), sum(counts_b.values())
            side_a["templates"], side_b["templates"] = len(counts_a), len(counts_b)
            per = "entries" if rate == "share" else "hours"
            found = compare(counts_a, counts_b, side_a[per], side_b[per], top)
            await name_templates(conn, found, sel_a, sel_b)
        return {"a": side_a, "b": side_b, "rate": rate, **found}

    async def previous_upload(self, upload_id: int, owner: str | None = None) -> int | None:
        """The analysed upload before `upload_id` (lower id) of the same source (file name
        and operator, as for anomalies and alerts; with `owner`, only if it is that
        operator's), of other content; None if there is none (or no such upload)."""
        async with self._read("previous upload") as conn:
            found = await rows(
                conn,
                "SELECT p.id FROM uploads AS u JOIN uploads AS p"
                " ON p.original_name = u.original_name AND p.operator = u.operator"
                " AND p.id < u.id"
                f" AND p.status = 'stored' AND {conn.dialect.is_not('p.blob_id', 'u.blob_id')}"
                f" JOIN jobs AS j ON j.blob_id = p.blob_id AND {WITH_RESULTS}"
                " WHERE u.id = ? AND (CAST(? AS TEXT) IS NULL OR p.operator = ?)"
                " ORDER BY p.id DESC LIMIT 1",
                [upload_id, owner, owner],
            )
        return int(found[0][0]) if found else None
