"""What alert rules are evaluated over, read from a blob's stored results: its series,
template texts and categories, anomalies and time span (for new results and backtests)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from loglens.storage.dialect import Connection, Row

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

if TYPE_CHECKING:
    from loglens.analysis.alerts import AlertInput


async def read_input(conn: Connection, blob_id: int) -> AlertInput | None:
    """A blob's stored series, template texts and categories, anomalies and time span."""
    import json

    import polars as pl

    from loglens.analysis.alerts import SERIES_SCHEMA, AlertInput
    from loglens.analysis.anomalies import Anomaly

    span = await fetchone(
        conn, "SELECT first_ts, last_ts FROM results WHERE blob_id = ?", (blob_id,)
    )
    if span is None:
        return None
    series = pl.DataFrame(schema=SERIES_SCHEMA)
    if await has_table(conn, "template_series"):
        rows = await conn.fetchall(
            "SELECT minute, template_id, level, count FROM template_series WHERE blob_id = ?",
            (blob_id,),
        )
        frame = pl.DataFrame(
            [tuple(row) for row in rows],
            schema={
                "minute": pl.String,
                **{k: SERIES_SCHEMA[k] for k in ("template_id", "level", "count")},
            },
            orient="row",
        )
        series = frame.with_columns(
            minute=pl.col("minute")
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC")
            .dt.epoch("s")
            // 60
        ).select(list(SERIES_SCHEMA))
    texts = {
        str(row[0]): str(row[1])
        for row in await conn.fetchall(
            "SELECT template_id, MIN(template) FROM templates WHERE blob_id = ? GROUP BY 1",
            (blob_id,),
        )
    }
    categories: dict[str, list[str]] = {}
    if await has_table(conn, "template_categories"):
        for row in await conn.fetchall(
            "SELECT template_id, category FROM template_categories WHERE blob_id = ?"
            " ORDER BY template_id, position",
            (blob_id,),
        ):
            categories.setdefault(str(row[0]), []).append(str(row[1]))
    anomalies = []
    if await has_table(conn, "anomalies"):
        for row in await conn.fetchall(
            "SELECT kind, score, start_ts, end_ts, explanation, template_ids, source"
            " FROM anomalies WHERE blob_id = ? ORDER BY rank",
            (blob_id,),
        ):
            anomalies.append(
                Anomaly(
                    str(row[0]), float(row[1]), to_micros(str(row[2])), to_micros(str(row[3])),
                    str(row[4]), tuple(json.loads(row[5] or "[]")), source=str(row[6] or ""),
                )
            )  # fmt: skip
    first = None if span[0] is None else to_micros(str(span[0])) // 60_000_000
    last = None if span[1] is None else to_micros(str(span[1])) // 60_000_000
    return AlertInput(
        series,
        texts,
        {tid: tuple(names) for tid, names in categories.items()},
        tuple(anomalies),
        first,
        last,
    )


def to_micros(stamp: str) -> int:
    """A time in the storage form as microseconds since the epoch (before 1970 too)."""
    moment = datetime.fromisoformat(stamp)
    return (moment - _EPOCH) // timedelta(microseconds=1)


async def has_table(conn: Connection, name: str) -> bool:
    """Whether the database has this table (it may predate it)."""
    return await conn.has_table(name)


async def fetchone(conn: Connection, sql: str, params: Iterable[Any] = ()) -> Row | None:
    """The first row of a query, or None."""
    return await conn.fetchone(sql, tuple(params))
