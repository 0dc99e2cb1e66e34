"""The FastAPI application: `create_app(config)` builds it; the Reader opens in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from loglens.api import models
from loglens.api.alerts import router as alerts_router
from loglens.api.cache import ResponseCache
from loglens.api.events import router as events_router
from loglens.api.guard import FailureGuard
from loglens.api.params import ParameterError
from loglens.api.routes import build_router
from loglens.config import Config
from loglens.errors import StorageError
from loglens.storage.dialect import describe
from loglens.storage.read.filters import QueryError
from loglens.storage.read.queries import Reader

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The dashboard loads nothing but its own files, and talks only to this API.
_DASHBOARD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_DESCRIPTION = """\
Read the results of the logs uploaded to loglens: a global summary, uploads, top error
templates, templates, a timeline per level, rejected lines, and the findings: anomalies,
categories, trends per level, template or category, and what changed between two uploads
or two time windows (each also per upload, under `/uploads/{upload_id}/`).

Every endpoint but `/healthz` needs an operator's token (`AUTH_TOKENS`) as
`Authorization: Bearer <token>`. An operator's token reads only that operator's uploads
and what derives from them (stats, templates, timeline, findings, diffs, alerts); a token
marked `:read-all` in `AUTH_TOKENS` reads every operator's. An address that sends
`AUTH_FAILURE_LIMIT` wrong tokens within `AUTH_LOCKOUT_SECONDS` is answered 429 (with
`Retry-After`) for that long. Filters are query parameters: `start` and `end` (ISO-8601,
log time; `end` exclusive), `operator`, `level`, `upload`; lists take `limit`, `offset` and
`sort`. A bad parameter answers 422 with a message naming it, an unknown upload 404.
The dashboard is at `/`.
"""


DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


def create_app(config: Config, cache_bytes: int = DEFAULT_CACHE_BYTES) -> FastAPI:
    """The API and dashboard over the results database `config.database`; answers are
    kept (up to `cache_bytes`, 0 for none) until the database changes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reader = await Reader.open(config.database)
        app.state.reader = reader
        logger.info("reading results from %s", describe(config.database))
        try:
            yield
        finally:
            await reader.close()

    app = FastAPI(
        title="loglens API",
        version="1",
        description=_DESCRIPTION,
        lifespan=lifespan,
        responses={401: {"model": models.Problem}},
        docs_url=None,  # served below from local files: FastAPI's default loads a CDN
        redoc_url=None,
    )
    if not config.auth_tokens:
        logger.warning("no AUTH_TOKENS configured: every API request will be refused (401)")
    app.state.auth_tokens = config.auth_tokens
    app.state.read_all_tokens = config.read_all_tokens
    app.state.auth_guard = FailureGuard(config.auth_failure_limit, config.auth_lockout_seconds)
    app.state.cache = ResponseCache(cache_bytes) if cache_bytes > 0 else None
    app.include_router(build_router(config.top_n))
    app.include_router(alerts_router)
    app.include_router(events_router)
    app.state.live_streams = [0]  # event streams open (see loglens.api.events)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(QueryError, _invalid_value)
    app.add_exception_handler(ParameterError, _invalid_value)
    app.add_exception_handler(StorageError, _storage_failed)

    @app.get("/healthz", summary="Liveness", tags=["service"], include_in_schema=True)
    async def healthz() -> models.Health:
        """Answers `{"status": "ok"}` without a token and without reading the database."""
        return models.Health()

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_DASHBOARD_HEADERS)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="loglens API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    return app


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 for parameters FastAPI could not parse, naming each one."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("query", "path")]
        name = ".".join(location) or "request"
        given = error.get("input")
        shown = "" if given is None or isinstance(given, dict) else f" (got {given!r})"
        problems.append(f"{name}: {error.get('msg', 'invalid')}{shown}")
    return JSONResponse(
        {"detail": "; ".join(problems) or "invalid request"},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _invalid_value(request: Request, exc: Exception) -> JSONResponse:
    """422 for a value the Reader refused (QueryError, ParameterError: they name it)."""
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _storage_failed(request: Request, exc: Exception) -> JSONResponse:
    """503 when the database cannot be read; the cause goes to the log."""
    logger.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the results database cannot be read now: try again later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
