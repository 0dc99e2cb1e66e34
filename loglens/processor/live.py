"""The local analysis of a file that is still being written (`processor.py --follow`).

Each batch of complete lines the follower hands out is summarised on its own, exactly as a
block of a finished file is, and absorbed into the running summary: the summaries merge
exactly, so the report at any moment is the report of the file as far as it was read. A
rotated or truncated file goes on as a new part named after the path and its generation
(``app.log``, ``app.log@1``, …), so lines before and after are each counted once.

The format is detected once, on the first lines (up to `SAMPLE_LINES`, or what has come
after `DETECT_AFTER` seconds). Templates and findings are rebuilt from the merged counts
when a report is asked for, not per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from loglens.analysis.alerts import AlertInput, live_input
from loglens.analysis.chunk import Part, summarise_block
from loglens.analysis.findings import Findings, find
from loglens.analysis.lines import decode_block
from loglens.analysis.parse import Detection, ParseContext, detect_format
from loglens.analysis.report import build_report
from loglens.analysis.summary import Summary
from loglens.analysis.templates import Template, build_templates
from loglens.follow import Batch
from loglens.processor.local import Options

SAMPLE_LINES = 500
DETECT_AFTER = 1.0  # seconds after the first line: detect on what has come


class LiveAnalysis:
    """The running analysis of one followed file (see the module docstring)."""

    def __init__(self, name: str, options: Options, top_n: int = 5) -> None:
        self.name = name
        self._options = options
        self._top_n = top_n
        self._summary = Summary()
        self._detection: Detection | None = None
        self._waiting: list[Batch] = []  # batches read before the format is known
        self._first_data: float | None = None
        self._seen_findings: set[str] = set()
        self._latest: tuple[dict[str, Template], Findings] | None = None  # of `report`

    @property
    def detection(self) -> Detection | None:
        """The format detected, once it is."""
        return self._detection

    def feed(self, batches: Sequence[Batch], now: float | None = None) -> None:
        """Take the batches read since the last call."""
        now = time.monotonic() if now is None else now
        if self._detection is None:
            self._waiting += batches
            if not self._waiting:
                return
            if self._first_data is None:
                self._first_data = now
            lines = sum(batch.data.count(b"\n") for batch in self._waiting)
            if lines < SAMPLE_LINES and now - self._first_data < DETECT_AFTER:
                return
            self._detection = self._detect(self._waiting)
            batches, self._waiting = self._waiting, []
        for batch in batches:
            self._absorb(batch)

    def flush(self) -> None:
        """Analyse what waits for the format now (the follow is ending)."""
        if self._detection is None and self._waiting:
            self.feed([], now=float("inf"))

    @property
    def summary(self) -> Summary:
        """The merged summary of what was absorbed so far."""
        return self._summary

    def snapshot(self) -> tuple[Summary, dict[str, Template], Findings]:
        """The summary so far with its templates and findings (what a report is made of)."""
        summary = self._summary
        templates = build_templates(summary.pattern_counts())
        findings = find(summary, templates, self._options.classifier)
        self._latest = (templates, findings)
        return summary, templates, findings

    def report(self) -> dict[str, Any]:
        """The report of the file so far, with the findings not reported before as `new`."""
        summary, templates, findings = self.snapshot()
        report = build_report(summary, templates, self._top_n, findings)
        new = [
            item for item in report["anomalies"] if _finding_key(item) not in self._seen_findings
        ]
        self._seen_findings.update(_finding_key(item) for item in new)
        report["new_findings"] = new
        return report

    def alert_input(self) -> AlertInput | None:
        """What the alert rules are evaluated over: the analysis of the last `report`."""
        if self._latest is None:
            return None
        templates, findings = self._latest
        texts = {t.id: t.text for t in templates.values()}
        return live_input(
            findings.series,
            texts,
            findings.template_categories,
            findings.anomalies,
            self._summary.first_ts,
            self._summary.last_ts,
        )

    def _detect(self, batches: Sequence[Batch]) -> Detection:
        data = b"".join(batch.data for batch in batches)
        sample = decode_block(data).text.drop_nulls().head(SAMPLE_LINES).to_list()
        return detect_format(sample, self._options.formats, learn=self._options.learn)

    def _absorb(self, batch: Batch) -> None:
        assert self._detection is not None
        name = self.name if batch.generation == 0 else f"{self.name}@{batch.generation}"
        part = Part(name, batch.offset, self._detection.format)
        ctx = ParseContext(tz=self._options.timezone, reference=datetime.now(UTC))
        summary, _ = summarise_block(
            batch.data,
            part,
            ctx,
            self._options.filters,
            max_line_bytes=self._options.limits.max_line_bytes,
        )
        self._summary.absorb(summary, aliases=False)  # no events are written from it


def _finding_key(item: dict[str, Any]) -> str:
    return "|".join(str(item.get(key)) for key in ("kind", "template_ids", "start", "source"))
