"""The API's endpoints: thin translations from query parameters to `Reader` calls."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import TypeAdapter

from loglens.api import models
from loglens.api.answers import (
    ERRORS,
    NOT_ANALYSED,
    NOT_FOUND,
    Answering,
    Json,
    analysed_upload,
    upload_or_404,
)
from loglens.api.auth import Caller, authenticate
from loglens.api.findings import add_finding_routes
from loglens.api.params import (
    End,
    Level,
    Limit,
    Offset,
    Operator,
    ParameterError,
    Search,
    Start,
    Top,
    UploadId,
    UploadPath,
    make_filters,
    make_page,
    one_search,
    result_filters,
)
from loglens.storage.read.filters import STATUSES, Filters
from loglens.storage.read.queries import Reader

logger = logging.getLogger(__name__)

_UPLOAD_SORTS = ", ".join(sorted(Reader.SORTS["uploads"]))
_TEMPLATE_SORTS = ", ".join(sorted(Reader.SORTS["templates"]))

Filtered = Annotated[Filters, Depends(result_filters)]
Authenticated = Annotated[Caller, Depends(authenticate)]


def build_router(default_top: int) -> APIRouter:
    """Every authenticated endpoint; `default_top` is TOP_N, the report's top errors."""
    router = APIRouter(dependencies=[Depends(authenticate)], responses=ERRORS)
    stats_json = TypeAdapter(models.Stats)
    uploads_json = TypeAdapter(models.UploadPage)
    upload_json = TypeAdapter(models.UploadDetail)
    top_json = TypeAdapter(list[models.TopError])
    templates_json = TypeAdapter(models.TemplatePage)
    rejected_json = TypeAdapter(models.Rejected)

    @router.get("/me", summary="Who the token belongs to", tags=["auth"])
    async def me(caller: Authenticated) -> models.Me:
        """The operator whose token authenticated this request, and whether it reads every
        operator's uploads (a token marked `:read-all`) or only its own."""
        return models.Me(operator=caller.operator, read_all=caller.read_all)

    @router.get(
        "/logs/stats", response_model=models.Stats, summary="Global summary", tags=["results"]
    )
    async def logs_stats(answer: Answering, f: Filtered, n: Top = default_top) -> Response:
        """The classic report (levels, top errors, first and last timestamp, rejected lines,
        ...) over every analysed upload the filters select; each content counts once."""
        return await answer(stats_json, lambda db: db.stats(f, n))

    @router.get(
        "/uploads", response_model=models.UploadPage, summary="List uploads", tags=["uploads"]
    )
    async def uploads(
        answer: Answering,
        start: Annotated[
            str | None,
            Query(max_length=100, description="Received at or after this time (ISO-8601)"),
        ] = None,
        end: Annotated[
            str | None, Query(max_length=100, description="Received before this time")
        ] = None,
        operator: Operator = None,
        upload: UploadId = None,
        status_: Annotated[
            str | None,
            Query(alias="status", description=f"Upload status or job state: {', '.join(STATUSES)}"),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: Annotated[
            str | None,
            Query(
                max_length=100,
                description=f"One of {_UPLOAD_SORTS}; prefix - to reverse (default -id)",
            ),
        ] = None,
    ) -> Response:
        """Uploads of every status, newest first unless sorted otherwise, with their job
        state and entries; `start`/`end` filter the time they were received."""
        f = make_filters(
            start=start,
            end=end,
            operator=operator,
            upload=upload,
            status=status_,
            owner=answer.owner,
        )
        page = make_page(limit, offset, sort)

        async def compute(db: Reader) -> Json:
            items, total = await db.uploads(f, page)
            return {"total": total, "limit": limit, "offset": offset, "items": items}

        return await answer(uploads_json, compute)

    @router.get(
        "/uploads/{upload_id}",
        response_model=models.UploadDetail,
        summary="One upload",
        tags=["uploads"],
        responses=NOT_FOUND,
    )
    async def upload_detail(answer: Answering, upload_id: UploadPath) -> Response:
        """An upload, its job, and its results once analysed (levels, rejected, formats)."""
        return await answer(upload_json, lambda db: upload_or_404(db, upload_id, answer.owner))

    @router.get(
        "/uploads/{upload_id}/stats",
        response_model=models.Stats,
        summary="Report of one upload",
        tags=["uploads"],
        responses=NOT_ANALYSED,
    )
    async def upload_stats(
        answer: Answering,
        upload_id: UploadPath,
        start: Start = None,
        end: End = None,
        level: Level = None,
        n: Top = default_top,
    ) -> Response:
        """The classic report of one upload, as `processor.py --json` prints it for the
        file; optionally cut to a time window or one level."""
        f = make_filters(start=start, end=end, level=level, upload=upload_id, owner=answer.owner)

        async def compute(db: Reader) -> Json:
            await analysed_upload(db, upload_id, answer.owner)
            return await db.stats(f, n)

        return await answer(stats_json, compute)

    @router.get(
        "/errors/top",
        response_model=list[models.TopError],
        summary="Top error templates",
        tags=["results"],
    )
    async def errors_top(
        answer: Answering,
        f: Filtered,
        n: Top = default_top,
        q: Search = None,
        search: Search = None,
    ) -> Response:
        """The `n` templates with most entries at ERROR and CRITICAL (or at `level`),
        each with a real example; `q` (or `search`) keeps templates containing the text."""
        searched = _with_text(f, one_search(q, search))
        return await answer(top_json, lambda db: db.top_errors(searched, n))

    @router.get(
        "/templates",
        response_model=models.TemplatePage,
        summary="Search templates",
        tags=["results"],
    )
    async def templates(
        answer: Answering,
        f: Filtered,
        q: Search = None,
        search: Search = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: Annotated[
            str | None,
            Query(
                max_length=100,
                description=f"One of {_TEMPLATE_SORTS}; prefix - to reverse (default -count)",
            ),
        ] = None,
    ) -> Response:
        """Message templates over the selection with their count per level and an example;
        `q` (or `search`) keeps those containing the text."""
        page = make_page(limit, offset, sort)
        searched = _with_text(f, one_search(q, search))

        async def compute(db: Reader) -> Json:
            items, total = await db.templates(searched, page)
            return {"total": total, "limit": limit, "offset": offset, "items": items}

        return await answer(templates_json, compute)

    @router.get(
        "/timeline",
        response_model=models.Timeline,
        summary="Entries per level over time",
        tags=["results"],
    )
    async def timeline(
        answer: Answering,
        f: Filtered,
        bucket: Annotated[
            models.Bucket | Literal["auto"],
            Query(
                description="Bucket size; `auto`: the finest of minute, hour, day that gives "
                "at most 1,500 buckets over the selection's time span"
            ),
        ] = "auto",
    ) -> Response:
        """Entries per bucket (minute, hour or day, UTC) and level; empty buckets are left
        out. Timed entries only."""

        async def compute(db: Reader) -> bytes:
            # Tens of thousands of points (a minute timeline) come as JSON text from SQLite,
            # in models.Timeline's shape; "auto" picks the bucket in the same snapshot.
            chosen, points = await db.timeline_json(f, bucket)
            return f'{{"bucket":{json.dumps(chosen)},"points":{points}}}'.encode()

        return await answer(None, compute)

    @router.get(
        "/rejected",
        response_model=models.Rejected,
        summary="Rejected lines by reason",
        tags=["results"],
    )
    async def rejected(answer: Answering, f: Filtered) -> Response:
        """Lines that were not log entries, per reason (binary, truncated, ...), most
        first, with up to three samples each."""

        async def compute(db: Reader) -> Json:
            reasons = await db.rejected(f)
            for reason in reasons:
                for sample in reason["samples"]:
                    sample.setdefault("file", sample.get("original_name"))  # as in reports
            return {"total": sum(r["count"] for r in reasons), "reasons": reasons}

        return await answer(rejected_json, compute)

    add_finding_routes(router)
    return router


def _with_text(f: Filters, text: str | None) -> Filters:
    """`f` with the search text set (validated again)."""
    if text is None:
        return f
    try:
        return dataclasses.replace(f, text=text)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc
