"""The alerts table: alerts recorded from incidents, their webhook deliveries, and the
stored rows alert rules are evaluated over (the same for new results and backtests).

`AlertStore` writes (the processor); `alert_reads.AlertReader` only reads (the CLI and
the API); `alert_input.read_input` reads what rules are evaluated over, for both. The
table is in `schema.ALERT_TABLES` and described in docs/alerts.md.

An alert is keyed by (rule, blob_id, window_start, subject): evaluating the same blob again
updates its alerts instead of adding new ones. An alert still firing at the end of its
upload is carried to the next upload of the same source: it goes on (same row) if that
upload starts inside an incident of the rule, and is resolved otherwise.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from loglens.errors import StorageError
from loglens.storage.alerts.rule_input import fetchone, read_input
from loglens.storage.dialect import Connection, DriverError, Target, connect_writer, describe
from loglens.storage.migrate import create_alert_tables
from loglens.storage.schema import format_time, from_micros, now
from loglens.storage.write.writer import Writer

if TYPE_CHECKING:
    from loglens.analysis.alerts import AlertInput, Incident

logger = logging.getLogger(__name__)

AlertState = Literal["firing", "resolved"]
ALERT_STATES = ("firing", "resolved")
ALERT_COLUMNS = (
    "id, rule, kind, subject, blob_id, upload_id, source, last_blob_id, state, window_start,"
    " window_end, fired_at, resolved_at, value, message, delivery, delivered, attempts,"
    " failures, next_attempt_at, delivery_error"
)


@dataclass(frozen=True)
class Alert:
    """One alert: a rule's incident in the uploads of one source, and its delivery."""

    id: int
    rule: str
    kind: str  # threshold | anomaly
    subject: str
    blob_id: int
    upload_id: int | None
    source: str
    last_blob_id: int
    state: AlertState
    window_start: str  # log time
    window_end: str
    fired_at: str  # wall time
    resolved_at: str | None
    value: float
    message: str
    delivery: str  # off | pending | delivered
    delivered: str | None  # the last event the webhook took: firing | resolved
    attempts: int  # POSTs tried in all
    failures: int  # failed POSTs since the last one that went through
    next_attempt_at: str | None
    delivery_error: str | None

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON-ready data (the API, the CLI's --json and the webhook)."""
        data = asdict(self)
        data.pop("subject")
        data.pop("failures")
        return data


@dataclass(frozen=True)
class Event:
    """An alert fired or resolved by one evaluation."""

    event: AlertState
    alert: Alert


@dataclass(frozen=True)
class StoredUpload:
    """An analysed blob, as backtests walk them: its first upload and that one's name."""

    blob_id: int
    upload_id: int
    source: str


# writing --------------------------------------------------------------------------------


class AlertStore(Writer):
    """Records alerts and their deliveries; open it with `await AlertStore.open(path)`."""

    @classmethod
    async def open(cls, path: Target) -> AlertStore:
        """Open the database at `path` (a SQLite file or a `postgresql://` URL), adding the
        alerts table if it has none yet (a database made before alerts existed)."""
        conn = await connect_writer(path)
        try:
            await create_alert_tables(conn, describe(path))
        except BaseException:
            with contextlib.suppress(DriverError):
                await conn.close()
            raise
        return cls(conn, path)

    async def alert_input(self, blob_id: int) -> AlertInput | None:
        """What the rules are evaluated over for a blob with results, or None."""
        async with self._lock:
            try:
                return await read_input(self._conn, blob_id)
            except DriverError as exc:
                raise StorageError(f"read results of blob {blob_id}: {exc}") from exc

    async def record(
        self,
        blob_id: int,
        rules: Sequence[tuple[str, str]],
        incidents: Sequence[Incident],
        data_start: int | None,
        webhook: bool,
    ) -> list[Event]:
        """Record a blob's incidents of `rules` ((name, kind) pairs) as alerts, carry on or
        resolve the alerts of the same source still firing from earlier uploads, and return
        what fired and what resolved. `data_start`: the blob's first entry (microseconds)."""
        events: list[tuple[AlertState, int]] = []
        async with self._transaction(f"record alerts of blob {blob_id}", exclusive=True) as conn:
            found = await fetchone(
                conn,
                "SELECT id, original_name, operator FROM uploads"
                " WHERE blob_id = ? AND status = 'stored' ORDER BY id LIMIT 1",
                (blob_id,),
            )
            if found is None:
                return []
            upload_id, source, operator = int(found[0]), str(found[1]), str(found[2])
            stamp = now()
            delivery = "pending" if webhook else "off"
            start = from_micros(data_start) if data_start is not None else None
            for rule, kind in rules:
                mine = [i for i in incidents if i.rule == rule]
                earlier = await _carried(conn, rule, (source, operator), blob_id, start)
                rest = list(mine)
                if earlier:
                    from loglens.analysis.alerts import continues

                    *older, latest = earlier
                    for alert_id, state in older:
                        if state == "firing":
                            await _resolve(conn, alert_id, blob_id, stamp)
                            events.append(("resolved", alert_id))
                    alert_id, state = latest
                    # Still firing, or met again by a rerun of the blob that carried it on.
                    going_on = continues(True, mine)
                    if going_on is not None:
                        rest.remove(going_on)
                        events += await _carry_on(conn, alert_id, state, blob_id, going_on, stamp)
                    elif state == "firing":
                        await _resolve(conn, alert_id, blob_id, stamp)
                        events.append(("resolved", alert_id))
                for incident in rest:
                    events += await _upsert(
                        conn, incident, kind, blob_id, upload_id, source, stamp, delivery
                    )
            alerts = {a.id: a for a in await _alerts(conn, {i for _, i in events})}
        return [Event(event, alerts[alert_id]) for event, alert_id in events]

    # deliveries ---------------------------------------------------------------------------

    async def due(self, limit: int = 100) -> list[Alert]:
        """Alerts with an event to deliver whose next attempt is due, oldest first."""
        rows = await self._fetch(
            "read due deliveries",
            f"SELECT {ALERT_COLUMNS} FROM alerts"
            " WHERE delivery = 'pending' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (now(), limit),
        )
        return [alert_from_row(row) for row in rows]

    async def next_due(self) -> str | None:
        """When the next delivery attempt is due (storage time form), or None."""
        rows = await self._fetch(
            "read next delivery",
            "SELECT MIN(next_attempt_at) FROM alerts WHERE delivery = 'pending'",
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    async def delivered(self, alert_id: int, event: AlertState) -> None:
        """The webhook took `event` of an alert: done, or the resolve is next."""
        async with self._transaction(f"record delivery of alert {alert_id}") as conn:
            await conn.execute(
                "UPDATE alerts SET delivered = ?, attempts = attempts + 1, failures = 0,"
                " delivery_error = NULL,"
                " delivery = CASE WHEN state = ? THEN 'delivered' ELSE 'pending' END,"
                " next_attempt_at = CASE WHEN state = ? THEN NULL ELSE ? END WHERE id = ?",
                (event, event, event, now(), alert_id),
            )

    async def failed(self, alert_id: int, error: str, retry_at: datetime) -> None:
        """A delivery attempt failed: try again at `retry_at`."""
        async with self._transaction(f"record failed delivery of alert {alert_id}") as conn:
            await conn.execute(
                "UPDATE alerts SET attempts = attempts + 1, failures = failures + 1,"
                " delivery_error = ?, next_attempt_at = ? WHERE id = ?",
                (error, _stamp(retry_at), alert_id),
            )


async def _carried(
    conn: Connection, rule: str, source: tuple[str, str], blob_id: int, start: str | None
) -> list[tuple[int, str]]:
    """The rule's alerts of `source` (file name, operator: two operators' `<stdin>` are
    two sources) from earlier uploads that this blob may carry on or resolve: those still
    firing, and those it carried on or resolved before (a rerun), which began before its
    first entry; oldest first."""
    if start is None:
        return []
    name, operator = source
    rows = await conn.fetchall(
        "SELECT a.id, a.state FROM alerts AS a JOIN uploads AS u ON u.id = a.upload_id"
        " WHERE a.rule = ? AND a.source = ? AND u.operator = ? AND a.blob_id != ?"
        " AND (a.state = 'firing' OR a.last_blob_id = ?) AND a.window_start < ?"
        " ORDER BY a.window_start, a.id",
        (rule, name, operator, blob_id, blob_id, start),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


async def _carry_on(
    conn: Connection,
    alert_id: int,
    state: str,
    blob_id: int,
    incident: Incident,
    stamp: str,
) -> list[tuple[AlertState, int]]:
    """An earlier alert goes on in this blob: extend it, and resolve it if it ends here.
    Its value and message are both this blob's (the window that is current): a message
    saying 30 beside an older window's value of 60 would contradict itself."""
    ends = not incident.open_at_end
    await conn.execute(
        "UPDATE alerts SET window_end = ?, value = ?, message = ?, last_blob_id = ? WHERE id = ?",
        (from_micros(incident.end), incident.value, incident.message, blob_id, alert_id),
    )
    if ends and state == "firing":
        await _resolve(conn, alert_id, blob_id, stamp)
        return [("resolved", alert_id)]
    return []


async def _upsert(
    conn: Connection,
    incident: Incident,
    kind: str,
    blob_id: int,
    upload_id: int,
    source: str,
    stamp: str,
    delivery: str,
) -> list[tuple[AlertState, int]]:
    """Record an incident of this blob as an alert (once: a rerun updates it)."""
    window_start, window_end = from_micros(incident.start), from_micros(incident.end)
    key = (incident.rule, blob_id, window_start, incident.subject)
    found = await fetchone(
        conn,
        "SELECT id, state, last_blob_id FROM alerts WHERE rule = ? AND blob_id = ?"
        " AND window_start = ? AND subject = ?",
        key,
    )
    if found is None:
        alert_id = await conn.insert(
            "INSERT INTO alerts (rule, kind, subject, blob_id, upload_id, source, last_blob_id,"
            " state, window_start, window_end, fired_at, value, message, delivery,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'firing', ?, ?, ?, ?, ?, ?, ?)",
            (
                incident.rule, kind, incident.subject, blob_id, upload_id, source, blob_id,
                window_start, window_end, stamp, incident.value, incident.message, delivery,
                stamp if delivery == "pending" else None,
            ),
        )  # fmt: skip
        if incident.open_at_end:
            return [("firing", alert_id)]
        await _resolve(conn, alert_id, blob_id, stamp)
        return [("firing", alert_id), ("resolved", alert_id)]
    alert_id, state = int(found[0]), str(found[1])
    if int(found[2]) != blob_id:
        return []  # a later upload carried it on: that one says how it went on
    await conn.execute(
        "UPDATE alerts SET window_end = ?, value = ?, message = ? WHERE id = ?",
        (window_end, incident.value, incident.message, alert_id),
    )
    if state == "firing" and not incident.open_at_end:
        await _resolve(conn, alert_id, blob_id, stamp)
        return [("resolved", alert_id)]
    return []


async def _resolve(conn: Connection, alert_id: int, blob_id: int, stamp: str) -> None:
    """Mark a firing alert resolved; its resolve is to be delivered if its fire was."""
    await conn.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = ?, last_blob_id = ?,"
        " delivery = CASE delivery WHEN 'off' THEN 'off' ELSE 'pending' END,"
        " next_attempt_at = CASE delivery WHEN 'delivered' THEN ? ELSE next_attempt_at END"
        " WHERE id = ? AND state = 'firing'",
        (stamp, blob_id, stamp, alert_id),
    )


async def _alerts(conn: Connection, ids: Iterable[int]) -> list[Alert]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    marks = ", ".join("?" * len(wanted))
    rows = await conn.fetchall(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id IN ({marks})", wanted)
    return [alert_from_row(row) for row in rows]


def _stamp(moment: datetime) -> str:
    return format_time(moment.astimezone(UTC))


def alert_from_row(row: Sequence[Any]) -> Alert:
    """An Alert from a row of ALERT_COLUMNS."""
    return Alert(
        int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]),
        None if row[5] is None else int(row[5]), str(row[6]), int(row[7]),
        "firing" if row[8] == "firing" else "resolved", str(row[9]), str(row[10]),
        str(row[11]), row[12], float(row[13]), str(row[14]), str(row[15]), row[16],
        int(row[17]), int(row[18]), row[19], row[20],
    )  # fmt: skip
