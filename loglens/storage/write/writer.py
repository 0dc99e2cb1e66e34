"""The plumbing of a write connection, shared by `Database` and `AlertStore`: one
connection (`dialect.Connection`), used by one task at a time, whose errors become
`StorageError`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from loglens.closing import AsyncClosing
from loglens.errors import DatabaseUnavailable, StorageError
from loglens.storage.dialect import Connection, DriverError, Row, Target, describe


class Writer(AsyncClosing):
    """A connection that writes; subclasses open it (`open`) and add what they write."""

    def __init__(self, conn: Connection, path: Target) -> None:
        self._conn = conn
        self.path = path
        self.where = describe(path)
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            try:
                await self._conn.close()
            except DriverError as exc:
                raise StorageError(f"database {self.where}: cannot close: {exc}") from exc

    async def _fetch(self, what: str, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """Run one query and return its rows; errors become StorageError."""
        async with self._lock:
            try:
                return await self._conn.fetchall(sql, tuple(params))
            except DriverError as exc:
                raise storage_error(f"{what}: {self.where}: {exc}", exc) from exc

    @asynccontextmanager
    async def _transaction(self, what: str, exclusive: bool = False) -> AsyncIterator[Connection]:
        """A write transaction, committed unless the block raises. `exclusive` (for those
        that keep the sums over every blob) waits for the other exclusive ones: SQLite's
        write transactions always take turns, PostgreSQL's only then."""
        async with self._lock:
            try:
                await self._conn.begin(exclusive)
                try:
                    yield self._conn
                except BaseException:
                    await self._conn.execute("ROLLBACK")
                    raise
                await self._conn.execute("COMMIT")
            except DriverError as exc:
                raise storage_error(f"{what}: {self.where}: {exc}", exc) from exc


def storage_error(message: str, cause: DriverError) -> StorageError:
    """The StorageError of a driver's error: DatabaseUnavailable when its server is away."""
    if cause.unreachable:
        return DatabaseUnavailable(message)
    return StorageError(message)
