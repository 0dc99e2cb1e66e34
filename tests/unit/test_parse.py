"""Format detection and parse_lines: output shape, truncation, continuations, JSON, logfmt."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loglens.analysis.formats import BUILTIN_FORMATS, GENERIC_FORMAT, format_by_name
from loglens.analysis.json_layout import learn_json_format
from loglens.analysis.parse import Detection, ParseContext, detect_format, parse_lines
from loglens.errors import ConfigError

CTX = ParseContext(tz="UTC", reference=datetime(2024, 6, 1, tzinfo=UTC))

# Three hand-written lines per built-in format: detection must pick that format.
SAMPLES = {
    "bgl": [
        "- 1118000000 2005.06.05 R11-M0-N3-C:J04-U01 2005-06-05-12.33.20.123456 "
        "R11-M0-N3-C:J04-U01 RAS KERNEL INFO cache parity corrected",
        "APPREAD 1118000005 2005.06.05 R11-M0-N3-I:J18-U11 2005-06-05-12.33.25.000001 "
        "R11-M0-N3-I:J18-U11 RAS APP FATAL ciod: read failed",
        "- 1118000009 2005.06.05 NULL 2005-06-05-12.33.29.500000 NULL RAS MMCS ERROR assert hit",
    ],
    "ras-syslog": [
        "- 1131500000 2005.11.09 tb7 Nov 9 01:33:20 tb7/tb7 crond(pam_unix)[29]: session opened",
        "- 1131500001 2005.11.09 tb8 Nov 9 01:33:21 tb8/tb8 sshd[30]: Accepted publickey",
        "ECC 1131500002 2005.11.09 tb9 Nov 9 01:33:22 tb9/tb9 kernel: EDAC error on row 3",
    ],
    "hdfs": [
        "090101 120000 17 INFO dfs.DataNode$Receiver: receiving blk_1 src /10.0.0.1",
        "090101 120001 18 WARN dfs.DataNode: slow flush",
        "090101 120002 17 INFO dfs.FSNamesystem: allocate blk_2",
    ],
    "spark": [
        "19/03/02 08:15:00 INFO storage.BlockManager: registered",
        "19/03/02 08:15:01 WARN Remoting: association failed",
        "19/03/02 08:15:02 INFO executor.Executor: task 3 done",
    ],
    "zookeeper": [
        "2020-02-02 10:00:00,001 - INFO  [main:QuorumPeerMain@127] - starting",
        "2020-02-02 10:00:01,002 - WARN  [Sender:9:QuorumCnxManager$Sender@12] - peer gone",
        "2020-02-02 10:00:02,003 - ERROR [Learner-/10.0.0.2:40:Learner@56] - sync failed",
    ],
    "glog": [
        "I0405 06:07:08.123456    77 main.go:12] starting controller",
        "W0405 06:07:09.000001    77 sync.go:40] retrying",
        "E0405 06:07:10.500000    78 sync.go:44] gave up",
    ],
    "android": [
        "04-05 06:07:08.910  1000  1001 I ActivityManager: start proc 42",
        "04-05 06:07:09.000  1000  1002 W Battery: level low",
        "04-05 06:07:09.100  2000  2001 E AndroidRuntime: FATAL EXCEPTION: main",
    ],
    "apache-error": [
        "[Sun Dec 04 04:47:44 2005] [notice] workers initialised",
        "[Sun Dec 04 04:47:45 2005] [error] [client 10.0.0.3] File does not exist: /x",
        "[Sun Dec 04 04:47:46.1234 2005] [core:warn] [pid 7:tid 8] AH0001: odd",
    ],
    "nginx-error": [
        "2024/01/30 12:00:00 [error] 123#0: *1 open() failed (2: No such file)",
        "2024/01/30 12:00:01 [warn] 123#0: conflicting server name",
        "2024/01/30 12:00:02 [notice] 124#124: signal process started",
    ],
    "redis": [
        "2253:C 07 Dec 2026 13:59:03.629 # Redis version=7.0.15, bits=64, just started",
        "2253:M 07 Dec 2026 13:59:03.630 * monotonic clock: POSIX clock_gettime",
        "2253:M 07 Dec 2026 13:59:03.631 * Running mode=standalone, port=6379.",
        "2253:M 07 Dec 2026 13:59:04.001 . 0 clients connected (0 replicas)",
    ],
    "access": [
        '10.0.0.1 - - [30/Jan/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"',
        '10.0.0.2 - bob [30/Jan/2024:12:00:01 +0000] "GET /x HTTP/1.1" 404 12',
        '10.0.0.3 - - [30/Jan/2024:12:00:02 +0000] "POST /api HTTP/1.1" 500 0 "-" "k6"',
    ],
    "syslog-5424": [
        "<165>1 2003-10-11T22:14:15.003Z host app 7 ID47 - started",
        '<165>1 2003-10-11T22:14:16.003Z host app 7 ID47 [x@1 a="b]"] with data',
        "<11>1 2003-10-11T22:14:17Z host app - - - failed",
    ],
    "syslog": [
        "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user admin from 10.0.0.9",
        "Dec 10 06:55:47 LabSZ sshd[24200]: Connection closed by 10.0.0.9 [preauth]",
        "Dec 10 06:55:48 LabSZ CRON[11]: (root) CMD (run-parts /etc/cron.hourly)",
    ],
    "python-basic": [
        "INFO:app:started",
        "WARNING:app.db:slow query",
        "ERROR:root:boom",
    ],
    "python": [
        "2023-01-02 03:04:05,678 - app - INFO - started",
        "2023-01-02 03:04:06,000 - app.db - WARNING - slow query",
        "2023-01-02 03:04:07,001 - root - ERROR - boom",
    ],
    "spring-boot": [
        "2022-05-06T07:08:09.123Z  INFO 4242 --- [main] c.e.Demo : Starting Demo",
        "2022-05-06T07:08:10.123Z  WARN 4242 --- [nio-8080-exec-1] c.e.Web : slow",
        "2022-05-06T07:08:11.123Z ERROR 4242 --- [main] c.e.Demo : failed",
    ],
    "log4j": [
        "2015-10-18 18:01:47,978 INFO [main] org.a.App: Created app",
        "2015-10-18 18:01:48,001 WARN [Lease:x@y:9000] org.a.ipc.Client: Address change",
        "2015-10-18 18:01:49,002 ERROR [IPC handler 3 on 62] org.a.Rpc: call failed",
    ],
    "log4j-thread-first": [
        "2021-03-04 05:06:07.890 [main] INFO  com.example.App - started",
        "2021-03-04 05:06:08.890 [worker-1] WARN  com.example.Job - retrying",
        "2021-03-04 05:06:09.890 [worker-2] ERROR com.example.Job - failed",
    ],
    "json": [
        '{"ts": 1700000000.5, "level": "info", "msg": "started"}',
        '{"ts": 1700000001.5, "level": "warn", "msg": "slow", "ms": 900}',
        '{"ts": 1700000002.5, "level": "error", "msg": "down"}',
    ],
    "logfmt": [
        "time=2024-01-30T12:00:00Z level=info msg=started",
        'time=2024-01-30T12:00:01Z level=warn msg="slow query" ms=900',
        'time=2024-01-30T12:00:02Z level=error msg="db down"',
    ],
    "iso8601": [
        "2024-01-30T12:00:00.123Z [WARN] disk 91% full",
        "2024-01-30T12:00:01.123Z ready",
        "2024-01-30T12:00:02.123Z ERROR [db] timeout",
    ],
    "syslog-iso": [
        "2024-01-30T12:00:00.123456+01:00 web1 nginx[5]: reload",
        "2024-01-30T12:00:01.123456+01:00 web1 systemd[1]: Started nginx.",
        "2024-01-30T12:00:02.123456+01:00 web2 kernel: eth0 link up",
    ],
}


def _rows(lines: list[str], name: str) -> list[dict[str, object]]:
    return parse_lines(pl.Series(lines), format_by_name(name), CTX).to_dicts()


def test_every_builtin_has_a_detection_sample() -> None:
    assert set(SAMPLES) == {fmt.name for fmt in BUILTIN_FORMATS}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_detection_picks_the_format(name: str) -> None:
    sample = SAMPLES[name] * 3
    detection = detect_format(sample, BUILTIN_FORMATS)
    # JSON lines are detected with the places of their fields learned from the sample.
    expected = learn_json_format(sample, format_by_name(name))
    assert detection == Detection(expected, 1.0)


def test_continuation_lines_do_not_count_against_a_format() -> None:
    sample = [
        "2015-10-18 18:01:47,978 ERROR [main] org.a.App: request failed",
        "java.lang.IllegalStateException: closed",
        "\tat org.a.App.run(App.java:12)",
        "\t... 3 more",
        "Caused by: java.io.IOException: reset",
        "2015-10-18 18:01:48,978 INFO [main] org.a.App: recovered",
    ]
    detection = detect_format(sample, BUILTIN_FORMATS)
    assert detection.format.name == "log4j"
    assert detection.confidence == 1.0


def test_detection_skips_empty_lines_and_line_ends() -> None:
    sample = ["", "INFO:app:started\r\n", "   ", "ERROR:app:boom\n"]
    assert detect_format(sample, BUILTIN_FORMATS).format.name == "python-basic"


def test_detection_falls_back_to_generic_for_prose() -> None:
    sample = ["Dear operator,", "the backup ran at 2024-01-30 12:00:00 and failed.", "Bye"]
    detection = detect_format(sample, BUILTIN_FORMATS)
    assert detection.format is GENERIC_FORMAT
    assert detection.confidence == 0.0


def test_detection_of_an_empty_sample_is_generic() -> None:
    assert detect_format([], BUILTIN_FORMATS) == Detection(GENERIC_FORMAT, 0.0)


def test_output_columns_types_height_and_order() -> None:
    lines = pl.Series(["Dec 10 06:55:46 h a[1]: x", "  indented", "Dec 10 06:55:47 h b: y"])
    parsed = parse_lines(lines, format_by_name("syslog"), CTX)
    assert list(parsed.schema.items()) == [
        ("header", pl.Boolean),
        ("truncated", pl.Boolean),
        ("ts", pl.Datetime("us", "UTC")),
        ("level", pl.String),
        ("level_read", pl.Boolean),
        ("component", pl.String),
        ("message", pl.String),
    ]
    assert parsed["header"].to_list() == [True, False, True]
    assert parsed["message"].to_list() == ["x", "  indented", "y"]
    assert parsed["component"].to_list() == ["a", None, "b"]


def test_a_continuation_line_has_no_fields_and_keeps_its_text() -> None:
    row = _rows(["\tat org.a.App.run(App.java:12)   "], "log4j")[0]
    assert row == {
        "header": False,
        "truncated": False,
        "ts": None,
        "level": None,
        "level_read": False,
        "component": None,
        "message": "\tat org.a.App.run(App.java:12)",
    }


@pytest.mark.parametrize(
    ("name", "lines", "read"),
    [
        # A level field is read; a continuation line has no level at all.
        ("log4j", ["2015-10-18 18:01:47,978 WARN [main] a.B: x", "  error in trace"], [1, 0]),
        # A PRI is read; without one syslog guesses from the words ("failed" -> ERROR).
        ("syslog", ["<11>Dec 10 06:55:46 h a: x", "Dec 10 06:55:46 h a: failed"], [1, 0]),
        # An HTTP status is read.
        ("access", ['1.2.3.4 - - [05/Jun/2021:07:08:09 +0200] "GET / HTTP/1.1" 503 1'], [1]),
        # JSON: a level key is read, a message's words are a guess.
        ("json", ['{"level": "warn", "msg": "a"}', '{"msg": "disk error"}'], [1, 0]),
        # Generic: a leading level word is read; plain text has a guessed level only.
        ("generic", ["ERROR: boom", "the backup failed"], [1, 0]),
    ],
)
def test_level_read_tells_a_level_of_the_line_from_a_guess(
    name: str, lines: list[str], read: list[int]
) -> None:
    rows = _rows(lines, name)
    assert [row["level_read"] for row in rows] == [bool(flag) for flag in read]
    # Every header has a level either way: the guesses are there, only not "read".
    assert all(row["level"] is not None for row in rows if row["header"])


def test_truncated_lines_start_like_a_header_and_break_off() -> None:
    lines = ["2015-10-18 18:01:47,978 INF", "2015-10-18 18:0", "plain", "2015-10-18 junk"]
    rows = _rows(lines, "log4j")
    assert [row["truncated"] for row in rows] == [True, True, False, False]
    assert not any(row["header"] for row in rows)
    rows = _rows(["Dec 10 06:55:46 "], "syslog")
    assert rows[0]["truncated"] is True


def test_truncated_json_line() -> None:
    rows = _rows(['{"level": "info", "msg": "cut', '{"msg": "ok"}', "plain"], "json")
    assert [row["header"] for row in rows] == [False, True, False]
    assert [row["truncated"] for row in rows] == [True, False, False]
    assert rows[2]["message"] == "plain"


def test_json_without_a_message_key_keeps_the_whole_object() -> None:
    line = '{"event_id": 7, "ok": true}'
    row = _rows([line], "json")[0]
    assert row["header"] is True
    assert row["message"] == line
    assert row["ts"] is None


def test_logfmt_header_and_truncation() -> None:
    rows = _rows(['level=info msg="unterminated', "level=warn msg=hi", "not logfmt"], "logfmt")
    assert [row["header"] for row in rows] == [False, True, False]
    assert [row["truncated"] for row in rows] == [True, False, False]
    assert rows[1]["level"] == "WARNING"


def test_generic_format_lines_are_entries_unless_they_continue() -> None:
    lines = ["plain words here", "    indented continuation", "ERROR: boom", "  2024-01-30 x"]
    rows = parse_lines(pl.Series(lines), GENERIC_FORMAT, CTX).to_dicts()
    assert [row["header"] for row in rows] == [True, False, True, False]
    assert rows[0]["message"] == "plain words here"
    assert rows[2]["level"] == "ERROR"
    assert rows[2]["message"] == "boom"


def test_message_of_a_header_without_text_is_empty() -> None:
    row = _rows(["2024/01/30 12:00:00 [error] 1#0: "], "nginx-error")[0]
    assert row["header"] is True
    assert row["message"] == ""


def test_zone_less_stamps_are_read_in_the_context_zone() -> None:
    ctx = ParseContext(tz="America/New_York", reference=datetime(2024, 6, 1, tzinfo=UTC))
    lines = pl.Series(["2015-10-18 18:01:47,978 INFO [main] org.a.App: x"])
    parsed = parse_lines(lines, format_by_name("log4j"), ctx)
    assert parsed["ts"][0] == datetime(2015, 10, 18, 22, 1, 47, 978000, tzinfo=UTC)


def test_parse_context_rejects_unknown_zone_and_naive_reference() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        ParseContext(tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="no time zone"):
        ParseContext(reference=datetime(2024, 1, 1))


def test_json_that_does_not_parse_still_gives_its_plain_fields() -> None:
    line = r'{"ts": "2024-01-30T12:00:00Z", "level": "debug", "msg": "caf\xe9 \"open\""}'
    row = _rows([line], "json")[0]
    assert row["header"] is True
    assert row["level"] == "DEBUG"
    assert row["ts"] == datetime(2024, 1, 30, 12, tzinfo=UTC)
    assert row["message"] == r'caf\xe9 "open"'


def test_stamps_of_several_widths_in_one_column() -> None:
    lines = [
        "2024-01-30 12:00:00,123 INFO [main] org.a.App: first",
        "2024-01-30T12:00:01 WARN  org.a.Db - second",
        "2024-01-30 12:00:02.500000+02:00 ERROR [w 1] org.a.Job: third",
    ]
    rows = _rows(lines, "log4j")
    assert [row["ts"] for row in rows] == [
        datetime(2024, 1, 30, 12, 0, 0, 123000, tzinfo=UTC),
        datetime(2024, 1, 30, 12, 0, 1, tzinfo=UTC),
        datetime(2024, 1, 30, 10, 0, 2, 500000, tzinfo=UTC),
    ]
    assert [row["level"] for row in rows] == ["INFO", "WARNING", "ERROR"]
    assert [row["component"] for row in rows] == ["org.a.App", "org.a.Db", "org.a.Job"]
    assert [row["message"] for row in rows] == ["first", "second", "third"]


def test_syslog_day_with_and_without_padding() -> None:
    lines = ["Mar  13 04:05:06 host app[1]: padded", "Mar 3 04:05:07 host b: bare", "Mar  3 x"]
    rows = _rows(lines, "syslog")
    assert [row["ts"] for row in rows[:2]] == [
        datetime(2024, 3, 13, 4, 5, 6, tzinfo=UTC),
        datetime(2024, 3, 3, 4, 5, 7, tzinfo=UTC),
    ]
    assert [row["component"] for row in rows] == ["app", "b", None]
    assert [row["message"] for row in rows] == ["padded", "bare", "Mar  3 x"]


def test_syslog_lines_with_and_without_pri_in_one_file() -> None:
    lines = ["<34>Oct 11 22:14:15 box su: 'su root' went wrong", "Oct 11 22:14:16 box cron: ok"]
    rows = _rows(lines, "syslog")
    assert [row["level"] for row in rows] == ["CRITICAL", "INFO"]
    assert [row["component"] for row in rows] == ["su", "cron"]
    assert rows[0]["ts"] == datetime(2023, 10, 11, 22, 14, 15, tzinfo=UTC)


def test_apache_error_stamps_with_and_without_fraction() -> None:
    lines = [
        "[Sun Dec 04 04:47:44 2005] [notice] workers initialised",
        "[Sun Dec 04 04:47:46.1234 2005] [core:warn] [pid 7:tid 8] AH0001: odd",
    ]
    rows = _rows(lines, "apache-error")
    assert [row["ts"] for row in rows] == [
        datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC),
        datetime(2005, 12, 4, 4, 47, 46, 123400, tzinfo=UTC),
    ]
    assert [row["component"] for row in rows] == [None, "core"]
    assert [row["level"] for row in rows] == ["NOTICE", "WARNING"]


def test_access_stamp_is_read_from_the_end_of_the_header() -> None:
    line = '1.2.3.4 - [x] [30/Jan/2024:12:00:00 +0100] "GET / HTTP/1.1" 503 1'
    row = _rows([line], "access")[0]
    assert row["ts"] == datetime(2024, 1, 30, 11, tzinfo=UTC)
    assert row["level"] == "ERROR"


@pytest.mark.parametrize("distinct", [True, False])
def test_fields_whether_header_rests_repeat_or_differ(distinct: bool) -> None:
    # Mostly distinct rests (a pid each) are captured line by line, repeating ones once each.
    pids = range(3000) if distinct else [7] * 3000
    lines = [f"090101 1200{n % 60:02d} {pid} INFO dfs.C{n % 3}: m{n}" for n, pid in enumerate(pids)]
    parsed = parse_lines(pl.Series([*lines, "  continued"]), format_by_name("hdfs"), CTX)
    assert parsed["component"].to_list() == [f"dfs.C{n % 3}" for n in range(3000)] + [None]
    assert parsed["level"].to_list() == ["INFO"] * 3000 + [None]
    assert parsed["message"].to_list() == [f"m{n}" for n in range(3000)] + ["  continued"]
    assert parsed["ts"][61] == datetime(2009, 1, 1, 12, 0, 1, tzinfo=UTC)


def test_a_network_device_severity_in_the_message_is_the_level() -> None:
    lines = [
        "Feb  8 04:00:48 10.0.0.2 585917: Feb  8 04:00:47.272: %SEC-6-IPACCESSLOGP: list 177 "
        "denied udp 10.0.0.9(55250) -> 10.0.0.255(15600), 1 packet",
        "Feb  8 04:00:49 10.0.0.2 585918: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
        "Feb  8 04:00:50 10.0.0.2 fw01: %ASA-4-106023: Deny tcp src outside:10.1.1.1/443",
        "Feb  8 04:00:51 10.0.0.2 sshd[42]: Failed password for root from 10.0.0.7",
    ]
    rows = _rows(lines, "syslog")
    assert [row["level"] for row in rows] == ["INFO", "ERROR", "WARNING", "ERROR"]
    assert [row["level_read"] for row in rows] == [True, True, True, False]
    # The sequence number, device time and mnemonic are header, not message.
    assert [row["message"] for row in rows] == [
        "list 177 denied udp 10.0.0.9(55250) -> 10.0.0.255(15600), 1 packet",
        "Interface Gi0/1, changed state to down",
        "Deny tcp src outside:10.1.1.1/443",
        "Failed password for root from 10.0.0.7",
    ]
