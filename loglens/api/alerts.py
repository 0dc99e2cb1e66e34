"""GET /alerts: the alerts the processor recorded (docs/alerts.md), newest first."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from loglens.api import models
from loglens.api.auth import Caller, authenticate
from loglens.storage.alerts.reader import AlertReader
from loglens.storage.read.filters import MAX_OFFSET


class AlertItem(BaseModel):
    """One alert: a rule's incident in the uploads of one source, and its webhook delivery."""

    id: int
    rule: str = Field(description="The rule's name in ALERT_RULES_FILE")
    kind: Literal["threshold", "anomaly"]
    state: Literal["firing", "resolved"]
    source: str = Field(description="The original name of the upload it fired in")
    upload_id: int | None = Field(description="That upload (the first of its content)")
    blob_id: int
    last_blob_id: int = Field(description="The last blob (content) that carried it on")
    window_start: str = Field(description="Log time of its first entry (ISO-8601 UTC)")
    window_end: str = Field(description="Log time its last bucket ends (exclusive)")
    fired_at: str = Field(description="Wall time it fired")
    resolved_at: str | None = Field(description="Wall time it resolved, or null")
    value: float = Field(description="Most matching entries in one window, or anomaly score")
    message: str
    delivery: Literal["off", "pending", "delivered"] = Field(
        description="Webhook: off (none set when it fired), pending, or delivered"
    )
    delivered: Literal["firing", "resolved"] | None = Field(
        description="The last event the webhook took"
    )
    attempts: int = Field(description="POSTs tried in all")
    next_attempt_at: str | None
    delivery_error: str | None = Field(description="Why the last POST failed, if it did")


class AlertList(BaseModel):
    """A page of alerts and how many match in all."""

    total: int
    limit: int
    offset: int
    alerts: list[AlertItem]


router = APIRouter(tags=["alerts"])


@router.get(
    "/alerts",
    summary="Alerts",
    responses={
        401: {"model": models.Problem, "description": "No bearer token, or not an operator's"},
        429: {"model": models.Problem, "description": "Too many wrong tokens: wait Retry-After"},
        422: {"model": models.Problem, "description": "A parameter is invalid"},
        503: {"model": models.Problem, "description": "The results database cannot be read"},
    },
)
async def alerts(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    state: Annotated[
        Literal["firing", "resolved"] | None, Query(description="Only alerts in this state")
    ] = None,
    source: Annotated[
        str | None, Query(max_length=1000, description="Only alerts of uploads of this name")
    ] = None,
    rule: Annotated[
        str | None, Query(max_length=1000, description="Only alerts of this rule")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Alerts to return")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Alerts to skip")] = 0,
) -> AlertList:
    """Alerts, newest first (by when they fired), with their webhook delivery state; an
    operator's token sees those that fired or carried on in its own uploads' contents."""
    async with await AlertReader.open(request.app.state.reader.path) as reader:
        found, total = await reader.alerts(state, source, rule, limit, offset, caller.owner)
    items: list[dict[str, Any]] = [alert.to_dict() for alert in found]
    return AlertList(
        total=total,
        limit=limit,
        offset=offset,
        alerts=[AlertItem.model_validate(item) for item in items],
    )
