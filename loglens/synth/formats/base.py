"""The base of every format: timestamps, level words, truncation.

Timestamps are integer microseconds since the epoch (UTC). The text of the current second
is cached, since consecutive entries mostly fall in the same second.
"""

from __future__ import annotations

import random
import time
from typing import ClassVar

from loglens.synth import vocab
from loglens.synth.templates import Template
from loglens.synth.values import Values

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SUBSYSTEM_ORDER = {name: i for i, name in enumerate(vocab.SUBSYSTEMS)}


def offset_text(offset_minutes: int, colon: bool) -> str:
    """Return ``+01:00`` (or ``+0100``) for an offset in minutes."""
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}" if colon else f"{sign}{hours:02d}{minutes:02d}"


def module_logger(template: Template) -> str:
    """Return a dotted module name such as ``quarry.storage.blockkeeper``."""
    return f"{vocab.SUBSYSTEMS[template.subsystem][0]}.{template.class_stem.lower()}"


def iso_millis_text(local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
    """Return ``2024-01-30T12:00:00.`` and ``Z`` or the offset such as ``+01:00``."""
    zone = "Z" if offset_minutes == 0 else offset_text(offset_minutes, colon=True)
    return iso_second(local) + ".", zone


def iso_second(tm: time.struct_time, sep: str = "T") -> str:
    """Return ``2024-01-30T12:00:00``."""
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}"
        f"{sep}{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
    )


class LogFormat:
    """Base of the formats: subclasses say how a second is written and how a line is laid out."""

    name: ClassVar[str]
    # Canonical level -> the word the format writes; only these levels are generated.
    levels: ClassVar[dict[str, str]]
    levels_checkable: ClassVar[bool] = True
    fraction_digits: ClassVar[int] = 0  # 0, 3 or 6 digits after the second
    carries_offset: ClassVar[bool] = False
    traces: ClassVar[str] = "none"  # "java", "python", "embedded" (inside the entry) or "none"
    access_templates: ClassVar[bool] = False

    def __init__(self, rng: random.Random, values: Values) -> None:
        """Share the generator's ``rng`` and variable parts."""
        self._rng = rng
        self._bits = rng.getrandbits
        self._values = values
        self._hosts = values.hosts[:6]
        # 256 entries so one getrandbits(8) picks a thread without a modulo.
        self._threads = [vocab.THREADS[i % len(vocab.THREADS)] for i in range(256)]
        self._second = -1
        self._offset = 0
        self._prefix = ""
        self._suffix = ""

    def level_text(self, template: Template) -> str:
        """Return what the format writes for the template's level."""
        return self.levels[template.level]

    def logger(self, template: Template) -> str:
        """Return the logger, component or program name written for the template."""
        return f"io.{vocab.SUBSYSTEMS[template.subsystem][0]}.{template.class_stem}"

    def stamp(self, ts_us: int, offset_minutes: int) -> str:
        """Return the timestamp as the format writes it, in local time at the offset."""
        second = ts_us // 1_000_000
        if second != self._second or offset_minutes != self._offset:
            self._second = second
            self._offset = offset_minutes
            local = time.gmtime(second + offset_minutes * 60)
            self._prefix, self._suffix = self.second_text(local, offset_minutes)
        if self.fraction_digits == 3:
            return f"{self._prefix}{ts_us // 1000 % 1000:03d}{self._suffix}"
        if self.fraction_digits == 6:
            return f"{self._prefix}{ts_us % 1_000_000:06d}{self._suffix}"
        return self._prefix

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return the text before and after the fraction of a second."""
        raise NotImplementedError

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return one entry as a line without its newline."""
        raise NotImplementedError

    def line_with_trace(
        self, ts_us: int, offset: int, level_text: str, logger: str, msg: str, trace: list[str]
    ) -> str:
        """Return an entry that carries its stack trace inside the line (embedded traces)."""
        raise NotImplementedError(f"{self.name} does not embed stack traces")

    def with_latin1(self, msg: str, word: str) -> str:
        """Return the message with a latin-1 word worked in."""
        return f"{msg} (site {word})"

    def truncated(self, ts_us: int, offset: int) -> str:
        """Return an entry cut inside the second half of its timestamp."""
        stamp = self.stamp(ts_us, offset)
        full = self.line(ts_us, offset, next(iter(self.levels.values())), "x", "x")
        start = full.index(stamp)
        half = len(stamp) // 2
        return full[: start + half + self._bits(8) % (len(stamp) - half)]
