"""Read-only connections to the results database, lent one read transaction at a time.

A `ReadPool` opens up to `size` connections (SQLite: `mode=ro`, `query_only`; PostgreSQL:
read-only sessions) as requests need them, so queries of several tasks run at once, each
in its own snapshot; one more connection only reads the data version (`dialect`), whose
SQLite numbers are per connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Self

from loglens.closing import AsyncClosing
from loglens.errors import StorageError
from loglens.storage.dialect import (
    Connection,
    DriverError,
    Target,
    connect_reader,
    describe,
)
from loglens.storage.migrate import check_version

logger = logging.getLogger(__name__)


class ReadPool:
    """Up to `size` read-only connections; open it with `await ReadPool.open(path, size)`."""

    def __init__(self, path: Target, version: Connection, size: int) -> None:
        self.path = path
        self.where = describe(path)
        self._size = size
        self._version = version  # only for data_version: its numbers are per connection
        self._version_lock = asyncio.Lock()
        self._idle: list[Connection] = []
        self._opened = 0
        self._changed = asyncio.Condition()
        self._closed = False

    @classmethod
    async def open(cls, path: Target, size: int) -> ReadPool:
        """Open the database at `path` (a SQLite file or a `postgresql://` URL) read-only;
        StorageError if there is none, or not of this loglens' schema."""
        if size < 1:
            raise ValueError(f"size={size} must be at least 1")
        conn = await connect_reader(path)
        try:
            await check_version(conn, describe(path))
        except BaseException:
            await _close_quietly(conn, describe(path))
            raise
        logger.debug("opened %s for reading (up to %d connections)", describe(path), size)
        return cls(path, conn, size)

    @asynccontextmanager
    async def transaction(self, what: str) -> AsyncIterator[Connection]:
        """A connection in one read transaction (one snapshot); errors become StorageError."""
        conn = await self._take()
        reusable = False
        try:
            try:
                await conn.execute(conn.dialect.begin_read)
                try:
                    yield conn
                finally:
                    await conn.execute("ROLLBACK")  # nothing to keep: reads only
                    reusable = True
            except DriverError as exc:
                raise StorageError(f"{what}: {self.where}: {exc}") from exc
        finally:
            await self._give(conn, reusable)

    async def data_version(self) -> int:
        """A number that changes whenever another connection commits: a cache key."""
        async with self._version_lock:
            try:
                return await self._version.data_version()
            except DriverError as exc:
                raise StorageError(f"data version: {self.where}: {exc}") from exc

    async def close(self) -> None:
        """Wait for the connections lent out, then close every connection."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()
            await self._changed.wait_for(lambda: len(self._idle) == self._opened)
            idle, self._idle, self._opened = self._idle, [], 0
        async with self._version_lock:
            for conn in (*idle, self._version):
                try:
                    await conn.close()
                except DriverError as exc:
                    raise StorageError(f"database {self.where}: cannot close: {exc}") from exc

    async def _take(self) -> Connection:
        """An idle connection, a new one if fewer than `size` are open, else the next back."""
        async with self._changed:
            while not self._closed and not self._idle and self._opened >= self._size:
                await self._changed.wait()
            if self._closed:
                raise StorageError(f"database {self.where}: the reader is closed")
            if self._idle:
                return self._idle.pop()  # the most recent: its page cache is the warmest
            self._opened += 1
        try:
            return await connect_reader(self.path)
        except BaseException:
            async with self._changed:
                self._opened -= 1
                self._changed.notify()
            raise

    async def _give(self, conn: Connection, reusable: bool) -> None:
        """Take `conn` back; one whose transaction did not end cleanly is closed."""
        if not reusable:
            await _close_quietly(conn, self.where)
        async with self._changed:
            if reusable:
                self._idle.append(conn)
            else:
                self._opened -= 1
            self._changed.notify()


async def _close_quietly(conn: Connection, where: str) -> None:
    try:
        await conn.close()
    except DriverError:
        logger.warning("%s: a read connection failed to close", where, exc_info=True)


class PooledReader(AsyncClosing):
    """A read-only view of the database on one connection of its own (the jobs, the
    alerts); `await SubClass.open(path)`."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool
        self.path = pool.path
        self.where = pool.where

    @classmethod
    async def open(cls, path: Target) -> Self:
        """Open the database at `path` (a SQLite file or a `postgresql://` URL)
        read-only; StorageError if there is none."""
        return cls(await ReadPool.open(path, 1))

    async def close(self) -> None:
        """Close the connection."""
        await self._pool.close()
