"""The format library: each format's fields on hand-written lines, names, custom formats."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loglens.analysis.formats import (
    BUILTIN_FORMATS,
    GENERIC_FORMAT,
    LogFormat,
    custom_format,
    format_by_name,
)
from loglens.analysis.parse import ParseContext, parse_lines
from loglens.errors import FormatError

CTX = ParseContext(tz="UTC", reference=datetime(2024, 6, 1, tzinfo=UTC))

# (format name, line, ts as ISO text in UTC or None, level, component, message)
CASES = [
    (
        "bgl",
        "- 1118000000 2005.06.05 R11-M0-N3-C:J04-U01 2005-06-05-12.33.20.123456 "
        "R11-M0-N3-C:J04-U01 RAS KERNEL INFO cache parity corrected",
        "2005-06-05T19:33:20.123456",
        "INFO",
        "KERNEL",
        "cache parity corrected",
    ),
    (
        "bgl",
        "KERNDTLB 1118000001 2005.06.05 NULL 2005-06-05-12.33.21.000001 NULL RAS APP FATAL "
        "ciod: lost link",
        "2005-06-05T19:33:21.000001",
        "CRITICAL",
        "APP",
        "ciod: lost link",
    ),
    (
        "ras-syslog",
        "- 1131500000 2005.11.09 tb7 Nov 9 01:33:20 tb7/tb7 crond(pam_unix)[29]: session opened",
        "2005-11-09T01:33:20",
        "INFO",
        "crond(pam_unix)",
        "session opened",
    ),
    (
        "hdfs",
        "090101 120000 17 WARN dfs.Storage$Writer: slow write of blk_42",
        "2009-01-01T12:00:00",
        "WARNING",
        "dfs.Storage$Writer",
        "slow write of blk_42",
    ),
    (
        "spark",
        "19/03/02 08:15:00 ERROR storage.Cache: evicting block rdd_3_1 ",
        "2019-03-02T08:15:00",
        "ERROR",
        "storage.Cache",
        "evicting block rdd_3_1",
    ),
    (
        "zookeeper",
        "2020-02-02 10:00:00,001 - INFO  [Reader[id=3]/0:0:0:0:2181:Election@91] - round 4: ok",
        "2020-02-02T10:00:00.001",
        "INFO",
        "Election",
        "round 4: ok",
    ),
    (
        "glog",
        "W0405 06:07:08.123456    77 controller.go:42] retrying sync",
        "2024-04-05T06:07:08.123456",
        "WARNING",
        "controller.go",
        "retrying sync",
    ),
    (
        "android",
        "04-05 06:07:08.910  1000  1001 D Power Manager: screen on",
        "2024-04-05T06:07:08.910",
        "DEBUG",
        "Power Manager",
        "screen on",
    ),
    (
        "apache-error",
        "[Sun Dec 04 04:47:44 2005] [notice] child 12 started",
        "2005-12-04T04:47:44",
        "NOTICE",
        None,
        "child 12 started",
    ),
    (
        "apache-error",
        "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1:tid 2] [client 1.2.3.4:5] denied",
        "2000-10-11T14:32:52.123456",
        "ERROR",
        "core",
        "[client 1.2.3.4:5] denied",
    ),
    (
        "redis",
        "2253:M 07 Dec 2023 13:59:03.630 * Running mode=standalone, port=6379.",
        "2023-12-07T13:59:03.630",
        "NOTICE",
        None,
        "Running mode=standalone, port=6379.",
    ),
    (
        "redis",
        "[2932] 31 May 04:32:08 # The TCP backlog setting of 511 cannot be enforced.",
        "2024-05-31T04:32:08",
        "WARNING",
        None,
        "The TCP backlog setting of 511 cannot be enforced.",
    ),
    (
        "redis",
        "30 May 10:05:20 - 0 clients connected (0 replicas), 618932 bytes in use",
        "2024-05-30T10:05:20",
        "DEBUG",
        None,
        "0 clients connected (0 replicas), 618932 bytes in use",
    ),
    (
        "redis",
        "5092:signal-handler (1496141844) Received SIGINT scheduling shutdown...",
        None,
        None,
        None,
        "Received SIGINT scheduling shutdown...",
    ),
    (
        "nginx-error",
        "2024/01/30 12:00:00 [crit] 123#0: *1 SSL_do_handshake() failed",
        "2024-01-30T12:00:00",
        "CRITICAL",
        None,
        "SSL_do_handshake() failed",
    ),
    (
        "access",
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 503 2326',
        "2000-10-10T20:55:36",
        "ERROR",
        None,
        '"GET /a.gif HTTP/1.0" 503 2326',
    ),
    (
        "access",
        '::1 - - [10/Oct/2000:13:55:36 +0000] "POST /x HTTP/1.1" 200 5 "http://r/" "Mozilla/5.0"',
        "2000-10-10T13:55:36",
        "INFO",
        None,
        '"POST /x HTTP/1.1" 200 5 "http://r/" "Mozilla/5.0"',
    ),
    (
        "syslog-5424",
        "<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - 'su root' failed on /dev/pts/8",
        "2003-10-11T22:14:15.003",
        "CRITICAL",
        "su",
        "'su root' failed on /dev/pts/8",
    ),
    (
        "syslog",
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown",
        "2023-06-14T15:16:01",  # more than a day after the reference: last year
        None,  # inferred: no keyword, so INFO (checked below)
        "sshd(pam_unix)",
        "check pass; user unknown",
    ),
    (
        "syslog",
        "<11>Dec  1 06:55:46 host kernel:  Out of memory: killed process 42",
        "2023-12-01T06:55:46",
        "ERROR",
        "kernel",
        "Out of memory: killed process 42",
    ),
    (
        "syslog",
        "Feb  2 01:02:03 host syslogd 1.4.1: restart.",
        "2024-02-02T01:02:03",
        "INFO",
        "syslogd 1.4.1",
        "restart.",
    ),
    (
        "python-basic",
        "WARNING:root:disk almost full",
        None,
        "WARNING",
        "root",
        "disk almost full",
    ),
    (
        "python",
        "2023-01-02 03:04:05,678 - app.db - CRITICAL - pool exhausted",
        "2023-01-02T03:04:05.678",
        "CRITICAL",
        "app.db",
        "pool exhausted",
    ),
    (
        "spring-boot",
        "2022-05-06T07:08:09.123+02:00  WARN 4242 --- [  main] o.s.b.Demo  : slow start",
        "2022-05-06T05:08:09.123",
        "WARNING",
        "o.s.b.Demo",
        "slow start",
    ),
    (
        "log4j",
        "2015-10-18 18:01:47,978 INFO [IPC Server handler 3 on 6227] org.a.b.C: Kind: X, Id: 7",
        "2015-10-18T18:01:47.978",
        "INFO",
        "org.a.b.C",
        "Kind: X, Id: 7",
    ),
    (
        "log4j-thread-first",
        "2021-03-04 05:06:07.890 [worker-1] DEBUG com.example.Job - job 7 queued",
        "2021-03-04T05:06:07.890",
        "DEBUG",
        "com.example.Job",
        "job 7 queued",
    ),
    (
        "iso8601",
        "2024-01-30T12:00:00.123Z [WARN] [cache] 91% full",
        "2024-01-30T12:00:00.123",
        "WARNING",
        "cache",
        "91% full",
    ),
    (
        "iso8601",
        "2024-01-30T12:00:00+01:00 Server listening on :80",
        "2024-01-30T11:00:00",
        "INFO",
        None,
        "Server listening on :80",
    ),
    (
        "syslog-iso",
        "2024-01-30T12:00:00.123456+01:00 web1 nginx[5]: upstream timed out",
        "2024-01-30T11:00:00.123456",
        "WARNING",
        "nginx",
        "upstream timed out",
    ),
    (
        "json",
        '{"@timestamp": "2024-01-30T12:00:00Z", "log.level": "error", "message": "db down", '
        '"logger": "app.db"}',
        "2024-01-30T12:00:00",
        "ERROR",
        "app.db",
        "db down",
    ),
    (
        "json",
        '{"time": 1706616000123, "level": 40, "msg": "slow", "name": "api"}',
        "2024-01-30T12:00:00.123",
        "WARNING",
        "api",
        "slow",
    ),
    (
        "logfmt",
        'ts=2024-01-30T12:00:00Z lvl=info msg="said \\"hi\\"" module=web',
        "2024-01-30T12:00:00",
        "INFO",
        "web",
        'said "hi"',
    ),
    (
        "generic",
        "[2024-01-30 12:00:00] ERROR [db] timeout after 3 s",
        "2024-01-30T12:00:00",
        "ERROR",
        "db",
        "timeout after 3 s",
    ),
    (
        "generic",
        "Sun Dec 04 04:47:44 2005 something happened",
        "2005-12-04T04:47:44",
        "INFO",
        None,
        "something happened",
    ),
    ("generic", "no structure at all", None, "INFO", None, "no structure at all"),
]


def _parse_one(fmt: LogFormat, line: str) -> dict[str, object]:
    return parse_lines(pl.Series([line]), fmt, CTX).row(0, named=True)


@pytest.mark.parametrize(("name", "line", "ts", "level", "component", "message"), CASES)
def test_format_fields(
    name: str, line: str, ts: str | None, level: str | None, component: str | None, message: str
) -> None:
    row = _parse_one(format_by_name(name), line)
    assert row["header"] is True
    assert row["truncated"] is False
    expected_ts = None if ts is None else datetime.fromisoformat(ts).replace(tzinfo=UTC)
    assert row["ts"] == expected_ts
    assert row["level"] == (level or "INFO")
    assert row["component"] == component
    assert row["message"] == message


def test_every_builtin_parses_its_own_examples() -> None:
    for fmt in BUILTIN_FORMATS:
        parsed = parse_lines(pl.Series(list(fmt.examples)), fmt, CTX)
        assert parsed["header"].all(), fmt.name
        assert parsed["ts"].is_not_null().all() or fmt.name == "python-basic", fmt.name


def test_builtin_names_are_unique_and_generic_is_not_builtin() -> None:
    names = [fmt.name for fmt in BUILTIN_FORMATS]
    assert len(names) == len(set(names))
    assert GENERIC_FORMAT.name not in names


def test_format_by_name_finds_builtins_generic_and_extra_first() -> None:
    assert format_by_name("syslog").name == "syslog"
    assert format_by_name("generic") is GENERIC_FORMAT
    mine = custom_format("syslog", r"^(?<message>.*)$")
    assert format_by_name("syslog", extra=[mine]) is mine


def test_format_by_name_unknown_names_the_known_ones() -> None:
    with pytest.raises(FormatError, match=r"unknown log format 'nope'.*log4j.*syslog"):
        format_by_name("nope")


def test_custom_format_parses_with_its_groups() -> None:
    fmt = custom_format(
        "mine",
        r"^(?P<ts>\S+ \S+) \[(?P<level>\w+)\] (?P<message>.*)$",
        ts_format="%Y-%m-%d %H:%M:%S",
    )
    parsed = parse_lines(pl.Series(["2024-01-30 12:00:00 [warn] hot  ", "junk"]), fmt, CTX)
    first = parsed.row(0, named=True)
    assert first["header"] is True
    assert first["ts"] == datetime(2024, 1, 30, 12, tzinfo=UTC)
    assert first["level"] == "WARNING"
    assert first["message"] == "hot"
    assert parsed.row(1, named=True)["header"] is False
    assert parsed.row(1, named=True)["message"] == "junk"


def test_custom_format_without_level_infers_one() -> None:
    fmt = custom_format("plain", r"^> (?<message>.*)")
    assert parse_lines(pl.Series(["> request failed"]), fmt, CTX)["level"][0] == "ERROR"


def test_custom_format_needs_a_message_group() -> None:
    with pytest.raises(FormatError, match="no \\(\\?<message>"):
        custom_format("bad", r"^(?<ts>\S+) (?<rest>.*)$")


def test_custom_format_rejects_a_regex_polars_cannot_compile() -> None:
    with pytest.raises(FormatError, match="does not compile"):
        custom_format("bad", r"^(?<message>.*(?=x))$")


def test_custom_format_rejects_ts_format_without_ts_group() -> None:
    with pytest.raises(FormatError, match="no ts group"):
        custom_format("bad", r"^(?<message>.*)$", ts_format="%Y")


@pytest.mark.parametrize(
    ("ts_format", "words"),
    [
        ("%Q%Q", "is not a strftime pattern chrono knows"),
        ("date then time", "reads no timestamp"),
    ],
)
def test_custom_format_rejects_a_ts_format_that_reads_nothing(ts_format: str, words: str) -> None:
    with pytest.raises(FormatError, match=words):
        custom_format("bad", r"^(?<ts>\S+) (?<message>.*)$", ts_format=ts_format)


@pytest.mark.parametrize("ts_format", ["%d/%b/%Y:%H:%M:%S %z", "%H:%M:%S%.f", "epoch", "%s"])
def test_custom_format_takes_any_ts_format_chrono_reads(ts_format: str) -> None:
    fmt = custom_format("ok", r"^(?<ts>\S+) (?<message>.*)$", ts_format=ts_format)
    assert fmt.ts_format == ts_format
