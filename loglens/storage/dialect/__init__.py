"""The one place that knows SQLite from PostgreSQL: connections, SQL text, DDL, locking.

`sql.Dialect` holds what differs in the SQL text, `connection.Connection` what a storage
module may do with a connection, `sqlite` and `postgres` the two drivers; here, opening one.

Storage code writes its SQL once, for both, with `?` marks; a `Connection` runs it on its
database, and `Dialect` gives the few pieces that differ:

| what                  | SQLite (aiosqlite)           | PostgreSQL (psycopg 3)             |
| --------------------- | ---------------------------- | ---------------------------------- |
| parameter marks       | `?`                          | `%s` (translated here)             |
| `CROSS JOIN ... ON`   | fixes the join order         | `JOIN ... ON` (planner's order)    |
| a new row's id        | `cursor.lastrowid`           | `RETURNING id`                     |
| `INTEGER`, `REAL`     | 64-bit, double               | `BIGINT`, `DOUBLE PRECISION`       |
| `id INTEGER PRIMARY`  | the rowid                    | an identity column                 |
| `TEXT`                | compared by bytes (BINARY)   | `COLLATE "C"`: the same order      |
| insertion order       | `rowid`                      | a `rowid` column where it is read  |
| schema version        | `PRAGMA user_version`        | table `loglens_schema`             |
| write transaction     | `BEGIN IMMEDIATE`: one       | `BEGIN`: concurrent; `exclusive`   |
|                       | writer at a time             | ones take an advisory lock         |
| read transaction      | `BEGIN`, `mode=ro`           | `REPEATABLE READ READ ONLY`        |
| did anything commit   | `PRAGMA data_version`        | `pg_current_snapshot()`            |
| a JSON list parameter | `json_each(?)`               | `json_array_elements_text(?)`      |
| scalar max, `IS NOT`  | `MAX(a, b)`, `a IS NOT b`    | `GREATEST`, `IS DISTINCT FROM`     |
| `LIKE`                | case-insensitive (ASCII)     | `ILIKE`                            |
| `SUM` of integers     | an integer                   | numeric, loaded back as `int`      |

Both drivers' errors become `DriverError`, so callers catch one type. A target is a `Path`
(a SQLite file, DB_PATH) or a `postgresql://` URL (DATABASE_URL).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from loglens.errors import DatabaseUnavailable, StorageError
from loglens.storage.dialect.connection import Connection
from loglens.storage.dialect.postgres import open_postgres
from loglens.storage.dialect.sql import (
    POSTGRES,
    SQLITE,
    WRITE_LOCK_KEY,
    Dialect,
    DriverError,
    Row,
    Target,
    describe,
    is_postgres,
)
from loglens.storage.dialect.sqlite import (
    BUSY_TIMEOUT_MS,
    CACHE_KIB,
    READ_PRAGMAS,
    WRITE_PRAGMAS,
    open_sqlite,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CACHE_KIB",
    "POSTGRES",
    "SQLITE",
    "WRITE_LOCK_KEY",
    "Connection",
    "Dialect",
    "DriverError",
    "Row",
    "Target",
    "connect_reader",
    "connect_writer",
    "describe",
    "is_postgres",
]


async def connect_writer(target: Target) -> Connection:
    """A connection that writes (SQLite: creating the file and its folder if needed)."""
    if is_postgres(target):
        return await _connect(open_postgres(str(target), read_only=False), target)
    path = Path(target)
    try:
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"database {path}: cannot create its folder: {exc}") from exc
    return await _connect(open_sqlite(str(path), WRITE_PRAGMAS, is_uri=False), target)


async def connect_reader(target: Target) -> Connection:
    """A connection that only reads (SQLite: `mode=ro`, `query_only`); StorageError if
    there is no SQLite file at `target`."""
    if is_postgres(target):
        return await _connect(open_postgres(str(target), read_only=True), target)
    path = Path(target)
    if not await asyncio.to_thread(path.is_file):
        raise StorageError(
            f"no results database at {path} (DB_PATH): start the server to create it, "
            "or point DB_PATH / --db at an existing one"
        )
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return await _connect(open_sqlite(uri, READ_PRAGMAS, is_uri=True), target)


async def _connect(opening: Any, target: Target) -> Connection:
    try:
        conn: Connection = await opening
    except DriverError as exc:
        if is_postgres(target):
            raise DatabaseUnavailable(
                f"cannot connect to the PostgreSQL database {describe(target)} "
                f"(DATABASE_URL): {exc}: start it, or fix DATABASE_URL"
            ) from exc
        raise StorageError(f"database {target}: cannot open: {exc}") from exc
    return conn
