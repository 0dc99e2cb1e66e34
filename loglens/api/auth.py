"""Bearer-token authentication with the operators' tokens (AUTH_TOKENS)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

logger = logging.getLogger(__name__)

_SCHEME = HTTPBearer(
    auto_error=False,
    description="An operator's token from AUTH_TOKENS, sent as `Authorization: Bearer <token>`.",
)


def find_operator(tokens: Sequence[tuple[str, str]], presented: str) -> str | None:
    """The operator whose token equals `presented`, comparing every token in constant time."""
    given = presented.encode()
    found: str | None = None
    for operator, token in tokens:
        # No early exit: the time taken does not tell which token, or how much of it, matched.
        if hmac.compare_digest(token.encode(), given):
            found = operator
    return found


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_SCHEME)],
) -> str:
    """The operator of the bearer token (the app's `auth_tokens`); 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send an operator's token as 'Authorization: Bearer <token>'")
    tokens: tuple[tuple[str, str], ...] = request.app.state.auth_tokens
    operator = find_operator(tokens, credentials.credentials)
    if operator is None:
        raise _unauthorized("the bearer token is not one of the operators' tokens")
    return operator


def _unauthorized(message: str) -> HTTPException:
    """A 401 that tells the client to use a bearer token."""
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )
