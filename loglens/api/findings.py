"""The endpoints of the findings: incidents, anomalies, categories, trends and diffs, over
every analysed upload the filters select and per upload."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import TypeAdapter

from loglens.api import models
from loglens.api.answers import NOT_ANALYSED, Answering, Json, analysed_upload
from loglens.api.params import (
    Against,
    CategoryName,
    End,
    IncidentFindings,
    Kind,
    Level,
    Limit,
    MinScore,
    Offset,
    Operator,
    SideA,
    SideB,
    Start,
    TemplateId,
    UploadId,
    UploadPath,
    check_uploads,
    make_anomaly_filters,
    make_filters,
    make_incident_filters,
    make_page,
    make_side,
    result_filters,
)
from loglens.storage.read.filters import Filters
from loglens.storage.read.incidents import INCIDENT_SORTS
from loglens.storage.read.insights import ANOMALY_SORTS
from loglens.storage.read.queries import Reader

Filtered = Annotated[Filters, Depends(result_filters)]
AnomalySort = Annotated[
    str | None,
    Query(
        max_length=100,
        description=f"One of {', '.join(sorted(ANOMALY_SORTS))}; prefix - to reverse "
        "(default -score)",
    ),
]
IncidentSort = Annotated[
    str | None,
    Query(
        max_length=100,
        description=f"One of {', '.join(sorted(INCIDENT_SORTS))}; prefix - to reverse "
        "(default -score)",
    ),
]
Shown = Annotated[int, Query(ge=0, le=100, description="Biggest templates shown per category")]
By = Annotated[
    Literal["level", "template", "category"],
    Query(description="Count per level, per template or per category"),
]
Key = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1000,
        description="One level, template id or category; without it every level or "
        "category, or the `top` templates with most entries",
    ),
]
TrendBucket = Annotated[
    models.Bucket,
    Query(
        description="Bucket size (UTC). Templates and categories below WARNING are kept per "
        "hour: a minute trend of them counts WARNING, ERROR and CRITICAL only"
    ),
]
TrendTop = Annotated[int, Query(ge=1, le=100, description="Templates shown without a key")]
DiffTop = Annotated[int, Query(ge=1, le=1000, description="Templates listed per kind of change")]
Rate = Annotated[
    Literal["share", "hour"],
    Query(description="Compare shares of the entries (`share`) or entries per hour (`hour`)"),
]


def paged(
    answer: Answering,
    upload_id: int | None,
    limit: int,
    offset: int,
    fetch: Callable[[Reader], Awaitable[tuple[list[Any], int]]],
) -> Callable[[Reader], Awaitable[Json]]:
    """The computation of a page of findings: `fetch`'s items and total, after checking
    that `upload_id` (if given) is an analysed upload the caller may read."""

    async def compute(db: Reader) -> Json:
        if upload_id is not None:
            await analysed_upload(db, upload_id, answer.owner)
        items, total = await fetch(db)
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    return compute


def add_finding_routes(router: APIRouter) -> None:
    """Add the incidents, anomalies, categories, trend and diff endpoints to `router`."""
    anomalies_json = TypeAdapter(models.AnomalyPage)
    incidents_json = TypeAdapter(models.IncidentPage)
    categories_json = TypeAdapter(models.Categories)
    trend_json = TypeAdapter(models.Trend)
    diff_json = TypeAdapter(models.Diff)

    async def anomaly_answer(
        answer: Answering,
        f: Filters,
        kind: str | None,
        min_score: float | None,
        template: str | None,
        limit: int,
        offset: int,
        sort: str | None,
        upload_id: int | None = None,
    ) -> Response:
        a = make_anomaly_filters(kind, min_score, template)
        page = make_page(limit, offset, sort)
        return await answer(
            anomalies_json,
            paged(answer, upload_id, limit, offset, lambda db: db.anomalies(f, page, a)),
        )

    @router.get(
        "/anomalies", response_model=models.AnomalyPage, summary="Anomalies", tags=["findings"]
    )
    async def anomalies(
        answer: Answering,
        f: Filtered,
        kind: Kind = None,
        min_score: MinScore = None,
        template: TemplateId = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: AnomalySort = None,
    ) -> Response:
        """Spikes, silences, level shifts, new and rare templates of the selected uploads,
        highest score first, each with its time window, explanation, templates, example
        lines and upload. `start`/`end` keep those overlapping [start, end); `level` those
        covering entries at that level. Each content counts once."""
        return await anomaly_answer(answer, f, kind, min_score, template, limit, offset, sort)

    @router.get(
        "/uploads/{upload_id}/anomalies",
        response_model=models.AnomalyPage,
        summary="Anomalies of one upload",
        tags=["uploads"],
        responses=NOT_ANALYSED,
    )
    async def upload_anomalies(
        answer: Answering,
        upload_id: UploadPath,
        start: Start = None,
        end: End = None,
        level: Level = None,
        kind: Kind = None,
        min_score: MinScore = None,
        template: TemplateId = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: AnomalySort = None,
    ) -> Response:
        """The anomalies of one upload (its report's `anomalies`, paged and filtered)."""
        f = make_filters(start=start, end=end, level=level, upload=upload_id, owner=answer.owner)
        return await anomaly_answer(
            answer, f, kind, min_score, template, limit, offset, sort, upload_id
        )

    async def incident_answer(
        answer: Answering,
        f: Filters,
        kind: str | None,
        min_score: float | None,
        category: str | None,
        template: str | None,
        page_args: tuple[int, int, str | None, int],
        upload_id: int | None = None,
    ) -> Response:
        limit, offset, sort, findings = page_args
        i = make_incident_filters(kind, min_score, category, template)
        page = make_page(limit, offset, sort)
        return await answer(
            incidents_json,
            paged(answer, upload_id, limit, offset, lambda db: db.incidents(f, page, i, findings)),
        )

    @router.get(
        "/incidents", response_model=models.IncidentPage, summary="Incidents", tags=["findings"]
    )
    async def incidents(
        answer: Answering,
        f: Filtered,
        kind: Kind = None,
        min_score: MinScore = None,
        category: CategoryName = None,
        template: TemplateId = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: IncidentSort = None,
        findings: IncidentFindings = 50,
    ) -> Response:
        """Incidents of the selected uploads, highest score first: related anomalies (that
        overlap in time and concern the same templates, categories or the whole stream)
        taken together, each with a title, score, window, the templates that changed most
        and its findings beneath. `start`/`end` keep those overlapping [start, end);
        `level` those with a finding at that level; `kind` those with a finding of that
        kind. Each content counts once."""
        return await incident_answer(
            answer, f, kind, min_score, category, template, (limit, offset, sort, findings)
        )

    @router.get(
        "/uploads/{upload_id}/incidents",
        response_model=models.IncidentPage,
        summary="Incidents of one upload",
        tags=["uploads"],
        responses=NOT_ANALYSED,
    )
    async def upload_incidents(
        answer: Answering,
        upload_id: UploadPath,
        start: Start = None,
        end: End = None,
        level: Level = None,
        kind: Kind = None,
        min_score: MinScore = None,
        category: CategoryName = None,
        template: TemplateId = None,
        limit: Limit = 50,
        offset: Offset = 0,
        sort: IncidentSort = None,
        findings: IncidentFindings = 50,
    ) -> Response:
        """The incidents of one upload (its report's `incidents`, paged and filtered), each
        with its findings beneath."""
        f = make_filters(start=start, end=end, level=level, upload=upload_id, owner=answer.owner)
        return await incident_answer(
            answer,
            f,
            kind,
            min_score,
            category,
            template,
            (limit, offset, sort, findings),
            upload_id,
        )

    @router.get(
        "/categories",
        response_model=models.Categories,
        summary="Entries per category",
        tags=["findings"],
    )
    async def categories(answer: Answering, f: Filtered, shown: Shown = 3) -> Response:
        """Entries per category (database, network, security, ...) over the selected
        uploads, most first, with their biggest templates. An entry counts in each category
        of its template; whole-upload counts (a window selects uploads, as for templates)."""

        async def compute(db: Reader) -> Json:
            return {"items": await db.categories(f, shown)}

        return await answer(categories_json, compute)

    @router.get(
        "/uploads/{upload_id}/categories",
        response_model=models.Categories,
        summary="Entries per category of one upload",
        tags=["uploads"],
        responses=NOT_ANALYSED,
    )
    async def upload_categories(
        answer: Answering, upload_id: UploadPath, level: Level = None, shown: Shown = 3
    ) -> Response:
        """The categories of one upload, most entries first, with their biggest templates."""
        f = make_filters(level=level, upload=upload_id, owner=answer.owner)

        async def compute(db: Reader) -> Json:
            await analysed_upload(db, upload_id, answer.owner)
            return {"items": await db.categories(f, shown)}

        return await answer(categories_json, compute)

    @router.get(
        "/trend",
        response_model=models.Trend,
        summary="Entries over time per level, template or category",
        tags=["findings"],
    )
    async def trend(
        answer: Answering,
        f: Filtered,
        by: By = "level",
        key: Key = None,
        bucket: TrendBucket = "hour",
        top: TrendTop = 10,
    ) -> Response:
        """Entries per bucket (minute, hour, day) of each level, template or category over
        the selected uploads; empty buckets are left out."""
        return await answer(trend_json, lambda db: db.trend(f, by, key, bucket, top))

    @router.get(
        "/uploads/{upload_id}/trend",
        response_model=models.Trend,
        summary="Entries over time of one upload",
        tags=["uploads"],
        responses=NOT_ANALYSED,
    )
    async def upload_trend(
        answer: Answering,
        upload_id: UploadPath,
        start: Start = None,
        end: End = None,
        level: Level = None,
        by: By = "level",
        key: Key = None,
        bucket: TrendBucket = "hour",
        top: TrendTop = 10,
    ) -> Response:
        """Entries per bucket of each level, template or category of one upload."""
        f = make_filters(start=start, end=end, level=level, upload=upload_id, owner=answer.owner)

        async def compute(db: Reader) -> Json:
            await analysed_upload(db, upload_id, answer.owner)
            return await db.trend(f, by, key, bucket, top)

        return await answer(trend_json, compute)

    @router.get("/diff", response_model=models.Diff, summary="What changed", tags=["findings"])
    async def diff(
        request: Request,
        answer: Answering,
        a: SideA,
        b: SideB,
        operator: Operator = None,
        upload: UploadId = None,
        level: Level = None,
        top: DiffTop = 10,
        rate: Rate = "share",
    ) -> Response:
        """What changed from `a` to `b` (two uploads, or two time windows of the uploads
        `operator` and `upload` select): templates that appeared or vanished, and those
        whose rate moved most, with their counts and an example."""
        base = make_filters(operator=operator, level=level, upload=upload, owner=answer.owner)
        side_a, side_b = make_side(a, "a", base), make_side(b, "b", base)
        await check_uploads(request, answer.caller, upload, side_a.upload, side_b.upload)
        return await answer(diff_json, lambda db: db.diff(side_a, side_b, top, rate))

    @router.get(
        "/uploads/{upload_id}/diff",
        response_model=models.Diff,
        summary="What changed since an earlier upload",
        tags=["uploads"],
        responses=NOT_ANALYSED,
    )
    async def upload_diff(
        answer: Answering,
        upload_id: UploadPath,
        against: Against = None,
        level: Level = None,
        top: DiffTop = 10,
        rate: Rate = "share",
    ) -> Response:
        """What changed from `against` to this upload: templates that appeared or vanished,
        and those whose rate moved most."""
        base = make_filters(level=level, owner=answer.owner)

        async def compute(db: Reader) -> Json:
            found = await analysed_upload(db, upload_id, answer.owner)
            before = against
            if before is None:
                before = await db.previous_upload(upload_id, answer.owner)
                if before is None:
                    raise HTTPException(
                        status.HTTP_409_CONFLICT,
                        f"upload {upload_id} has no earlier analysed upload of "
                        f"{found['original_name']!r} by {found['operator']}: give against=ID",
                    )
            else:
                await analysed_upload(db, before, answer.owner)
            side_a = dataclasses.replace(base, upload=before)
            side_b = dataclasses.replace(base, upload=upload_id)
            return await db.diff(side_a, side_b, top, rate)

        return await answer(diff_json, compute)
