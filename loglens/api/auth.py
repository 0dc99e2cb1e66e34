"""Bearer-token authentication with the operators' tokens (AUTH_TOKENS), and who may read
what: an operator reads its own uploads, a token marked `:read-all` every operator's."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loglens.api.guard import FailureGuard

logger = logging.getLogger(__name__)

_SCHEME = HTTPBearer(
    auto_error=False,
    description="An operator's token from AUTH_TOKENS, sent as `Authorization: Bearer <token>`.",
)


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the operator of its token, and whether it reads every upload."""

    operator: str
    read_all: bool = False

    @property
    def owner(self) -> str | None:
        """The operator whose uploads this caller reads; None: every operator's."""
        return None if self.read_all else self.operator


def find_token(tokens: Sequence[tuple[str, str]], presented: str) -> tuple[str, str] | None:
    """The (operator, token) whose token equals `presented`, comparing every token in
    constant time."""
    given = presented.encode()
    found: tuple[str, str] | None = None
    for operator, token in tokens:
        # No early exit: the time taken does not tell which token, or how much of it, matched.
        if hmac.compare_digest(token.encode(), given):
            found = (operator, token)
    return found


def find_operator(tokens: Sequence[tuple[str, str]], presented: str) -> str | None:
    """The operator whose token equals `presented` (see `find_token`)."""
    found = find_token(tokens, presented)
    return None if found is None else found[0]


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_SCHEME)],
) -> Caller:
    """The caller of the bearer token (the app's `auth_tokens`); 401 otherwise, and 429
    once a client address has failed too often (the app's `auth_guard`)."""
    guard: FailureGuard = request.app.state.auth_guard
    address = request.client.host if request.client is not None else "unknown"
    wait = guard.blocked(address)
    if wait is not None:
        raise _too_many(address, wait, guard)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send an operator's token as 'Authorization: Bearer <token>'")
    tokens: tuple[tuple[str, str], ...] = request.app.state.auth_tokens
    found = find_token(tokens, credentials.credentials)
    if found is None:
        failures = guard.failed(address)
        logger.warning("API: wrong bearer token from %s", address)
        if failures >= guard.limit:
            logger.warning(
                "API: %s sent %d wrong tokens within %gs: refused (429) until the window passes",
                address,
                failures,
                guard.window,
            )
        raise _unauthorized("the bearer token is not one of the operators' tokens")
    read_all: Collection[str] = request.app.state.read_all_tokens
    return Caller(found[0], found[1] in read_all)


def _unauthorized(message: str) -> HTTPException:
    """A 401 that tells the client to use a bearer token."""
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _too_many(address: str, wait: float, guard: FailureGuard) -> HTTPException:
    """A 429 that says how long to wait."""
    seconds = max(1, round(wait + 0.5))
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=(
            f"too many wrong tokens from {address}: {guard.limit} failures within "
            f"{guard.window:g}s; try again in {seconds}s with a valid token"
        ),
        headers={"Retry-After": str(seconds)},
    )
