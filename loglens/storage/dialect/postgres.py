"""PostgreSQL through psycopg 3 (asyncio): a `Connection` that reopens when dropped."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from loglens.storage.dialect.connection import Connection
from loglens.storage.dialect.sql import POSTGRES, DriverError, Row, postgres_sql

if TYPE_CHECKING:
    import psycopg


class PostgresConnection(Connection):
    """A connection to PostgreSQL through psycopg 3 (asyncio), in autocommit: transactions
    are the explicit BEGIN ... COMMIT of the callers, as on SQLite.

    A connection the server dropped (a restart, a network cut) is opened again for the next
    statement outside a transaction; a BEGIN or a SELECT outside one that finds the
    connection lost is run again on the new one. A statement inside a transaction that was
    lost fails (never run on a new connection, where it would commit on its own), and the
    caller's next transaction goes on once the server is back. Errors of a server that
    cannot be reached are `DriverError(unreachable=True)`."""

    dialect = POSTGRES

    def __init__(self, conn: psycopg.AsyncConnection[Any], url: str, read_only: bool) -> None:
        self._conn = conn
        self._url = url
        self._read_only = read_only
        self._in_transaction = False  # between a BEGIN and its COMMIT or ROLLBACK

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._run(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        import psycopg

        try:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(postgres_sql(sql), [_values(row) for row in params])
        except psycopg.Error as exc:
            raise DriverError(str(exc), unreachable=self._lost(exc)) from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        import psycopg

        cursor = await self._run(sql, params)
        try:
            return await cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as exc:
            raise DriverError(str(exc), unreachable=self._lost(exc)) from exc

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        found = await self.fetchone(f"{sql} RETURNING id", params)
        if found is None:
            raise DriverError("insert gave no row id")
        return int(found[0])

    async def close(self) -> None:
        import psycopg

        try:
            await self._conn.close()
        except psycopg.Error as exc:
            raise DriverError(str(exc)) from exc

    async def _run(self, sql: str, params: Sequence[Any]) -> psycopg.AsyncCursor[Row]:
        """Execute one statement, on a new connection if the server dropped this one and
        nothing is lost by running it there."""
        import psycopg

        head = sql.lstrip()[:8].upper()
        outside = not self._in_transaction
        if head.startswith(("COMMIT", "ROLLBACK")):
            self._in_transaction = False  # over, whatever the server answers
        if self._conn.broken and outside:
            await self._reconnect()
        try:
            cursor = await self._conn.execute(postgres_sql(sql), _values(params))
        except psycopg.Error as exc:
            lost = self._lost(exc)
            if not (lost and outside and head.startswith(("BEGIN", "SELECT"))):
                raise DriverError(str(exc), unreachable=lost) from exc
            await self._reconnect()  # the server went away since the last statement
            try:
                cursor = await self._conn.execute(postgres_sql(sql), _values(params))
            except psycopg.Error as exc:
                raise DriverError(str(exc), unreachable=self._lost(exc)) from exc
        if head.startswith("BEGIN"):
            self._in_transaction = True
        return cursor

    def _lost(self, exc: Exception) -> bool:
        """Whether `exc` says the connection to the server is lost."""
        import psycopg

        return isinstance(exc, psycopg.OperationalError) and (
            self._conn.broken or _LOST_STATES.match(exc.sqlstate or "") is not None
        )

    async def _reconnect(self) -> None:
        """Open the connection again (DriverError while the server is still away)."""
        fresh = await open_postgres(self._url, read_only=self._read_only)
        old, self._conn = self._conn, fresh._conn
        with contextlib.suppress(Exception):  # it is broken: closing only frees it
            await old.close()


# SQLSTATEs of a connection the server ended: connection exceptions, operator intervention
# (admin_shutdown, crash_shutdown, cannot_connect_now).
_LOST_STATES = re.compile(r"^(08|57P0[123])")


def _values(params: Sequence[Any]) -> tuple[Any, ...]:
    # SQLite stores a bool as 1 or 0; PostgreSQL's integer columns refuse booleans.
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


async def open_postgres(url: str, *, read_only: bool) -> PostgresConnection:
    import psycopg
    from psycopg.adapt import Loader

    class _NumberLoader(Loader):
        """numeric (what SUM of integers gives) as int when whole, like SQLite's sums."""

        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return float(text) if any(c in text for c in ".eEN") else int(text)

    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:  # libpq's message spans lines: one line is enough
        raise DriverError(" ".join(str(exc).split()), unreachable=True) from exc
    conn.adapters.register_loader("numeric", _NumberLoader)
    if read_only:
        try:
            await conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            await conn.close()
            raise DriverError(str(exc)) from exc
    return PostgresConnection(conn, url, read_only)
