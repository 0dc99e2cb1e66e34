"""Alerts in the processor: evaluate the rules on each blob once its results are stored,
record and log the alerts, and POST them to the webhook until it takes them.

Delivery state lives in the alerts table (`delivery`, `attempts`, `next_attempt_at`), so an
alert not yet delivered when the processor stops is delivered by the next one. Each alert's
events go in order (fire, then resolve); a failed POST is tried again after
`BACKOFF_FIRST` seconds, doubling up to `BACKOFF_MAX`, for as long as it takes. A POST that
reached the receiver but whose answer was lost is sent again: receivers tell repeats by
`delivery_id` (at least once, exactly once while the network answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from loglens.analysis.alert_rules import AnomalyRule, Rule, load_rules
from loglens.analysis.alerts import evaluate, one_per_incident
from loglens.closing import AsyncClosing
from loglens.config import Config
from loglens.errors import LoglensError
from loglens.storage.alerts.rule_input import to_micros
from loglens.storage.alerts.store import Alert, AlertState, AlertStore, Event

logger = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0  # seconds before the first retry
BACKOFF_MAX = 60.0
POST_TIMEOUT = 10.0
IDLE_WAKE = 300.0  # look at the table this often even when nothing is due (another writer)
_MICROS_PER_MINUTE = 60_000_000


def rules_from_config(config: Config) -> tuple[Rule, ...]:
    """The rules of ALERT_RULES_FILE (none if unset), categories checked against the
    category rules in use (CATEGORIES_FILE)."""
    if config.alert_rules_file is None:
        return ()
    from loglens.processor.options import classifier_from_config

    return load_rules(config.alert_rules_file, classifier_from_config(config).names)


class Alerting(AsyncClosing):
    """The rules, the alerts table and the webhook of one processor process."""

    def __init__(self, store: AlertStore, rules: tuple[Rule, ...], webhook_url: str) -> None:
        self._store = store
        self._rules = rules
        self._webhook_url = webhook_url
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, config: Config) -> Alerting | None:
        """Alerting for `config`, delivering in the background; None when there are neither
        rules nor a webhook. A bad rules file raises ConfigError."""
        rules = rules_from_config(config)
        if not rules and not config.alert_webhook_url:
            return None
        store = await AlertStore.open(config.database)
        alerting = cls(store, rules, config.alert_webhook_url)
        if config.alert_webhook_url:
            alerting._sender = asyncio.create_task(alerting._deliver_forever(), name="webhook")
        logger.info(
            "%d alert rules%s", len(rules), ", webhook on" if config.alert_webhook_url else ""
        )
        return alerting

    async def close(self) -> None:
        """Stop delivering (what is left stays pending in the table) and close the store."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await self._store.close()

    async def after_job(self, blob_id: int) -> None:
        """Evaluate the rules on a blob whose results were just stored; record, log and
        queue the alerts. Never raises: the results are stored whatever happens here."""
        if not self._rules:
            return
        try:
            events = await self.evaluate(blob_id)
        except LoglensError as exc:
            logger.error("alerts of blob %d not evaluated: %s", blob_id, exc)
            return
        except Exception:
            logger.exception("alerts of blob %d not evaluated", blob_id)
            return
        for item in events:
            log_event(item)
        if events and self._webhook_url:
            self._wake.set()

    async def evaluate(self, blob_id: int) -> list[Event]:
        """Evaluate the rules on a stored blob and record the alerts; what fired and resolved."""
        data = await self._store.alert_input(blob_id)
        if data is None:
            return []
        incidents = one_per_incident(self._rules, evaluate(self._rules, data))
        kinds = [
            (rule.name, "anomaly" if isinstance(rule, AnomalyRule) else "threshold")
            for rule in self._rules
        ]
        start = None if data.first_minute is None else data.first_minute * _MICROS_PER_MINUTE
        return await self._store.record(
            blob_id, kinds, incidents, start, webhook=bool(self._webhook_url)
        )

    async def _deliver_forever(self) -> None:
        """Deliver due events, then sleep until the next is due or new alerts come."""
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
                delay = _seconds_until(await self._store.next_due())
            except LoglensError as exc:
                logger.error("webhook: cannot read or record deliveries: %s", exc)
                delay = BACKOFF_MAX
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(delay, IDLE_WAKE))

    async def deliver_due(self) -> None:
        """POST each due event once; record what went through and when to try the rest."""
        for alert in await self._store.due():
            event: AlertState = "firing" if alert.delivered is None else "resolved"
            payload = webhook_payload(alert, event)
            error = await asyncio.to_thread(post_json, self._webhook_url, payload, POST_TIMEOUT)
            if error is None:
                await self._store.delivered(alert.id, event)
                logger.info("webhook: alert %d %s delivered", alert.id, event)
                continue
            failures = alert.failures + 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))
            await self._store.failed(alert.id, error, datetime.now(UTC) + timedelta(seconds=delay))
            logger.warning(
                "webhook: alert %d %s not delivered (attempt %d): %s; trying again in %g s",
                alert.id, event, alert.attempts + 1, error, delay,
            )  # fmt: skip


def log_event(item: Event) -> None:
    """Log an alert firing or resolving."""
    alert = item.alert
    if item.event == "firing":
        logger.warning("ALERT FIRING %s [%s #%d]: %s", alert.rule, alert.source, alert.id,
                       alert.message)  # fmt: skip
    else:
        logger.warning("alert resolved %s [%s #%d]: %s to %s", alert.rule, alert.source,
                       alert.id, alert.window_start, alert.window_end)  # fmt: skip


def webhook_payload(alert: Alert, event: AlertState) -> dict[str, Any]:
    """The JSON body POSTed for one event of an alert."""
    return {"event": event, "delivery_id": f"{alert.id}:{event}", **alert.to_dict()}


def post_json(url: str, payload: dict[str, Any], timeout: float) -> str | None:
    """POST `payload` as JSON; None when the receiver answered 2xx, else what went wrong.

    The standard library, not httpx: one small POST at a time, in a thread, needs no
    connection pool or async client, and loglens gains no dependency for it.
    """
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "loglens-alerts"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return f"cannot reach {url}: {exc.reason}"
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed answer
        return f"{url}: {type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


def _seconds_until(stamp: str | None) -> float:
    """Seconds from now until a storage-form time (IDLE_WAKE when there is none)."""
    if stamp is None:
        return IDLE_WAKE
    due = to_micros(stamp) / 1e6
    return max(0.0, due - datetime.now(UTC).timestamp())
