"""The real PostgreSQL of the tests: a fresh schema of its own for each test or module.

The server is at 127.0.0.1:5432 (trust auth, database `test`); LOGLENS_TEST_POSTGRES names
another. Each user of it gets a schema of a unique name, reached through the URL's
`search_path`, dropped afterwards: tests never see each other's rows, in any order.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loglens.storage.dialect import POSTGRES, Target, is_postgres

# Tried in turn when LOGLENS_TEST_POSTGRES is not set: the user may be postgres or root.
_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def _base_url() -> str | None:
    """The first URL of the test server that answers, or None."""
    given = os.environ.get("LOGLENS_TEST_POSTGRES")
    for url in (given,) if given else _CANDIDATES:
        try:
            with psycopg.connect(url, connect_timeout=5):
                return url
        except psycopg.Error:
            continue
    return None


_BASE: list[str | None] = []


def base_url() -> str:
    """The test server's URL; the test is skipped (failed on CI) when none answers."""
    if not _BASE:
        _BASE.append(_base_url())
    url = _BASE[0]
    if url is None:
        message = "no PostgreSQL at 127.0.0.1:5432 (set LOGLENS_TEST_POSTGRES to another)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A DATABASE_URL whose tables land in a new, empty schema, dropped at the end."""
    url = base_url()
    schema = f"loglens_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def sql_rows(target: Target, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of plain SQL (with `?` marks) as a person would run it: sqlite3 or psycopg."""
    if is_postgres(target):
        with psycopg.connect(str(target), autocommit=True) as conn:
            cursor = conn.execute(POSTGRES.translate(sql), params)
            return cursor.fetchall() if cursor.description is not None else []
    with sqlite3.connect(Path(target)) as db:
        return db.execute(sql, params).fetchall()
