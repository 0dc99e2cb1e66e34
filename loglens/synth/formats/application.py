"""Formats written by application logging libraries: Python, log4j and its kin, BGL RAS."""

from __future__ import annotations

import random
import time
from typing import ClassVar

from loglens.synth import vocab
from loglens.synth.formats.base import (
    SUBSYSTEM_ORDER,
    LogFormat,
    iso_second,
    module_logger,
)
from loglens.synth.templates import Template
from loglens.synth.values import Values


class PythonLogging(LogFormat):
    """Python logging: ``%(asctime)s - %(name)s - %(levelname)s - %(message)s``."""

    name = "python"
    levels: ClassVar[dict[str, str]] = {
        k: k for k in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    }
    fraction_digits = 3
    traces = "python"

    def logger(self, template: Template) -> str:
        """Return a dotted module name such as ``quarry.storage.blockkeeper``."""
        return module_logger(template)

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2024-01-30 12:00:00,``."""
        return iso_second(local, " ") + ",", ""

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp - logger - LEVEL - msg``."""
        return f"{self.stamp(ts_us, offset)} - {logger} - {level_text} - {msg}"


_LOG4J_LEVELS = {
    "TRACE": "TRACE",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "CRITICAL": "FATAL",
}


class Log4j(LogFormat):
    """Hadoop-style log4j: ``2015-10-18 18:01:47,978 INFO [main] org.x.Y: msg``."""

    name = "log4j"
    levels: ClassVar[dict[str, str]] = _LOG4J_LEVELS
    fraction_digits = 3
    traces = "java"

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2015-10-18 18:01:47,``."""
        return iso_second(local, " ") + ",", ""

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp LEVEL [thread] logger: msg``."""
        return (
            f"{self.stamp(ts_us, offset)} {level_text} [{self._threads[self._bits(8)]}] "
            f"{logger}: {msg}"
        )


class Zookeeper(Log4j):
    """ZooKeeper: ``2015-07-29 17:41:44,747 - INFO  [thread:Class@774] - msg``."""

    name = "zookeeper"
    # Padded to five characters, as ZooKeeper's pattern does.
    levels: ClassVar[dict[str, str]] = {
        k: f"{v:<5}" for k, v in _LOG4J_LEVELS.items() if k != "TRACE"
    }

    def logger(self, template: Template) -> str:
        """Return ``Class@line``; the line number is fixed per template like real code."""
        return f"{template.class_stem}@{100 + template.group * 37 % 900}"

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp - LEVEL [thread:Class@line] - msg``."""
        return (
            f"{self.stamp(ts_us, offset)} - {level_text} [{self._threads[self._bits(8)]}:{logger}] "
            f"- {msg}"
        )


class Hdfs(LogFormat):
    """HDFS: ``081109 203615 148 INFO dfs.DataNode$PacketResponder: msg``."""

    name = "hdfs"
    levels: ClassVar[dict[str, str]] = {k: v for k, v in _LOG4J_LEVELS.items() if k != "TRACE"}
    traces = "java"
    _INNER = ("Responder", "Monitor", "Worker")

    def logger(self, template: Template) -> str:
        """Return ``dfs.Class`` or, for some templates, ``dfs.Class$Inner``."""
        inner = "" if template.group % 3 else f"${self._INNER[template.group % 9 // 3]}"
        return f"dfs.{template.class_stem}{inner}"

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``081109 203615``."""
        return (
            f"{local.tm_year % 100:02d}{local.tm_mon:02d}{local.tm_mday:02d} "
            f"{local.tm_hour:02d}{local.tm_min:02d}{local.tm_sec:02d}",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp thread LEVEL logger: msg``."""
        return f"{self.stamp(ts_us, offset)} {1 + self._bits(12)} {level_text} {logger}: {msg}"


class Spark(LogFormat):
    """Spark: ``17/06/09 20:10:40 INFO executor.X: msg``."""

    name = "spark"
    levels: ClassVar[dict[str, str]] = Hdfs.levels
    traces = "java"

    def logger(self, template: Template) -> str:
        """Return ``subsystem.Class``."""
        return f"{template.subsystem}.{template.class_stem}"

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``17/06/09 20:10:40``."""
        return (
            f"{local.tm_year % 100:02d}/{local.tm_mon:02d}/{local.tm_mday:02d} "
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``stamp LEVEL logger: msg``."""
        return f"{self.stamp(ts_us, offset)} {level_text} {logger}: {msg}"


class Bgl(LogFormat):
    """Blue Gene/L RAS: ``- 1117838570 2005.06.03 NODE 2005-06-03-15.42.50.675872 NODE RAS ...``."""

    name = "bgl"
    levels: ClassVar[dict[str, str]] = {
        "INFO": "INFO",
        "WARNING": "WARNING",
        "ERROR": "ERROR",
        "CRITICAL": "FATAL",
    }
    fraction_digits = 6

    def __init__(self, rng: random.Random, values: Values) -> None:
        """Also draw the node names."""
        super().__init__(rng, values)
        bits = rng.getrandbits
        self._nodes = [
            f"R{bits(6):02d}-M{bits(1)}-N{bits(4):X}-C:J{bits(4):02d}-U{bits(4):02d}"
            for _ in range(64)
        ]
        self._day = ""

    def logger(self, template: Template) -> str:
        """Return a RAS component chosen by subsystem."""
        order = SUBSYSTEM_ORDER[template.subsystem]
        return vocab.BGL_COMPONENTS[order % len(vocab.BGL_COMPONENTS)]

    def second_text(self, local: time.struct_time, offset_minutes: int) -> tuple[str, str]:
        """Return ``2005-06-03-15.42.50.``; also remember ``1117838570 2005.06.03``."""
        self._day = f"{self._second} {local.tm_year:04d}.{local.tm_mon:02d}.{local.tm_mday:02d}"
        return (
            f"{local.tm_year:04d}-{local.tm_mon:02d}-{local.tm_mday:02d}-"
            f"{local.tm_hour:02d}.{local.tm_min:02d}.{local.tm_sec:02d}.",
            "",
        )

    def line(self, ts_us: int, offset: int, level_text: str, logger: str, msg: str) -> str:
        """Return ``alert epoch date node stamp node RAS component LEVEL msg``."""
        bits = self._bits
        stamp = self.stamp(ts_us, offset)
        node = self._nodes[bits(6)]
        alert = vocab.BGL_ALERT_TAGS[bits(8) % 5] if level_text == "FATAL" else "-"
        return f"{alert} {self._day} {node} {stamp} {node} RAS {logger} {level_text} {msg}"
