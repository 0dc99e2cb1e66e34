"""Read-only connections to the results database, lent one read transaction at a time.

A `ReadPool` opens up to `size` connections (`mode=ro`, `query_only`) as requests need
them, so queries of several tasks run at once, each in its own snapshot; one more
connection only reads `PRAGMA data_version`, whose numbers are per connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from loglens.errors import StorageError
from loglens.storage.schema import SCHEMA_VERSION

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# Each connection keeps its own page cache; the hot indexes of a big database fit in this.
CACHE_KIB = 16 * 1024
_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA query_only = ON",
    f"PRAGMA cache_size = -{CACHE_KIB}",
)


class ReadPool:
    """Up to `size` read-only connections; open it with `await ReadPool.open(path, size)`."""

    def __init__(self, path: Path, uri: str, version: aiosqlite.Connection, size: int) -> None:
        self.path = path
        self._uri = uri
        self._size = size
        self._version = version  # only for data_version: its numbers are per connection
        self._version_lock = asyncio.Lock()
        self._idle: list[aiosqlite.Connection] = []
        self._opened = 0
        self._changed = asyncio.Condition()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, size: int) -> ReadPool:
        """Open the database at `path` read-only; StorageError if there is none."""
        if size < 1:
            raise ValueError(f"size={size} must be at least 1")
        if not await asyncio.to_thread(path.is_file):
            raise StorageError(
                f"no results database at {path} (DB_PATH): start the server to create it, "
                "or point DB_PATH / --db at an existing one"
            )
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = await _connect(path, uri)
        try:
            found = await conn.execute_fetchall("PRAGMA user_version")
            version = int(next(iter(found))[0])
        except sqlite3.Error as exc:
            await conn.close()
            raise StorageError(f"database {path}: cannot open for reading: {exc}") from exc
        if version != SCHEMA_VERSION:
            await conn.close()
            if version == 0:
                raise StorageError(f"{path} is not a loglens results database (no schema)")
            if version < SCHEMA_VERSION:
                # Only a writer upgrades a database: these connections are read-only.
                raise StorageError(
                    f"database {path} has schema version {version}, made by an older "
                    f"loglens; this one reads {SCHEMA_VERSION}: start the server "
                    "(python server.py) once with this DB_PATH to upgrade it"
                )
            raise StorageError(
                f"database {path} has schema version {version}, this loglens reads "
                f"{SCHEMA_VERSION}: use the matching loglens"
            )
        logger.debug("opened %s for reading (up to %d connections)", path, size)
        return cls(path, uri, conn, size)

    @asynccontextmanager
    async def transaction(self, what: str) -> AsyncIterator[aiosqlite.Connection]:
        """A connection in one read transaction (one snapshot); errors become StorageError."""
        conn = await self._take()
        reusable = False
        try:
            try:
                await conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    await conn.execute("ROLLBACK")  # nothing to keep: reads only
                    reusable = True
            except sqlite3.Error as exc:
                raise StorageError(f"{what}: {self.path}: {exc}") from exc
        finally:
            await self._give(conn, reusable)

    async def data_version(self) -> int:
        """A number that changes whenever another connection commits: a cache key."""
        async with self._version_lock:
            try:
                found = await self._version.execute_fetchall("PRAGMA data_version")
            except (sqlite3.Error, ValueError) as exc:  # ValueError: closed
                raise StorageError(f"data version: {self.path}: {exc}") from exc
        return int(next(iter(found))[0])

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
                except sqlite3.Error as exc:
                    raise StorageError(f"database {self.path}: cannot close: {exc}") from exc

    async def _take(self) -> aiosqlite.Connection:
        """An idle connection, a new one if fewer than `size` are open, else the next back."""
        async with self._changed:
            while not self._closed and not self._idle and self._opened >= self._size:
                await self._changed.wait()
            if self._closed:
                raise StorageError(f"database {self.path}: the reader is closed")
            if self._idle:
                return self._idle.pop()  # the most recent: its page cache is the warmest
            self._opened += 1
        try:
            return await _connect(self.path, self._uri)
        except BaseException:
            async with self._changed:
                self._opened -= 1
                self._changed.notify()
            raise

    async def _give(self, conn: aiosqlite.Connection, reusable: bool) -> None:
        """Take `conn` back; one whose transaction did not end cleanly is closed."""
        if not reusable:
            try:
                await conn.close()
            except sqlite3.Error:
                logger.warning("%s: a read connection failed to close", self.path, exc_info=True)
        async with self._changed:
            if reusable:
                self._idle.append(conn)
            else:
                self._opened -= 1
            self._changed.notify()


async def _connect(path: Path, uri: str) -> aiosqlite.Connection:
    """A read-only connection with the Reader's settings."""
    conn: aiosqlite.Connection | None = None
    try:
        conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
    except sqlite3.Error as exc:
        if conn is not None:
            await conn.close()
        raise StorageError(f"database {path}: cannot open for reading: {exc}") from exc
    return conn
