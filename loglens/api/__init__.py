"""The HTTP API and web dashboard over the results database: `create_app(config)`."""

from __future__ import annotations

from loglens.api.app import create_app

__all__ = ["create_app"]
