"""Formats written by servers and daemons: syslog (both RFCs), Apache, nginx."""

from __future__ import annotations

import random
import time
from typing import ClassVar

from loglens.synth import vocab
from loglens.synth.formats.base import (
    MONTHS,
    SUBSYSTEM_ORDER,
    WEEKDAYS,
    LogFormat,
    iso_millis_text,
    offset_text,
)
from loglens.synth.templates import Template
from loglens.synth.values import Values


class Syslog(LogFormat):
    """RFC 3164: ``Jun 14 15:16:01 host app[123]: msg`` (no year, no level word)."""

    name = "syslog"
    levels: ClassVar[dict[str, str]] = {
        k: k for k in ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
    }
    levels_checkable = False

    def logger(self, template: Template) -> str:
        """Return the daemon name of the template's subsystem."""
        return vocab.SUBSYSTEMS[template.subsystem][1]

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``Jun  4 15:16:01`` (day padded with a space)."""
        month = MONTHS[local.tm_mon - 1]
        return (
            f"{month} {local.tm_mday:2d} {local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp host app[pid]: msg``."""
        bits = self._bits
        return (
            f"{self.stamp(ts_us, offset)} {self._hosts[bits(2)]} {logger}[{700 + bits(3)}]: {msg}"
        )


class Syslog5424(LogFormat):
    """RFC 5424: ``<134>1 2024-01-30T12:00:00.123Z host app 123 MSGID - msg``."""

    name = "syslog5424"
    # The level is the severity inside PRI; these are the severity numbers.
    levels: ClassVar[dict[str, str]] = {
        "DEBUG": "7",
        "INFO": "6",
        "NOTICE": "5",
        "WARNING": "4",
        "ERROR": "3",
        "CRITICAL": "2",
    }
    fraction_digits = 3
    carries_offset = True
    _MSGIDS = ("-", "REQ", "AUDIT", "TX12", "SYNC")

    def level_text(self, template: Template) -> str:
        """Return ``<PRI>1`` with facility local0-local7 chosen by subsystem."""
        facility = 16 + SUBSYSTEM_ORDER[template.subsystem] % 8
        return f"<{facility * 8 + int(self.levels[template.level])}>1"

    def logger(self, template: Template) -> str:
        """Return the daemon name of the template's subsystem."""
        return vocab.SUBSYSTEMS[template.subsystem][1]

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2024-01-30T12:00:00.`` and ``Z`` or the offset."""
        return iso_millis_text(local, offset_minutes)

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``<PRI>1 stamp host app pid msgid - msg``."""
        bits = self._bits
        return (
            f"{level_text} {self.stamp(ts_us, offset)} {self._hosts[bits(2)]} {logger} "
            f"{700 + bits(3)} {self._MSGIDS[bits(2)]} - {msg}"
        )

    def truncated(self, ts_us: int, offset: int) -> str:
        """Cut inside the timestamp of a line with any valid PRI."""
        stamp = self.stamp(ts_us, offset)
        return f"<134>1 {stamp[: len(stamp) // 2 + self._bits(8) % (len(stamp) - len(stamp) // 2)]}"


class ApacheAccess(LogFormat):
    """Apache combined log; the level is the intent behind the status (2xx/3xx, 4xx, 5xx)."""

    name = "apache_access"
    levels: ClassVar[dict[str, str]] = {"INFO": "INFO", "WARNING": "WARNING", "ERROR": "ERROR"}
    levels_checkable = False
    carries_offset = True
    access_templates = True

    def __init__(self, rng: random.Random, values: Values) -> None:
        """Also prepare the referrers."""
        super().__init__(rng, values)
        self._referrers = ["-", "-", "-"] + [
            f"https://{host}.quarry.example/{resource}"
            for host in self._hosts
            for resource in vocab.WEB_RESOURCES[:5]
        ]

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``10/Oct/2000:13:55:36 -0700``."""
        return (
            f"{local.tm_mday:02d}/{MONTHS[local.tm_mon - 1]}/{local.tm_year:04d}:"
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} "
            f"{offset_text(offset_minutes, colon=False)}",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``ip - user [stamp] "request" status size "referrer" "agent"``."""
        bits = self._bits
        statuses = vocab.STATUSES[level_text]
        status = statuses[bits(8) % len(statuses)]
        size = "-" if status in (204, 304) else str(bits(8 + bits(3)))
        user = self._values.user() if bits(3) == 0 else "-"
        referrer = self._referrers[bits(8) % len(self._referrers)]
        agent = vocab.USER_AGENTS[bits(8) % len(vocab.USER_AGENTS)]
        return (
            f'{self._values.ipv4()} - {user} [{self.stamp(ts_us, offset)}] "{msg} HTTP/1.1" '
            f'{status} {size} "{referrer}" "{agent}"'
        )

    def with_latin1(self, msg: str, word: str) -> str:
        """Put the word at the end of the request path."""
        return f"{msg}/{word}"


class ApacheError(LogFormat):
    """Apache 2.2 error log: ``[Sun Dec 04 04:47:44 2005] [error] msg``."""

    name = "apache_error"
    levels: ClassVar[dict[str, str]] = {
        "DEBUG": "debug",
        "INFO": "info",
        "NOTICE": "notice",
        "WARNING": "warn",
        "ERROR": "error",
        "CRITICAL": "crit",
    }

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``Sun Dec 04 04:47:44 2005``."""
        return (
            f"{WEEKDAYS[local.tm_wday]} {MONTHS[local.tm_mon - 1]} {local.tm_mday:02d} "
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} {local.tm_year:04d}",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``[stamp] [level] msg``."""
        return f"[{self.stamp(ts_us, offset)}] [{level_text}] {msg}"


class NginxError(LogFormat):
    """nginx error log: ``2024/01/30 12:00:00 [error] 123#0: *1 msg``."""

    name = "nginx_error"
    levels: ClassVar[dict[str, str]] = ApacheError.levels

    def __init__(self, rng: random.Random, values: Values) -> None:
        """Start the connection counter."""
        super().__init__(rng, values)
        self._connection = 0

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2024/01/30 12:00:00``."""
        return (
            f"{local.tm_year:04d}/{local.tm_mon:02d}/{local.tm_mday:02d} "
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp [level] pid#tid: *connection msg``."""
        self._connection += 1 + self._bits(2)
        return (
            f"{self.stamp(ts_us, offset)} [{level_text}] {3100 + self._bits(2)}#0: "
            f"*{self._connection} {msg}"
        )
