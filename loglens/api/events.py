"""GET /stream/events: what changes in the results, pushed as server-sent events.

A client (the dashboard's live view, `curl -N`, any EventSource) keeps one request open
and reads events as the database changes: the processor storing an analysis, an alert
firing or resolving. Every `interval` seconds the endpoint looks at the database's data
version (one cheap query) and, only when it moved, reads what changed for the caller's
scope (an operator's token: its own uploads):

- `hello` (first): the totals so far: `uploads`, `entries`, `lines`, `levels`,
  `last_timestamp`, and the `interval`;
- `counts`: the same totals after a change, with `added`, the entries per level since the
  previous `counts` (or `hello`);
- `incident`: each incident stored since the stream began, as `GET /incidents` lists it
  (with up to 5 findings);
- `alert`: each alert that fired, or resolved, since the stream began, as `GET /alerts`.

Each event has an `id` (a counter of the stream) and a JSON `data` line; a comment line
(`: keepalive`) goes every 15 s of silence, so proxies and clients see the stream alive.
At most MAX_STREAMS streams are open at once (503 beyond). The stream starts afresh on
reconnection: the totals of `hello` are the state to start from.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from loglens.api import models
from loglens.api.auth import Caller, authenticate
from loglens.storage.alerts.reader import AlertReader
from loglens.storage.read.filters import Filters, Page
from loglens.storage.read.queries import Reader

MAX_STREAMS = 64
KEEPALIVE_SECONDS = 15.0
# The newest incidents and alerts looked at after each change: more than this many new
# ones between two looks are listed up to this many (the totals still count them all).
NEWEST = 200

router = APIRouter(tags=["live"])


@router.get(
    "/stream/events",
    summary="Live events (server-sent events)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
        401: {"model": models.Problem, "description": "No bearer token, or not an operator's"},
        422: {"model": models.Problem, "description": "A parameter is invalid"},
        503: {"model": models.Problem, "description": f"{MAX_STREAMS} streams are open"},
    },
)
async def stream_events(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    interval: Annotated[
        float, Query(ge=0.2, le=60, description="Seconds between looks at the database")
    ] = 1.0,
) -> StreamingResponse:
    """New results as they are stored: totals (`hello`, then `counts`), each new
    `incident` and each `alert` that fires or resolves, as server-sent events."""
    open_streams: list[int] = request.app.state.live_streams
    if open_streams[0] >= MAX_STREAMS:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"{MAX_STREAMS} event streams are open (MAX_STREAMS): try again later",
        )
    reader: Reader = request.app.state.reader
    live = _Live(reader, caller.owner)
    try:
        await live.start()  # errors (the database) answer as usual, before the stream begins
    except BaseException:
        await live.close()
        raise
    open_streams[0] += 1

    async def events() -> AsyncIterator[str]:
        try:
            async for event in live.events(request, interval):
                yield event
        finally:
            open_streams[0] -= 1
            await live.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _Live:
    """One stream's view of the database: what it has told, and what is new."""

    def __init__(self, reader: Reader, owner: str | None) -> None:
        self._reader = reader
        self._owner = owner
        self._filters = Filters(owner=owner)
        self._count = 0
        self._totals: dict[str, Any] = {}
        self._last_incident = 0
        self._alerts: dict[int, str] = {}  # alert id -> the state last told
        self._alert_reader: AlertReader | None = None
        self._version = 0

    async def start(self) -> None:
        """Read the state the stream starts from."""
        self._alert_reader = await AlertReader.open(self._reader.path)
        self._version = await self._reader.data_version()
        self._totals = await self._read_totals()
        newest, _total = await self._reader.incidents(
            self._filters, Page(limit=1, sort="-id"), findings=0
        )
        self._last_incident = int(newest[0]["id"]) if newest else 0
        self._alerts = {alert["id"]: alert["state"] for alert in await self._read_alerts()}

    async def events(self, request: Request, interval: float) -> AsyncIterator[str]:
        """The stream's events until the client goes away."""
        yield "retry: 2000\n\n"
        yield self._event("hello", {**self._totals, "interval": interval})
        quiet = 0.0
        while not await request.is_disconnected():
            await asyncio.sleep(interval)
            version = await self._reader.data_version()
            if version == self._version:
                quiet += interval
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield ": keepalive\n\n"
                continue
            self._version, quiet = version, 0.0
            for event in await self._changes():
                yield event

    async def _changes(self) -> list[str]:
        """The events of what changed since the last look."""
        out = []
        totals = await self._read_totals()
        if totals != self._totals:
            before = self._totals.get("levels", {})
            added = {
                level: count - before.get(level, 0)
                for level, count in totals["levels"].items()
                if count != before.get(level, 0)
            }
            self._totals = totals
            out.append(self._event("counts", {**totals, "added": added}))
        newest, _total = await self._reader.incidents(
            self._filters, Page(limit=NEWEST, sort="-id"), findings=5
        )
        for incident in reversed([i for i in newest if i["id"] > self._last_incident]):
            self._last_incident = max(self._last_incident, int(incident["id"]))
            out.append(self._event("incident", incident))
        for alert in reversed(await self._read_alerts()):
            if self._alerts.get(alert["id"]) != alert["state"]:
                self._alerts[alert["id"]] = alert["state"]
                out.append(self._event("alert", alert))
        return out

    async def _read_totals(self) -> dict[str, Any]:
        stats = await self._reader.stats(self._filters, top=1)
        return {
            "uploads": stats.get("uploads", 0),
            "entries": stats.get("entries", 0),
            "lines": stats.get("lines", 0),
            "levels": stats.get("levels", {}),
            "last_timestamp": stats.get("last_timestamp"),
        }

    async def close(self) -> None:
        """Close the stream's connection for alerts."""
        if self._alert_reader is not None:
            await self._alert_reader.close()

    async def _read_alerts(self) -> list[dict[str, Any]]:
        """The newest alerts the caller may see, newest first (none without the table)."""
        assert self._alert_reader is not None
        found, _total = await self._alert_reader.alerts(limit=NEWEST, owner=self._owner)
        return [alert.to_dict() for alert in found]

    def _event(self, kind: str, data: dict[str, Any]) -> str:
        self._count += 1
        body = json.dumps(data, ensure_ascii=False, default=str)
        return f"id: {self._count}\nevent: {kind}\ndata: {body}\n\n"
