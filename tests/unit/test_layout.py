"""Layouts learned from a sample: the stamp, what precedes it and the header after it."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loglens.analysis.chunk import Part, summarise_block
from loglens.analysis.formats import BUILTIN_FORMATS
from loglens.analysis.layout import learn_layout
from loglens.analysis.parse import ParseContext, detect_format, parse_lines

CTX = ParseContext(reference=datetime(2026, 12, 7, 12, 0, tzinfo=UTC))


def _parse(lines: list[str]) -> list[dict[str, object]]:
    detection = detect_format(lines, BUILTIN_FORMATS)
    assert detection.format.learned, detection.format.name
    return parse_lines(pl.Series(lines), detection.format, CTX).to_dicts()


def _at(*parts: int) -> datetime:
    return datetime(*parts).replace(tzinfo=UTC)  # type: ignore[arg-type]


# (lines, the rows expected of the first and the last line: ts, level, component, message)
LAYOUTS = {
    "pid before the stamp, bracketed level": (
        [
            "[2985] 2026/12/07 09:23:47.580017 [INF] Starting server version 2.10",
            "[2985] 2026/12/07 09:23:47.600112 [INF] Listening for clients on 0.0.0.0:4222",
            "[2985] 2026/12/07 09:23:48.010000 [WRN] Slow consumer detected",
            "[2985] 2026/12/07 09:23:49.000001 [ERR] Error reading from client: EOF",
        ],
        (_at(2026, 12, 7, 9, 23, 47, 580017), "INFO", None, "Starting server version 2.10"),
        (_at(2026, 12, 7, 9, 23, 49, 1), "ERROR", None, "Error reading from client: EOF"),
    ),
    "container prefix": (
        [
            "web-1  | 2024-03-01T10:00:00.250Z INFO  served /health in 2 ms",
            "web-1  | 2024-03-01T10:00:01.250Z WARN  slow request /api in 900 ms",
            "db-1   | 2024-03-01T10:00:02.000Z ERROR connection reset by peer",
            "web-1  | 2024-03-01T10:00:03.250Z INFO  served /health in 1 ms",
        ],
        (_at(2024, 3, 1, 10, 0, 0, 250000), "INFO", None, "served /health in 2 ms"),
        (_at(2024, 3, 1, 10, 0, 3, 250000), "INFO", None, "served /health in 1 ms"),
    ),
    "level and component in the prefix, glued to the stamp": (
        [
            "MainThread::INFO::2011-12-05 07:04:56,101::vdsm::(run) I am the actual vdsm",
            "MainThread::WARNING::2011-12-05 07:04:57,001::vdsm::(run) low memory",
            "MainThread::ERROR::2011-12-05 07:04:58,333::vdsm::(run) storage down",
        ],
        (_at(2011, 12, 5, 7, 4, 56, 101000), "INFO", "vdsm", "I am the actual vdsm"),
        (_at(2011, 12, 5, 7, 4, 58, 333000), "ERROR", "vdsm", "storage down"),
    ),
    "epoch in a column of a table": (
        [
            "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component down",
            "134682 node-109 unix.hw state_change.available 1077804743 1 Component up",
            "134683 node-017 action start 1077804750 1 boot (command 2104)",
            "134684 node-246 unix.hw state_change.available 1077804800 1 Component up",
        ],
        # No level field: the level is guessed from the message.
        (_at(2004, 2, 26, 14, 12, 22), "INFO", None, "Component down"),
        (_at(2004, 2, 26, 14, 13, 20), "INFO", None, "Component up"),
    ),
    "fields between pipes": (
        [
            "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
            "20171223-22:15:29:633|Step_SPUtils|30002312|getTodayTotalDetailSteps = 15",
            "20171223-22:15:29:635|Step_LSC|30002312|onExtend:1514038530000 14 0 4",
            "20171223-22:15:30:101|Step_LSC|30002312|processHandleBroadcastAction",
        ],
        (
            _at(2017, 12, 23, 22, 15, 29, 606000),
            "INFO",
            "Step_LSC",
            "onStandStepChanged 3579",
        ),
        (
            _at(2017, 12, 23, 22, 15, 30, 101000),
            "INFO",
            "Step_LSC",
            "processHandleBroadcastAction",
        ),
    ),
    "zone abbreviation after a space, pid and level": (
        [
            "2024-07-01 01:45:01.123 PDT [123] LOG:  checkpoint starting: time",
            "2024-07-01 01:45:09.456 PDT [123] LOG:  checkpoint complete",
            '2024-07-01 01:46:00.000 PDT [456] ERROR:  relation "users" does not exist',
            "2024-07-01 01:46:00.000 PDT [456] STATEMENT:  select * from users",
        ],
        (_at(2024, 7, 1, 8, 45, 1, 123000), "INFO", None, "checkpoint starting: time"),
        (_at(2024, 7, 1, 8, 46), None, None, "select * from users"),
    ),
    "padded level and component columns": (
        [
            "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack",
            "2016-09-28 04:30:31, Info                  CSI    00000001@2016/9/27 begin",
            "2016-09-28 04:30:31, Warning               CBS    Unrecognized packageExtended",
            "2016-09-28 04:30:32, Error                 CSI    Transaction failed",
        ],
        (_at(2016, 9, 28, 4, 30, 30), "INFO", "CBS", "Loaded Servicing Stack"),
        (_at(2016, 9, 28, 4, 30, 32), "ERROR", "CSI", "Transaction failed"),
    ),
    "bracketed stamp, level, logger and node": (
        [
            "[2018-05-17T08:19:35,939][INFO ][o.e.n.Node               ] [] initializing ...",
            "[2018-05-17T08:19:36,089][INFO ][o.e.e.NodeEnvironment    ] [n1] using data paths",
            "[2018-05-17T08:19:36,116][INFO ][o.e.n.Node               ] node name [n1] derived",
            *(
                f"[2018-05-17T08:19:37,{ms:03d}][INFO ][o.e.p.PluginsService     ] [n1] "
                f"loaded module [m{ms}]"
                for ms in range(30)
            ),
            "[2018-05-17T08:19:37,563][WARN ][o.e.p.PluginsService     ] [n1] no modules loaded",
        ],
        (_at(2018, 5, 17, 8, 19, 35, 939000), "INFO", "o.e.n.Node", "initializing ..."),
        (
            _at(2018, 5, 17, 8, 19, 37, 563000),
            "WARNING",
            "o.e.p.PluginsService",
            "no modules loaded",
        ),
    ),
    "level letter, component, thread": (
        [
            "2018-02-05T13:44:56.657+0100 I CONTROL  [initandlisten] db version v3.2.11",
            "2018-02-05T13:44:56.677+0100 I STORAGE  [initandlisten] wiredtiger_open config",
            "2018-02-05T13:44:57.001+0100 W NETWORK  [conn1] end connection 127.0.0.1:55404",
            "2018-02-05T13:44:58.200+0100 E STORAGE  [conn1] write failed",
        ],
        (_at(2018, 2, 5, 12, 44, 56, 657000), "INFO", "CONTROL", "db version v3.2.11"),
        (_at(2018, 2, 5, 12, 44, 58, 200000), "ERROR", "STORAGE", "write failed"),
    ),
    "a program name before a dash": (
        [
            "[10.30 16:49:06] chrome.exe - proxy.example.org:5070 open through proxy HTTPS",
            "[10.30 16:49:07] svchost.exe *64 - proxy.example.org:5070 close, 403 bytes sent",
            "[10.30 16:49:08] chrome.exe - www.example.com:443 error : Could not connect",
            "[10.30 16:49:09] Dropbox.exe - proxy.example.org:5070 open through proxy HTTPS",
        ],
        (
            _at(2026, 10, 30, 16, 49, 6),
            "INFO",
            "chrome.exe",
            "proxy.example.org:5070 open through proxy HTTPS",
        ),
        (
            _at(2026, 10, 30, 16, 49, 9),
            "INFO",
            "Dropbox.exe",
            "proxy.example.org:5070 open through proxy HTTPS",
        ),
    ),
    "level glued to the stamp": (
        [
            f"2012-07-02 10:22:4{i},672:{level}:foo.bar:message number {i}"
            for i, level in enumerate(["DEBUG", "INFO", "WARNING", "ERROR"])
        ],
        (_at(2012, 7, 2, 10, 22, 40, 672000), "DEBUG", "foo.bar", "message number 0"),
        (_at(2012, 7, 2, 10, 22, 43, 672000), "ERROR", "foo.bar", "message number 3"),
    ),
    "compact stamp, level, then a name with a colon": (
        [
            f"20120702.1022{i:02d},672 {level} worker-{i % 2}: message number {i}"
            for i, level in enumerate(["DEBUG", "INFO", "WARNING", "ERROR"])
        ],
        (_at(2012, 7, 2, 10, 22, 0, 672000), "DEBUG", "worker-0", "message number 0"),
        (_at(2012, 7, 2, 10, 22, 3, 672000), "ERROR", "worker-1", "message number 3"),
    ),
    "vSphere's program[pid] and [Originator …] after the level": (
        [
            f"2024-01-01T10:00:0{i}.123Z {level} vpxd[12345] [Originator@6876 sub=vpxLro "
            f"opID=op-{i}] Task {i} completed"
            for i, level in enumerate(["info", "info", "warning", "error"])
        ],
        (_at(2024, 1, 1, 10, 0, 0, 123000), "INFO", "vpxd", "Task 0 completed"),
        (_at(2024, 1, 1, 10, 0, 3, 123000), "ERROR", "vpxd", "Task 3 completed"),
    ),
    "an Erlang process id after the level": (
        [
            f"2026-12-07 10:55:0{i}.302 [{level}] <0.{220 + i}.0> ra: starting system {i}"
            for i, level in enumerate(["info", "info", "warning", "error"])
        ],
        (_at(2026, 12, 7, 10, 55, 0, 302000), "INFO", "0.220.0", "ra: starting system 0"),
        (_at(2026, 12, 7, 10, 55, 3, 302000), "ERROR", "0.223.0", "ra: starting system 3"),
    ),
    "level and component in one word": (
        [
            "[2017-04-04 11:16:34 +0200] information/Notification: Sending notification",
            "[2017-04-04 11:16:34 +0200] warning/PluginNotificationTask: command failed",
            "[2017-04-04 11:16:48 +0200] information/IdoMysqlConnection: Query queue items: 0",
        ],
        (_at(2017, 4, 4, 9, 16, 34), "INFO", "Notification", "Sending notification"),
        (_at(2017, 4, 4, 9, 16, 48), "INFO", "IdoMysqlConnection", "Query queue items: 0"),
    ),
    "a message code in brackets after the level opens the message": (
        [
            f"2019-03-24T13:44:2{i}.484123Z {i} [{level}] [MY-0131{60 + i}] [Server] step {i}"
            for i, level in enumerate(["System", "Warning", "Note", "ERROR"])
        ],
        (_at(2019, 3, 24, 13, 44, 20, 484123), "INFO", None, "[MY-013160] [Server] step 0"),
        (_at(2019, 3, 24, 13, 44, 23, 484123), "ERROR", None, "[MY-013163] [Server] step 3"),
    ),
    "a status code after 'LEVEL:' on some lines is a header field": (
        [
            "2019-07-23 12:06:24.406 UTC [25] LOG:  00000: database system was interrupted",
            "2019-07-23 12:06:24.406 UTC [25] LOCATION:  StartupXLOG, xlog.c:6388",
            "2019-07-23 12:06:25.100 UTC [31] ERROR:  42704: unrecognized parameter",
            "2019-07-23 12:06:25.100 UTC [31] LOCATION:  find_option, guc.c:8345",
        ],
        (_at(2019, 7, 23, 12, 6, 24, 406000), "INFO", None, "database system was interrupted"),
        (_at(2019, 7, 23, 12, 6, 25, 100000), None, None, "find_option, guc.c:8345"),
    ),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_a_layout_is_learned_and_reads_its_lines(name: str) -> None:
    lines, first, last = LAYOUTS[name]
    rows = _parse(lines * 3)
    assert all(row["header"] for row in rows)
    for row, expected in ((rows[0], first), (rows[len(lines) - 1], last)):
        assert (row["ts"], row["level"], row["component"], row["message"]) == expected


def test_a_library_format_that_fits_is_kept() -> None:
    lines = [
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
        "081109 203807 222 INFO dfs.DataNode$PacketResponder: Received block blk_-16 of size 9",
        "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap",
    ]
    assert detect_format(lines * 3, BUILTIN_FORMATS).format.name == "hdfs"


def test_a_stamp_that_never_changes_loses_to_one_that_does() -> None:
    lines = [
        f"api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:{second:02d}.008 25746 INFO "
        f"nova.api [req-{second}] GET /servers status: 200"
        for second in range(12)
    ]
    rows = _parse(lines)
    assert rows[3]["ts"] == _at(2017, 5, 16, 0, 0, 3, 8000)
    assert rows[3]["level"] == "INFO"
    # A bracketed field after the component is part of the header, however much it varies.
    assert rows[3]["message"] == "GET /servers status: 200"


def test_free_text_with_no_stamps_learns_nothing() -> None:
    lines = ["the quick brown fox", "jumps over the lazy dog", "and runs away"] * 4
    assert learn_layout(lines) is None


def test_random_ten_digit_numbers_out_of_order_are_no_epochs() -> None:
    lines = [f"order {1_000_000_000 + (n * 7919**3) % 999_999_999} shipped" for n in range(30)]
    assert learn_layout(lines) is None


@pytest.mark.parametrize(
    ("lines", "instant"),
    [
        (  # journalctl -o short-full
            [
                f"Mon 2026-12-07 09:47:{s:02d} UTC host01 systemd[1]: Started Session {s}."
                for s in range(10)
            ],
            _at(2026, 12, 7, 9, 47, 3),
        ),
        (  # journalctl -o short-unix
            [
                f"1796635{s:03d}.123456 host01 sshd[{900 + s}]: Started Session {s}."
                for s in range(10)
            ],
            _at(2026, 12, 7, 9, 16, 43, 123456),
        ),
    ],
)
def test_a_syslog_header_behind_any_stamp(lines: list[str], instant: datetime) -> None:
    row = _parse(lines)[3]
    assert (row["ts"], row["message"]) == (instant, "Started Session 3.")
    assert row["component"] == lines[3].split()[-4].split("[")[0]


SLOW_LOG = [
    "/usr/sbin/mysqld, Version: 8.0.15 (MySQL Community Server - GPL). started with:",
    "Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock",
    *(
        line
        for second in range(6)
        for line in (
            f"# Time: 2024-02-06T07:19:{second:02d}.624334Z",
            "# User@Host: app[app] @ localhost []  Id:    12",
            f"# Query_time: 1.5{second}  Lock_time: 0.000  Rows_sent: 1  Rows_examined: 90000",
            f"SET timestamp=170720394{second};",
            f"SELECT * FROM orders WHERE id = {second};",
        )
    ),
]
APT_HISTORY = [
    line
    for day in range(1, 6)
    for line in (
        "",
        f"Start-Date: 2025-06-{day:02d}  14:36:20",
        "Commandline: apt-get -qqy upgrade",
        "Upgrade: libsystemd0:amd64 (252.36-1, 252.38-1)",
        f"End-Date: 2025-06-{day:02d}  14:36:29",
    )
]


@pytest.mark.parametrize(
    ("lines", "first"),
    [(SLOW_LOG, _at(2024, 2, 6, 7, 19, 0, 624334)), (APT_HISTORY, _at(2025, 6, 1, 14, 36, 20))],
    ids=["slow log", "apt history"],
)
def test_records_of_several_lines_opened_by_a_labelled_stamp(
    lines: list[str], first: datetime
) -> None:
    detection = detect_format(lines, BUILTIN_FORMATS)
    assert detection.format.records
    data = ("\n".join(lines) + "\n").encode()
    summary, events = summarise_block(
        data, Part("a.log", 0, detection.format), CTX, want_events=True
    )
    assert events is not None
    assert summary.entries == 6 if lines is SLOW_LOG else 5
    assert events["ts"][0] == first
    assert "Commandline" in events["message"][0] or "Query_time" in events["message"][0]


def test_labelled_stamps_among_plain_stamped_lines_are_no_records() -> None:
    lines = [f"2024-05-01 00:00:0{s} GET /index.html 200" for s in range(5)]
    lines += ["#Date: 2024-05-01 00:00:00", "Date: 2024-05-01 00:00:05"]
    detection = detect_format(lines, BUILTIN_FORMATS)
    assert not detection.format.records


def test_a_long_sample_is_learned_from_all_its_lines() -> None:
    # The grammar reads the first lines; the others are found with the stamp's own regex,
    # and the prefixes they show (a second container here) are part of the layout.
    lines = [
        f"web-1  | 2024-03-01T10:{n // 60:02d}:{n % 60:02d}Z INFO  hit {n}" for n in range(200)
    ]
    lines += [
        f"db-1   | 2024-03-01T11:{n // 60:02d}:{n % 60:02d}Z WARN  slow {n}" for n in range(200)
    ]
    rows = _parse(lines)
    assert all(row["header"] for row in rows)
    assert rows[-1]["ts"] == _at(2024, 3, 1, 11, 3, 19)
    assert (rows[-1]["level"], rows[-1]["message"]) == ("WARNING", "slow 199")


def test_a_container_runtimes_stream_and_tag_are_no_level() -> None:
    lines = [
        f"2024-01-01T00:00:{n:02d}.123456789Z {'stderr' if n % 3 == 0 else 'stdout'} F hit {n}"
        for n in range(20)
    ]
    rows = _parse(lines)
    assert {row["level"] for row in rows} == {"INFO"}  # F is a full line, not FATAL
    assert not any(row["level_read"] for row in rows)
    assert rows[1]["ts"] == _at(2024, 1, 1, 0, 0, 1, 123456)


def test_an_access_log_behind_a_virtual_host_has_its_status_as_level() -> None:
    lines = [
        f'example.com:80 10.0.0.{n} - - [07/Dec/2026:10:00:{n:02d} +0100] "GET /x/{n} '
        f'HTTP/1.1" {500 if n % 4 == 0 else 200} 12 "-" "curl/8"'
        for n in range(20)
    ]
    # The library's access format reads a host list before the client; a layout learned
    # without it must read the same.
    learned = learn_layout(lines, CTX.reference)
    assert learned is not None
    detected = detect_format(lines, BUILTIN_FORMATS).format
    assert detected.name == "access"
    for fmt in (learned, detected):
        rows = parse_lines(pl.Series(lines), fmt, CTX).to_dicts()
        assert rows[0]["ts"] == _at(2026, 12, 7, 9, 0, 0)
        assert [row["level"] for row in rows[:2]] == ["ERROR", "INFO"]
        assert str(rows[1]["message"]).startswith('"GET /x/1 HTTP/1.1" 200')


def test_codes_of_many_values_after_a_level_stay_in_the_message() -> None:
    # One code per message kind names the message (Apache's AH01374:); only a status of a
    # few values is a field.
    lines = [f"2024-05-01 10:00:{i:02d} ERROR: E{1000 + i}: disk {i} is failing" for i in range(40)]
    rows = _parse(lines)
    assert rows[0]["message"] == "E1000: disk 0 is failing"
    assert rows[39]["message"] == "E1039: disk 39 is failing"
