"""Read-only access to alerts (the CLI and the API) and to what backtests need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loglens.storage.alerts.rule_input import has_table, read_input
from loglens.storage.alerts.store import ALERT_COLUMNS, Alert, StoredUpload, alert_from_row
from loglens.storage.read.pool import PooledReader

if TYPE_CHECKING:
    from loglens.analysis.alerts import AlertInput


class AlertReader(PooledReader):
    """Read-only access to alerts and to what backtests need; `await AlertReader.open(path)`."""

    async def alerts(
        self,
        state: str | None = None,
        source: str | None = None,
        rule: str | None = None,
        limit: int = 100,
        offset: int = 0,
        owner: str | None = None,
    ) -> tuple[list[Alert], int]:
        """Alerts, newest first, and how many match in all; with `owner`, only those that
        fired or carried on in a content that operator has a stored upload of."""
        where, params = _where(state=state, source=source, rule=rule)
        if owner is not None:
            where += " AND " if where else " WHERE "
            where += (
                "EXISTS (SELECT 1 FROM uploads AS u WHERE u.operator = ? AND u.status = 'stored'"
                " AND u.blob_id IN (alerts.blob_id, alerts.last_blob_id))"
            )
            params = (*params, owner)
        async with self._pool.transaction("read alerts") as conn:
            if not await has_table(conn, "alerts"):
                return [], 0
            rows = await conn.fetchall(
                f"SELECT {ALERT_COLUMNS} FROM alerts{where} ORDER BY fired_at DESC, id DESC"
                " LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
            total = await conn.fetchall(f"SELECT count(*) FROM alerts{where}", params)
        return [alert_from_row(row) for row in rows], int(next(iter(total))[0])

    async def uploads(self) -> list[StoredUpload]:
        """Every analysed blob, in the order of its first stored upload."""
        async with self._pool.transaction("read analysed uploads") as conn:
            rows = await conn.fetchall(
                "SELECT u.blob_id, u.id, u.original_name FROM uploads AS u"
                " JOIN results AS r ON r.blob_id = u.blob_id WHERE u.status = 'stored'"
                " AND u.id = (SELECT MIN(f.id) FROM uploads AS f"
                " WHERE f.blob_id = u.blob_id AND f.status = 'stored') ORDER BY u.id"
            )
        return [StoredUpload(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def alert_input(self, blob_id: int) -> AlertInput | None:
        """What the rules are evaluated over for a blob with results, or None."""
        async with self._pool.transaction(f"read results of blob {blob_id}") as conn:
            return await read_input(conn, blob_id)


def _where(**equal: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause of column = value for the values given."""
    given = {column: value for column, value in equal.items() if value is not None}
    if not given:
        return "", ()
    return " WHERE " + " AND ".join(f"{c} = ?" for c in given), tuple(given.values())
