"""The plumbing of a write connection, shared by `Database` and `AlertStore`: one aiosqlite
connection, used by one task at a time, whose errors become `StorageError`."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from loglens.closing import AsyncClosing
from loglens.errors import StorageError


class Writer(AsyncClosing):
    """A connection that writes; subclasses open it (`open`) and add what they write."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            try:
                await self._conn.close()
            except sqlite3.Error as exc:
                raise StorageError(f"database {self.path}: cannot close: {exc}") from exc

    async def _fetch(self, what: str, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run one query and return its rows; errors become StorageError."""
        async with self._lock:
            try:
                return list(await self._conn.execute_fetchall(sql, tuple(params)))
            except (sqlite3.Error, ValueError) as exc:
                raise StorageError(f"{what}: {self.path}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE), committed unless the block raises."""
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    await self._conn.rollback()
                    raise
                await self._conn.commit()
            except (sqlite3.Error, ValueError) as exc:
                raise StorageError(f"{what}: {self.path}: {exc}") from exc
