"""Alerts of `processor.py --follow`: the rules of ALERT_RULES_FILE over the followed file's
analysis so far, each time it is reported.

An incident of a rule fires once (by rule, subject and start) and resolves when the data
shows it ended; one that has ended when first seen fires and resolves at once. Each
event goes to the output (the JSON line's `alerts`, or the terminal view) and, with
ALERT_WEBHOOK_URL, is POSTed there by a thread of its own, in order, tried up to
POST_TRIES times (the server's processor keeps trying for as long as it takes; a follow
has no table to keep them in). Receivers tell repeats by `delivery_id`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from loglens.analysis.alert_rules import Rule
from loglens.analysis.alerts import AlertInput, Incident, evaluate, one_per_incident
from loglens.processor.alerting import POST_TIMEOUT, post_json

POST_TRIES = 3
_Key = tuple[str, str, int]


class LiveAlerts:
    """The alert rules over one followed file, and the webhook they are POSTed to."""

    def __init__(self, rules: Sequence[Rule], webhook_url: str, source: str) -> None:
        self._rules = tuple(rules)
        self._webhook_url = webhook_url
        self._source = source
        self._open: dict[_Key, Incident] = {}  # fired and not resolved
        self._fired: set[_Key] = set()
        self._sender = ThreadPoolExecutor(1, "webhook") if webhook_url and rules else None

    def update(self, data: AlertInput | None) -> list[dict[str, Any]]:
        """Evaluate the rules over `data`; the events (fired, resolved) it brings."""
        if not self._rules or data is None:
            return []
        hits = one_per_incident(self._rules, evaluate(self._rules, data))
        events = []
        current = {(hit.rule, hit.subject, hit.start): hit for hit in hits}
        for key, hit in current.items():
            if key not in self._fired:
                self._fired.add(key)
                events.append(self._event("firing", hit))
                if hit.open_at_end:
                    self._open[key] = hit
                else:
                    events.append(self._event("resolved", hit))
        for key in list(self._open):
            now = current.get(key)
            if now is None or not now.open_at_end:
                events.append(self._event("resolved", now or self._open[key]))
                del self._open[key]
        return events

    def close(self) -> None:
        """Wait for the POSTs under way (each tries POST_TRIES times at most)."""
        if self._sender is not None:
            self._sender.shutdown(wait=True)

    def _event(self, state: str, hit: Incident) -> dict[str, Any]:
        event = {
            "event": state,
            "delivery_id": f"{self._source}:{hit.rule}:{hit.subject}:{hit.start}:{state}",
            "rule": hit.rule,
            "subject": hit.subject,
            "source": self._source,
            "window_start": _iso(hit.start),
            "window_end": _iso(hit.end),
            "value": hit.value,
            "message": hit.message,
        }
        if self._sender is not None:
            self._sender.submit(self._post, event)
        return event

    def _post(self, event: dict[str, Any]) -> None:
        for attempt in range(POST_TRIES):
            failed = post_json(self._webhook_url, event, POST_TIMEOUT)
            if failed is None:
                return
            sys.stderr.write(f"alert webhook: {failed} (try {attempt + 1} of {POST_TRIES})\n")
            time.sleep(2**attempt)


def _iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1e6, UTC).isoformat().replace("+00:00", "Z")
