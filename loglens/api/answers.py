"""How the endpoints answer: cached JSON bodies, the documented errors, and the upload
lookups that answer 404 or 409."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, status
from pydantic import TypeAdapter

from loglens.api import models
from loglens.api.auth import Caller, authenticate
from loglens.api.cache import ResponseCache
from loglens.storage.read.queries import Reader

Json = dict[str, Any]
Compute = Callable[[Reader], Awaitable[Any]]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.Problem, "description": "No bearer token, or not an operator's"},
    429: {
        "model": models.Problem,
        "description": "Too many wrong tokens from this address: wait Retry-After seconds",
    },
    422: {"model": models.Problem, "description": "A parameter is invalid (the message names it)"},
    503: {"model": models.Problem, "description": "The results database cannot be read"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": models.Problem,
        "description": "No upload has this id (among those the token may read)",
    }
}
NOT_ANALYSED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": models.Problem, "description": "Not analysed (yet, or it failed)"},
}


class Answer:
    """A route's JSON body: from the cache while the database is unchanged, else computed
    by the Reader and validated and serialised at once by the response model's adapter.
    `owner` is the operator whose uploads the caller reads (None: every operator's)."""

    def __init__(self, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> None:
        self.reader: Reader = request.app.state.reader
        self.caller = caller
        self.owner = caller.owner
        self._cache: ResponseCache | None = request.app.state.cache
        # Callers of different scopes get different answers to the same request.
        scope = "*" if self.owner is None else f"={self.owner}"
        self._key = f"{scope} {request.url.path}?{request.url.query}"

    async def __call__(self, adapter: TypeAdapter[Any] | None, compute: Compute) -> Response:
        """The body of `compute(reader)` as the response model has it (`adapter` None: the
        answer is JSON already)."""
        if self._cache is None:
            body = _body(adapter, await compute(self.reader))
        else:
            version = await self.reader.data_version()  # before computing: never newer
            cached = self._cache.get(self._key, version)
            if cached is None:
                body = _body(adapter, await compute(self.reader))
                self._cache.put(self._key, version, body)
            else:
                body = cached
        return Response(body, media_type="application/json")


Answering = Annotated[Answer, Depends(Answer)]


def _body(adapter: TypeAdapter[Any] | None, data: Any) -> bytes:
    """`data` validated by the response model and serialised, both in pydantic-core (or
    as it is, without a model: JSON bytes already)."""
    if adapter is None:
        return bytes(data)
    return adapter.dump_json(adapter.validate_python(data))


async def upload_or_404(db: Reader, upload_id: int, owner: str | None) -> dict[str, Any]:
    """The Reader's upload (of `owner`, unless None), or a 404 that names the id."""
    found = await db.upload(upload_id, owner)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, missing_upload(upload_id, owner))
    return found


def missing_upload(upload_id: int, owner: str | None) -> str:
    """Why `upload_id` is not found: it does not exist, or (to an operator) is not its own;
    one message for both, so that it does not tell which."""
    if owner is None:
        return f"upload {upload_id} does not exist"
    return (
        f"upload {upload_id} does not exist or is not {owner}'s: this token reads only "
        f"the uploads of {owner}"
    )


async def analysed_upload(db: Reader, upload_id: int, owner: str | None) -> dict[str, Any]:
    """The Reader's upload if it has results; else 404 (no such upload) or 409."""
    found = await upload_or_404(db, upload_id, owner)
    if found.get("results") is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"upload {upload_id} has no results: it is {found.get('status')}, its "
            f"analysis {found.get('job_state') or 'not started'}",
        )
    return found
