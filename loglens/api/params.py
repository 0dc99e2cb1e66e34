"""Query parameters shared by the endpoints, turned into the Reader's `Filters` and `Page`."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Query

from loglens.errors import LoglensError
from loglens.storage.filters import (
    ANOMALY_KINDS,
    LEVELS,
    MAX_LIMIT,
    MAX_TEXT,
    AnomalyFilters,
    Filters,
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
    Query(description=f"Entries at or after this time (log time). {_TIME_HELP}"),
]
End = Annotated[
    str | None,
    Query(description=f"Entries before this time (log time, exclusive). {_TIME_HELP}"),
]
Operator = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_TEXT, description="Only uploads of this operator"),
]
Level = Annotated[
    str | None,
    Query(description=f"Only entries at this level, one of {', '.join(LEVELS)} (any case)"),
]
UploadId = Annotated[int | None, Query(ge=1, description="Only this upload (its id)")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip")]
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
    float | None, Query(ge=0, description="Only anomalies scoring at least this much")
]
TemplateId = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_TEXT, description="Only anomalies naming this template id"),
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
) -> Filters:
    """Validated Filters from raw parameters; ParameterError names the bad one."""
    try:
        return Filters(
            start=None if start is None else parse_time(start, "start"),
            end=None if end is None else parse_time(end, "end"),
            operator=operator,
            level=level,
            upload=upload,
            status=status,
            text=text,
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
    start: Start = None,
    end: End = None,
    operator: Operator = None,
    level: Level = None,
    upload: UploadId = None,
) -> Filters:
    """The filters of the results endpoints (stats, errors, templates, timeline, rejected)."""
    return make_filters(start=start, end=end, operator=operator, level=level, upload=upload)
