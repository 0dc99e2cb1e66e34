"""Structured formats: JSON lines and logfmt."""

from __future__ import annotations

import json
import time
from typing import ClassVar

from loglens.synth.formats.base import (
    LogFormat,
    iso_millis_text,
    iso_second,
    module_logger,
    offset_text,
)
from loglens.synth.templates import Template


class JsonLines(LogFormat):
    """One JSON object per line: ``{"ts": ..., "level": ..., "logger": ..., "msg": ...}``."""

    name = "jsonl"
    levels: ClassVar[dict[str, str]] = {
        "TRACE": "trace",
        "DEBUG": "debug",
        "INFO": "info",
        "NOTICE": "notice",
        "WARNING": "warning",
        "ERROR": "error",
        "CRITICAL": "critical",
    }
    fraction_digits = 3
    carries_offset = True
    traces = "embedded"

    def logger(self, template: Template) -> str:
        """Return a dotted module name."""
        return module_logger(template)

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2024-01-30T12:00:00.`` and ``Z`` or the offset."""
        return iso_millis_text(local, offset_minutes)

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return the JSON object; the vocabularies hold nothing that needs escaping."""
        return (
            '{"ts": "' + self.stamp(ts_us, offset) + '", "level": "' + level_text
            + '", "logger": "' + logger + '", "msg": "' + msg + '"}'
        )  # fmt: skip

    def line_with_trace(
        self, ts_us: int, offset: int, level_text: str, logger: str, msg: str, trace: list[str]
    ) -> str:
        """Return the JSON object with the trace in an ``exc`` field."""
        exc = json.dumps("\n".join(trace), ensure_ascii=False)
        return self.line(ts_us, offset, level_text, logger, msg)[:-1] + ', "exc": ' + exc + "}"


class Logfmt(LogFormat):
    """logfmt: ``time=2024-01-30T12:00:00Z level=info msg="..." k=v``."""

    name = "logfmt"
    levels: ClassVar[dict[str, str]] = {
        "TRACE": "trace",
        "DEBUG": "debug",
        "INFO": "info",
        "WARNING": "warning",
        "ERROR": "error",
        "CRITICAL": "fatal",
    }
    carries_offset = True

    def logger(self, template: Template) -> str:
        """Return the subsystem."""
        return template.subsystem

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2024-01-30T12:00:00Z`` or with the offset."""
        zone = "Z" if offset_minutes == 0 else offset_text(offset_minutes, colon=True)
        return iso_second(local) + zone, ""

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``time=... level=... msg="..." component=... request_id=...``."""
        return (
            f'time={self.stamp(ts_us, offset)} level={level_text} msg="{msg}" '
            f"component={logger} request_id={self._values.hex32()}"
        )
