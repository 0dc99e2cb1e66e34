"""The alerts table on a real database (SQLite, then PostgreSQL): alerts carried across
uploads, reruns, deliveries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from loglens.analysis.alerts import Incident
from loglens.storage import Database
from loglens.storage.alerts.reader import AlertReader
from loglens.storage.alerts.rule_input import to_micros
from loglens.storage.alerts.store import AlertStore
from loglens.storage.dialect import Target

RULES = [("errors", "threshold")]


def at(clock: str) -> int:
    """Microseconds of 2024-05-01 at `clock` (HH:MM) UTC."""
    return to_micros(f"2024-05-01T{clock}:00.000000Z")


def incident(
    start: str, end: str, open_at_start: bool = False, open_at_end: bool = False
) -> Incident:
    return Incident(
        "errors", "", at(start), at(end), 12, f"{start}-{end}", open_at_start, open_at_end
    )


async def stored_blob(db: Database, name: str, content: str, operator: str = "alice") -> int:
    upload_id = await db.create_upload(operator, name, 1, "0" * 64, "none")
    stored = await db.store_upload(upload_id, content.ljust(64, "0"), 1, f"/nowhere/{content}")
    return stored.blob_id


def test_an_alert_goes_on_into_the_next_upload_and_reruns_change_nothing(
    database: Target,
) -> None:
    async def run() -> None:
        path = database
        async with await Database.open(path) as db:
            first = await stored_blob(db, "app.log", "a")
            second = await stored_blob(db, "app.log", "b")
            other = await stored_blob(db, "other.log", "c")
            bobs = await stored_blob(db, "app.log", "d", operator="bob")
        store = await AlertStore.open(path)
        try:
            events = await store.record(
                first, RULES, [incident("12:55", "13:00", open_at_end=True)], at("12:00"), True
            )
            [(fired, alert)] = [(e.event, e.alert) for e in events]
            assert (fired, alert.state, alert.delivery) == ("firing", "firing", "pending")
            [due] = await store.due()
            assert due.id == alert.id
            await store.delivered(alert.id, "firing")
            assert await store.due() == []

            # Another source does not touch it: another name, or the same name uploaded
            # by another operator (two operators' `<stdin>` are two sources).
            assert await store.record(other, RULES, [], at("13:00"), True) == []
            assert await store.record(bobs, RULES, [], at("13:00"), True) == []

            # The next upload of app.log starts inside the incident, which ends there; a
            # second incident later in it is an alert of its own.
            going_on = incident("13:00", "13:04", open_at_start=True)
            later = incident("13:30", "13:35", open_at_end=True)
            events = await store.record(second, RULES, [going_on, later], at("13:00"), True)
            assert [(e.event, e.alert.id) for e in events] == [
                ("resolved", alert.id),
                ("firing", alert.id + 1),
            ]
            carried = events[0].alert
            assert (carried.window_start, carried.window_end) == (
                "2024-05-01T12:55:00.000000Z",
                "2024-05-01T13:04:00.000000Z",
            )
            assert (carried.blob_id, carried.last_blob_id, carried.delivery) == (
                first,
                second,
                "pending",
            )
            assert carried.delivered == "firing"  # the resolve is what is left to send

            # Reruns of either upload: no event, no new alert, nothing changed.
            async with await AlertReader.open(path) as reader:
                before, total = await reader.alerts()
            assert total == 2
            for blob, found, start in ((second, [going_on, later], "13:00"), (first, [], "12:00")):
                again = [incident("12:55", "13:00", open_at_end=True)] if blob == first else found
                assert await store.record(blob, RULES, again, at(start), True) == []
            async with await AlertReader.open(path) as reader:
                assert await reader.alerts() == (before, 2)
                firing, _ = await reader.alerts(state="firing")
            assert [a.window_start for a in firing] == ["2024-05-01T13:30:00.000000Z"]

            # A failed delivery waits for its retry time; then it is due again.
            [pending, _] = sorted(await store.due(), key=lambda a: a.id)
            soon = datetime.now(UTC) + timedelta(milliseconds=300)
            await store.failed(pending.id, "HTTP 503 Service Unavailable", soon)
            assert pending.id not in [a.id for a in await store.due()]
            next_due = await store.next_due()
            assert next_due is not None
            while datetime.now(UTC) < soon:
                await asyncio.sleep(0.05)
            [retried] = [a for a in await store.due() if a.id == pending.id]
            assert (retried.attempts, retried.failures) == (2, 1)
            assert retried.delivery_error == "HTTP 503 Service Unavailable"
        finally:
            await store.close()

    asyncio.run(run())


def test_an_alert_carried_on_takes_the_value_and_message_of_the_current_window(
    database: Target,
) -> None:
    async def run() -> None:
        async with await Database.open(database) as db:
            first = await stored_blob(db, "app.log", "a")
            second = await stored_blob(db, "app.log", "b")
        store = await AlertStore.open(database)
        try:
            big = Incident("errors", "", at("12:55"), at("13:00"), 60, "60 entries within 5m",
                           False, True)  # fmt: skip
            [event] = await store.record(first, RULES, [big], at("12:00"), False)
            assert (event.alert.value, event.alert.message) == (60, "60 entries within 5m")
            # The next upload, 23 hours later, starts inside a smaller burst that ends there.
            next_day = at("13:00") + 23 * 3600 * 1_000_000
            small = Incident("errors", "", next_day, next_day + 300_000_000, 30,
                             "30 entries within 5m", True, False)  # fmt: skip
            [resolved] = await store.record(second, RULES, [small], next_day, False)
            alert = resolved.alert
            assert (resolved.event, alert.id) == ("resolved", event.alert.id)
            assert (alert.value, alert.message) == (30, "30 entries within 5m")
            assert alert.window_end == "2024-05-02T12:05:00.000000Z"
        finally:
            await store.close()

    asyncio.run(run())
