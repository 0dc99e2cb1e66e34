"""`Connection`: one connection to the results database, whichever the database."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from loglens.storage.dialect.sql import WRITE_LOCK_KEY, Dialect, Row


class Connection(ABC):
    """One connection to the results database, its SQL written with `?` marks; every
    driver error is a `DriverError`. Used by one task at a time."""

    dialect: Dialect

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """All rows of a query, as tuples."""

    @abstractmethod
    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT of one row into a table with an `id`; return the row's id."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query, or None."""
        found = await self.fetchall(sql, params)
        return found[0] if found else None

    async def begin(self, exclusive: bool = False) -> None:
        """Begin a write transaction; `exclusive` also waits for the other exclusive ones
        (SQLite: every write transaction is)."""
        await self.execute(self.dialect.begin_write)
        if exclusive and not self.dialect.sqlite:
            await self.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK_KEY,))

    async def data_version(self) -> int:
        """A number that changes whenever another connection commits (a cache key)."""
        if self.dialect.sqlite:
            found = await self.fetchone("PRAGMA data_version")
            return int(found[0]) if found else 0
        # The snapshot's xmin:xmax:running-xids moves whenever a transaction that writes
        # begins or ends (in any database of the server: at worst a cache miss more).
        found = await self.fetchone("SELECT CAST(pg_current_snapshot() AS text)")
        return zlib.crc32(str(found[0] if found else "").encode())

    async def schema_version(self) -> int:
        """The schema version the database says it has; 0 for an empty one."""
        if self.dialect.sqlite:
            found = await self.fetchone("PRAGMA user_version")
        elif await self.has_table("loglens_schema"):
            found = await self.fetchone("SELECT MAX(version) FROM loglens_schema")
        else:
            found = None
        return int(found[0]) if found and found[0] is not None else 0

    async def set_schema_version(self, version: int) -> None:
        """Record the schema version (inside the transaction that made it so)."""
        if self.dialect.sqlite:
            await self.execute(f"PRAGMA user_version = {int(version)}")
            return
        await self.execute("CREATE TABLE IF NOT EXISTS loglens_schema (version BIGINT NOT NULL)")
        await self.execute("DELETE FROM loglens_schema")
        await self.execute("INSERT INTO loglens_schema (version) VALUES (?)", (version,))

    async def has_table(self, name: str) -> bool:
        """Whether the database has this table (it may predate it)."""
        if self.dialect.sqlite:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 WHERE to_regclass(CAST(? AS text)) IS NOT NULL"
        return await self.fetchone(sql, (name,)) is not None
