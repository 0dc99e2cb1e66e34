"""Query parameters shared by the endpoints, turned into the Reader's `Filters` and `Page`."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status

from loglens.api.answers import missing_upload
from loglens.api.auth import Caller, authenticate
from loglens.errors import LoglensError
from loglens.storage.read.filters import (
    ANOMALY_KINDS,
    LEVELS,
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_TEXT,
    AnomalyFilters,
    Filters,
    IncidentFilters,
    Page,
    parse_side,
    parse_time,
)

logger = logging.getLogger(__name__)

_TIME_HELP = (
    "ISO-8601 time (`2024-05-01`, `2024-05-01T12:00:00Z`, `...+02:00`; UTC when no zone is "
    "given), `now`, or relative like `-15m`, `-2h`, `-7d`."
)


class ParameterError(LoglensError, ValueError):
    """A query parameter is invalid; answered 422 with the message, which names it."""


Start = Annotated[
    str | None,
    Query(max_length=100, description=f"Entries at or after this time (log time). {_TIME_HELP}"),
]
End = Annotated[
    str | None,
    Query(
        max_length=100, description=f"Entries before this time (log time, exclusive). {_TIME_HELP}"
    ),
]
Operator = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_TEXT, description="Only uploads of this operator"),
]
Level = Annotated[
    str | None,
    Query(description=f"Only entries at this level, one of {', '.join(LEVELS)} (any case)"),
]
UploadId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this upload (its id)")]
UploadPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The upload's id")]
Against = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_ID,
        description="The upload to compare with; by default the latest earlier analysed "
        "upload of the same operator and file name (of other content)",
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}")]
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description=f"Rows to skip, 0 to {MAX_OFFSET:,}")
]
Top = Annotated[int, Query(ge=1, le=1000, description="How many top error templates, 1 to 1000")]
Search = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_TEXT,
        description="Only templates containing this text (literally: % and _ match themselves)",
    ),
]


Kind = Annotated[
    str | None, Query(description=f"Only anomalies of this kind: {', '.join(ANOMALY_KINDS)}")
]
MinScore = Annotated[
    float | None,
    Query(ge=0, allow_inf_nan=False, description="Only anomalies scoring at least this much"),
]
TemplateId = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_TEXT, description="Only anomalies naming this template id"),
]
CategoryName = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_TEXT, description="Only incidents of this category"),
]
IncidentFindings = Annotated[
    int, Query(ge=0, le=200, description="Findings listed under each incident, 0 to 200")
]
_SIDE_HELP = (
    "an upload id (`42`), or a log-time window `START..END` (either end may be left out; "
    f"times as for `start`). {_TIME_HELP}"
)
SideA = Annotated[
    str, Query(min_length=1, max_length=200, description=f"The before side: {_SIDE_HELP}")
]
SideB = Annotated[
    str, Query(min_length=1, max_length=200, description=f"The after side: {_SIDE_HELP}")
]


def make_filters(
    *,
    start: str | None = None,
    end: str | None = None,
    operator: str | None = None,
    level: str | None = None,
    upload: int | None = None,
    status: str | None = None,
    text: str | None = None,
    owner: str | None = None,
) -> Filters:
    """Validated Filters from raw parameters; ParameterError names the bad one. `owner`
    is the caller's scope (`Caller.owner`)."""
    try:
        return Filters(
            start=None if start is None else parse_time(start, "start"),
            end=None if end is None else parse_time(end, "end"),
            operator=operator,
            level=level,
            upload=upload,
            status=status,
            text=text,
            owner=owner,
        )
    except ValueError as exc:  # QueryError is a ValueError, and names the field
        raise ParameterError(str(exc)) from exc


def make_anomaly_filters(
    kind: str | None, min_score: float | None, template: str | None
) -> AnomalyFilters:
    """Validated AnomalyFilters; ParameterError names the bad parameter."""
    try:
        return AnomalyFilters(kind=kind, min_score=min_score, template_id=template)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


def make_incident_filters(
    kind: str | None, min_score: float | None, category: str | None, template: str | None
) -> IncidentFilters:
    """Validated IncidentFilters; ParameterError names the bad parameter."""
    try:
        return IncidentFilters(kind, min_score, category, template)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


def make_side(text: str, name: str, base: Filters) -> Filters:
    """One side of a diff (`a` or `b`) narrowed from `base`; ParameterError names it."""
    try:
        return parse_side(text, name, base)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


def make_page(limit: int, offset: int, sort: str | None) -> Page:
    """A validated Page; ParameterError names the bad parameter."""
    try:
        return Page(limit=limit, offset=offset, sort=sort)
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


def one_search(q: str | None, search: str | None) -> str | None:
    """The search text from `q` or its alias `search` (not two different ones)."""
    if q is not None and search is not None and q != search:
        raise ParameterError(f"q={q!r} and search={search!r} disagree: give one of them")
    return q if q is not None else search


async def result_filters(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    start: Start = None,
    end: End = None,
    operator: Operator = None,
    level: Level = None,
    upload: UploadId = None,
) -> Filters:
    """The filters of the results endpoints (stats, errors, templates, timeline, rejected,
    findings) in the caller's scope; 404 when `upload` names none the caller may read."""
    f = make_filters(
        start=start, end=end, operator=operator, level=level, upload=upload, owner=caller.owner
    )
    await check_uploads(request, caller, upload)
    return f


async def check_uploads(request: Request, caller: Caller, *upload_ids: int | None) -> None:
    """404 unless every upload id given (None: none) names an upload the caller may read."""
    for upload_id in upload_ids:
        if (
            upload_id is not None
            and await request.app.state.reader.upload(upload_id, caller.owner) is None
        ):
            raise HTTPException(status.HTTP_404_NOT_FOUND, missing_upload(upload_id, caller.owner))
