"""SQLite through aiosqlite: a `Connection` on a file (WAL), one thread per connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from loglens.storage.dialect.connection import Connection
from loglens.storage.dialect.sql import SQLITE, DriverError, Row

BUSY_TIMEOUT_MS = 30_000
# Each SQLite read connection keeps its own page cache; a big database's hot indexes fit.
CACHE_KIB = 16 * 1024
WRITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)
READ_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA query_only = ON",
    f"PRAGMA cache_size = -{CACHE_KIB}",
)


class SQLiteConnection(Connection):
    """A connection to a SQLite file through aiosqlite (its own thread)."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        # The cursor is left to the garbage collector: closing it is one more trip to
        # aiosqlite's thread, per BEGIN and ROLLBACK of every read.
        try:
            cursor = await self._conn.execute(sql, tuple(params))
        except (sqlite3.Error, ValueError) as exc:  # ValueError: closed
            raise DriverError(str(exc)) from exc
        return cursor.rowcount

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, params)
        except (sqlite3.Error, ValueError) as exc:
            raise DriverError(str(exc)) from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return list(await self._conn.execute_fetchall(sql, tuple(params)))  # type: ignore[arg-type]
        except (sqlite3.Error, ValueError) as exc:
            raise DriverError(str(exc)) from exc

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            rowid = (await self._conn.execute(sql, tuple(params))).lastrowid
        except (sqlite3.Error, ValueError) as exc:
            raise DriverError(str(exc)) from exc
        if rowid is None:
            raise DriverError("insert gave no row id")
        return rowid

    async def close(self) -> None:
        try:
            await self._conn.close()
        except (sqlite3.Error, ValueError) as exc:
            raise DriverError(str(exc)) from exc


async def open_sqlite(uri: str, pragmas: Sequence[str], *, is_uri: bool) -> SQLiteConnection:
    conn: aiosqlite.Connection | None = None
    try:
        conn = await aiosqlite.connect(uri, uri=is_uri, isolation_level=None)
        for pragma in pragmas:
            await conn.execute(pragma)
    except sqlite3.Error as exc:
        if conn is not None:
            await conn.close()
        raise DriverError(str(exc)) from exc
    return SQLiteConnection(conn)
