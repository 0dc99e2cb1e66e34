"""How each log format writes an entry; ``FORMATS`` maps a format name to its class."""

from __future__ import annotations

from loglens.synth.formats.application import Bgl, Hdfs, Log4j, PythonLogging, Spark, Zookeeper
from loglens.synth.formats.base import LogFormat
from loglens.synth.formats.server import ApacheAccess, ApacheError, NginxError, Syslog, Syslog5424
from loglens.synth.formats.structured import JsonLines, Logfmt

__all__ = ["FORMATS", "LogFormat"]

FORMATS: dict[str, type[LogFormat]] = {
    cls.name: cls
    for cls in (
        Syslog, Syslog5424, ApacheAccess, ApacheError, NginxError, PythonLogging, Log4j,
        Zookeeper, Hdfs, Spark, JsonLines, Logfmt, Bgl,
    )
}  # fmt: skip
