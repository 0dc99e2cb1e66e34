"""The API's endpoints: thin translations from query parameters to `Reader` calls."""

from __future__ import annotations

import dataclasses
import logging
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from loglens.api import models
from loglens.api.auth import authenticate
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
    make_filters,
    make_page,
    one_search,
    result_filters,
)
from loglens.storage.filters import STATUSES, Filters
from loglens.storage.queries import Reader

logger = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Problem, "description": "No bearer token, or not an operator's"},
    422: {"model": models.Problem, "description": "A parameter is invalid (the message names it)"},
    503: {"model": models.Problem, "description": "The results database cannot be read"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": models.Problem, "description": "No upload has this id"}
}
_UPLOAD_SORTS = ", ".join(sorted(Reader.SORTS["uploads"]))
_TEMPLATE_SORTS = ", ".join(sorted(Reader.SORTS["templates"]))

Filtered = Annotated[Filters, Depends(result_filters)]


def reader_of(request: Request) -> Reader:
    """The Reader the app opened in its lifespan."""
    return cast(Reader, request.app.state.reader)


Db = Annotated[Reader, Depends(reader_of)]
Caller = Annotated[str, Depends(authenticate)]


def build_router(default_top: int) -> APIRouter:
    """Every authenticated endpoint; `default_top` is TOP_N, the report's top errors."""
    router = APIRouter(dependencies=[Depends(authenticate)], responses=_ERRORS)

    @router.get("/me", summary="Who the token belongs to", tags=["auth"])
    async def me(operator: Caller) -> models.Me:
        """The operator whose token authenticated this request."""
        return models.Me(operator=operator)

    @router.get("/logs/stats", summary="Global summary", tags=["results"])
    async def logs_stats(db: Db, f: Filtered, n: Top = default_top) -> models.Stats:
        """The classic report (levels, top errors, first and last timestamp, rejected lines,
        ...) over every analysed upload the filters select; each content counts once."""
        return models.Stats.model_validate(await db.stats(f, n))

    @router.get("/uploads", summary="List uploads", tags=["uploads"])
    async def uploads(
        db: Db,
        start: Annotated[
            str | None, Query(description="Received at or after this time (ISO-8601)")
        ] = None,
        end: Annotated[str | None, Query(description="Received before this time")] = None,
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
            Query(description=f"One of {_UPLOAD_SORTS}; prefix - to reverse (default -id)"),
        ] = None,
    ) -> models.UploadPage:
        """Uploads of every status, newest first unless sorted otherwise, with their job
        state and entries; `start`/`end` filter the time they were received."""
        f = make_filters(start=start, end=end, operator=operator, upload=upload, status=status_)
        page = make_page(limit, offset, sort)
        items, total = await db.uploads(f, page)
        return models.UploadPage(
            total=total,
            limit=limit,
            offset=offset,
            items=[models.Upload.model_validate(item) for item in items],
        )

    @router.get(
        "/uploads/{upload_id}", summary="One upload", tags=["uploads"], responses=_NOT_FOUND
    )
    async def upload_detail(
        db: Db, upload_id: Annotated[int, Path(ge=1, description="The upload's id")]
    ) -> models.UploadDetail:
        """An upload, its job, and its results once analysed (levels, rejected, formats)."""
        return models.UploadDetail.model_validate(await _upload_or_404(db, upload_id))

    @router.get(
        "/uploads/{upload_id}/stats",
        summary="Report of one upload",
        tags=["uploads"],
        responses={
            **_NOT_FOUND,
            409: {"model": models.Problem, "description": "Not analysed (yet, or it failed)"},
        },
    )
    async def upload_stats(
        db: Db,
        upload_id: Annotated[int, Path(ge=1, description="The upload's id")],
        start: Start = None,
        end: End = None,
        level: Level = None,
        n: Top = default_top,
    ) -> models.Stats:
        """The classic report of one upload, as `processor.py --json` prints it for the
        file; optionally cut to a time window or one level."""
        found = await _upload_or_404(db, upload_id)
        if found.get("results") is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"upload {upload_id} has no results: it is {found.get('status')}, its "
                f"analysis {found.get('job_state') or 'not started'}",
            )
        f = make_filters(start=start, end=end, level=level, upload=upload_id)
        return models.Stats.model_validate(await db.stats(f, n))

    @router.get("/errors/top", summary="Top error templates", tags=["results"])
    async def errors_top(
        db: Db,
        f: Filtered,
        n: Top = default_top,
        q: Search = None,
        search: Search = None,
    ) -> list[models.TopError]:
        """The `n` templates with most entries at ERROR and CRITICAL (or at `level`),
        each with a real example; `q` (or `search`) keeps templates containing the text."""
        found = await db.top_errors(_with_text(f, one_search(q, search)), n)
        return [models.TopError.model_validate(item) for item in found]

    @router.get("/templates", summary="Search templates", tags=["results"])
    async def templates(
        db: Db,
        f: Filtered,
        q: Search = None,
        search: Search = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: Annotated[
            str | None,
            Query(description=f"One of {_TEMPLATE_SORTS}; prefix - to reverse (default -count)"),
        ] = None,
    ) -> models.TemplatePage:
        """Message templates over the selection with their count per level and an example;
        `q` (or `search`) keeps those containing the text."""
        page = make_page(limit, offset, sort)
        items, total = await db.templates(_with_text(f, one_search(q, search)), page)
        return models.TemplatePage(
            total=total,
            limit=limit,
            offset=offset,
            items=[models.Template.model_validate(item) for item in items],
        )

    @router.get("/timeline", summary="Entries per level over time", tags=["results"])
    async def timeline(
        db: Db,
        f: Filtered,
        bucket: Annotated[models.Bucket, Query(description="Bucket size")] = "hour",
    ) -> models.Timeline:
        """Entries per bucket (minute, hour or day, UTC) and level; empty buckets are left
        out. Timed entries only."""
        points = await db.timeline(f, bucket)
        return models.Timeline(
            bucket=bucket, points=[models.TimelinePoint.model_validate(p) for p in points]
        )

    @router.get("/rejected", summary="Rejected lines by reason", tags=["results"])
    async def rejected(db: Db, f: Filtered) -> models.Rejected:
        """Lines that were not log entries, per reason (binary, truncated, ...), most
        first, with up to three samples each."""
        reasons = [
            models.RejectedReason(
                reason=r["reason"],
                count=r["count"],
                samples=[
                    models.RejectedSample.model_validate({"file": s["original_name"], **s})
                    for s in r["samples"]
                ],
            )
            for r in await db.rejected(f)
        ]
        return models.Rejected(total=sum(r.count for r in reasons), reasons=reasons)

    return router


async def _upload_or_404(db: Reader, upload_id: int) -> dict[str, Any]:
    """The Reader's upload, or a 404 that names the id."""
    found = await db.upload(upload_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"upload {upload_id} does not exist")
    return found


def _with_text(f: Filters, text: str | None) -> Filters:
    """`f` with the search text set (validated again)."""
    if text is None:
        return f
    try:
        return dataclasses.replace(f, text=text)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc
