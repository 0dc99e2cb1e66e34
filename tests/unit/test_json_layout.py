"""Learned JSON layouts: each shape of JSON log gets its timestamp, level, component, message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from loglens.analysis.formats import BUILTIN_FORMATS, JSON_LINES, LOGFMT
from loglens.analysis.json_layout import (
    LEVEL_SCALE,
    TS_NANOS,
    json_path,
    learn_json_format,
    learn_json_paths,
    path_keys,
)
from loglens.analysis.parse import ParseContext, detect_format, parse_lines

CTX = ParseContext(tz="UTC", reference=datetime(2024, 6, 1, tzinfo=UTC))

# Hand-written lines in the shape each logger writes.
SHAPES: dict[str, list[dict[str, object]]] = {
    "journald": [
        {
            "__CURSOR": "s=1a;i=1",
            "__REALTIME_TIMESTAMP": "1700000000123456",
            "__MONOTONIC_TIMESTAMP": "3500000000",
            "PRIORITY": "6",
            "SYSLOG_FACILITY": "3",
            "SYSLOG_IDENTIFIER": "sshd",
            "_COMM": "sshd",
            "_PID": "812",
            "MESSAGE": "Accepted publickey for alice",
        },
        {
            "__CURSOR": "s=1a;i=2",
            "__REALTIME_TIMESTAMP": "1700000001000001",
            "__MONOTONIC_TIMESTAMP": "3501000000",
            "PRIORITY": "3",
            "SYSLOG_FACILITY": "0",
            "_COMM": "kernel",
            "MESSAGE": "sda: I/O error",
        },
        {
            "__CURSOR": "s=1a;i=3",
            "__REALTIME_TIMESTAMP": "1700000002000002",
            "__MONOTONIC_TIMESTAMP": "3502000000",
            "PRIORITY": "4",
            "SYSLOG_FACILITY": "9",
            "SYSLOG_IDENTIFIER": "cron",
            "_COMM": "cron",
            "MESSAGE": "job ran late",
        },
    ],
    "mongodb": [
        {
            "t": {"$date": "2020-05-20T19:18:40.604+00:00"},
            "s": "I",
            "c": "NETWORK",
            "id": 4648601,
            "ctx": "main",
            "msg": "TCP FastOpen unavailable",
        },
        {
            "t": {"$date": "2020-05-20T21:18:41.001+02:00"},
            "s": "W",
            "c": "STORAGE",
            "id": 22,
            "ctx": "initandlisten",
            "msg": "Journal is slow",
            "attr": {"ms": 120},
        },
        {
            "t": {"$date": "2020-05-20T19:18:42.500+00:00"},
            "s": "D2",
            "c": "COMMAND",
            "id": 51803,
            "ctx": "conn7",
            "msg": "Slow query",
        },
    ],
    "otlp": [
        {
            "timeUnixNano": "1700000000123456789",
            "observedTimeUnixNano": "1700000000200000000",
            "severityNumber": 9,
            "severityText": "INFO",
            "body": {"stringValue": "user logged in"},
            "traceId": "5b8efff798038103d269b633813fc60c",
        },
        {
            "timeUnixNano": "1700000001000000999",
            "observedTimeUnixNano": "1700000001200000000",
            "severityNumber": 17,
            "severityText": "ERROR",
            "body": {"stringValue": "payment failed"},
            "traceId": "5b8efff798038103d269b633813fc60d",
        },
    ],
    "otlp-numbers": [
        {"timeUnixNano": 1700000000123456789, "severityNumber": 9, "body": "user logged in"},
        {"timeUnixNano": 1700000001000000999, "severityNumber": 13, "body": "cache is slow"},
        {"timeUnixNano": 1700000002000000000, "severityNumber": 5, "body": "cache hit"},
    ],
    "pino": [
        {
            "level": 30,
            "time": 1700000000123,
            "pid": 42,
            "hostname": "web1",
            "name": "api",
            "msg": "done",
        },
        {
            "level": 50,
            "time": 1700000000456,
            "pid": 42,
            "hostname": "web1",
            "name": "api",
            "msg": "refused",
        },
        {
            "level": 40,
            "time": 1700000000789,
            "pid": 42,
            "hostname": "web1",
            "name": "api",
            "msg": "slow",
        },
    ],
    "log4j2": [
        {
            "instant": {"epochSecond": 1700000000, "nanoOfSecond": 123456789},
            "thread": "main",
            "level": "INFO",
            "loggerName": "com.example.App",
            "message": "Started",
            "endOfBatch": False,
            "threadId": 1,
            "threadPriority": 5,
        },
        {
            "instant": {"epochSecond": 1700000001, "nanoOfSecond": 5000},
            "thread": "worker-1",
            "level": "WARN",
            "loggerName": "com.example.Job",
            "message": "Retrying",
            "endOfBatch": False,
            "threadId": 12,
            "threadPriority": 5,
        },
    ],
    "es-audit": [
        {
            "@timestamp": "2021-03-04T05:06:07,890",
            "event.type": "transport",
            "event.action": "access_granted",
            "user.name": "kibana",
            "origin.address": "10.1.2.3:9300",
        },
        {
            "@timestamp": "2021-03-04T05:06:08,001",
            "event.type": "rest",
            "event.action": "authentication_failed",
            "user.name": "bob",
            "url.path": "/_search",
        },
    ],
    "logstash": [
        {
            "@timestamp": "2024-01-30T12:00:00.000Z",
            "@source_host": "web1",
            "@message": "connection reset",
            "@fields": {"level": "ERROR", "logger": "org.app.Net", "thread": "io-1"},
        },
        {
            "@timestamp": "2024-01-30T12:00:01.000Z",
            "@source_host": "web1",
            "@message": "connected",
            "@fields": {"level": "INFO", "logger": "org.app.Net", "thread": "io-1"},
        },
    ],
    "ecs-flat": [
        {"@timestamp": "2024-01-30T12:00:00.000Z", "log.level": "warn", "message": "disk 91%"},
        {"@timestamp": "2024-01-30T12:00:01.000Z", "log.level": "info", "message": "disk ok"},
    ],
    "cloudflare": [
        {
            "ClientIP": "192.0.2.1",
            "EdgeStartTimestamp": 1700000000123456789,
            "EdgeEndTimestamp": 1700000000223456789,
            "EdgeResponseStatus": 200,
        },
        {
            "ClientIP": "192.0.2.2",
            "EdgeStartTimestamp": 1700000001123456789,
            "EdgeEndTimestamp": 1700000001223456789,
            "EdgeResponseStatus": 503,
        },
    ],
    "gcp": [
        {
            "severity": "ERROR",
            "textPayload": "crash in handler",
            "timestamp": "2024-01-30T12:00:00Z",
        },
        {
            "severity": "INFO",
            "jsonPayload": {"message": "served /health"},
            "timestamp": "2024-01-30T12:00:01Z",
        },
    ],
    "docker": [
        {"log": "GET / 200\n", "stream": "stdout", "time": "2024-01-30T12:00:00.123456789Z"},
        {"log": "db down\n", "stream": "stderr", "time": "2024-01-30T12:00:01.5Z"},
    ],
    "bunyan": [
        {"name": "app", "pid": 1, "level": 30, "msg": "up", "time": "2024-01-30T12:00:00.123Z"},
        {"name": "app", "pid": 1, "level": 60, "msg": "dying", "time": "2024-01-30T12:00:01.123Z"},
    ],
    "created-at": [
        {"created_at": "2024-01-30 12:00:00", "user": "ann", "text": "quota near its limit"},
        {"created_at": "2024-01-30 12:00:03", "user": "bob", "text": "quota reset"},
    ],
}


def _lines(shape: str) -> list[str]:
    return [json.dumps(obj) for obj in SHAPES[shape]]


def _rows(shape: str) -> list[dict[str, object]]:
    lines = _lines(shape)
    fmt = learn_json_format(lines, JSON_LINES)
    return parse_lines(pl.Series(lines), fmt, CTX).to_dicts()


def _column(rows: list[dict[str, object]], name: str) -> list[object]:
    return [row[name] for row in rows]


def test_journald_reads_microsecond_epochs_and_syslog_priorities() -> None:
    rows = _rows("journald")
    assert _column(rows, "ts") == [
        datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 21, 1, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 22, 2, tzinfo=UTC),
    ]
    assert _column(rows, "level") == ["INFO", "ERROR", "WARNING"]
    assert _column(rows, "component") == ["sshd", "kernel", "cron"]
    assert _column(rows, "message") == [
        "Accepted publickey for alice",
        "sda: I/O error",
        "job ran late",
    ]
    assert (LEVEL_SCALE, "syslog") in learn_json_paths(_lines("journald"))


def test_mongodb_reads_a_nested_date_and_one_letter_severities() -> None:
    rows = _rows("mongodb")
    assert _column(rows, "ts") == [
        datetime(2020, 5, 20, 19, 18, 40, 604000, tzinfo=UTC),
        datetime(2020, 5, 20, 19, 18, 41, 1000, tzinfo=UTC),
        datetime(2020, 5, 20, 19, 18, 42, 500000, tzinfo=UTC),
    ]
    assert _column(rows, "level") == ["INFO", "WARNING", "DEBUG"]
    assert _column(rows, "component") == ["NETWORK", "STORAGE", "COMMAND"]
    assert _column(rows, "message") == ["TCP FastOpen unavailable", "Journal is slow", "Slow query"]
    assert learn_json_paths(_lines("mongodb")) == (
        ("ts", "$['t']['$date']"),
        ("level", "$['s']"),
        ("component", "$['c']"),
        ("message", "$['msg']"),
    )


def test_otlp_reads_nanosecond_epochs_to_the_exact_microsecond() -> None:
    rows = _rows("otlp")
    assert _column(rows, "ts") == [
        datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 21, 0, tzinfo=UTC),
    ]
    assert _column(rows, "level") == ["INFO", "ERROR"]
    assert _column(rows, "message") == ["user logged in", "payment failed"]


def test_otlp_severity_numbers_are_read_on_their_own_scale() -> None:
    rows = _rows("otlp-numbers")
    assert _column(rows, "level") == ["INFO", "WARNING", "DEBUG"]
    assert _column(rows, "ts")[0] == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert _column(rows, "message") == ["user logged in", "cache is slow", "cache hit"]
    assert (LEVEL_SCALE, "otlp") in learn_json_paths(_lines("otlp-numbers"))


def test_pino_reads_millisecond_epochs_and_levels_by_tens() -> None:
    rows = _rows("pino")
    assert _column(rows, "ts") == [
        datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 20, 456000, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 20, 789000, tzinfo=UTC),
    ]
    assert _column(rows, "level") == ["INFO", "ERROR", "WARNING"]
    assert _column(rows, "component") == ["api", "api", "api"]
    assert _column(rows, "message") == ["done", "refused", "slow"]
    assert (LEVEL_SCALE, "bunyan") in learn_json_paths(_lines("pino"))


def test_bunyan_reads_iso_time_and_level_sixty_as_critical() -> None:
    rows = _rows("bunyan")
    assert _column(rows, "ts") == [
        datetime(2024, 1, 30, 12, 0, 0, 123000, tzinfo=UTC),
        datetime(2024, 1, 30, 12, 0, 1, 123000, tzinfo=UTC),
    ]
    assert _column(rows, "level") == ["INFO", "CRITICAL"]


def test_log4j2_joins_epoch_seconds_and_their_nanoseconds() -> None:
    rows = _rows("log4j2")
    assert _column(rows, "ts") == [
        datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 21, 5, tzinfo=UTC),
    ]
    # threadPriority is a number under a level-like name; the level words come first.
    assert _column(rows, "level") == ["INFO", "WARNING"]
    assert _column(rows, "component") == ["com.example.App", "com.example.Job"]
    assert _column(rows, "message") == ["Started", "Retrying"]
    assert (TS_NANOS, "$['instant']['nanoOfSecond']") in learn_json_paths(_lines("log4j2"))


def test_es_audit_reads_a_decimal_comma_and_keeps_the_whole_line_as_message() -> None:
    rows = _rows("es-audit")
    assert _column(rows, "ts") == [
        datetime(2021, 3, 4, 5, 6, 7, 890000, tzinfo=UTC),
        datetime(2021, 3, 4, 5, 6, 8, 1000, tzinfo=UTC),
    ]
    # No leaf reads like free text (no spaces): the message is the whole object.
    assert _column(rows, "message") == _lines("es-audit")


def test_nested_keys_with_at_signs_are_read() -> None:
    rows = _rows("logstash")
    assert _column(rows, "level") == ["ERROR", "INFO"]
    assert _column(rows, "component") == ["org.app.Net", "org.app.Net"]
    assert _column(rows, "message") == ["connection reset", "connected"]
    assert ("level", "$['@fields']['level']") in learn_json_paths(_lines("logstash"))


def test_keys_with_dots_are_single_keys() -> None:
    rows = _rows("ecs-flat")
    assert _column(rows, "level") == ["WARNING", "INFO"]
    assert ("level", "$['log.level']") in learn_json_paths(_lines("ecs-flat"))


def test_cloudflare_takes_the_start_of_the_request() -> None:
    rows = _rows("cloudflare")
    assert _column(rows, "ts") == [
        datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 21, 123456, tzinfo=UTC),
    ]


def test_gcp_messages_come_from_either_payload() -> None:
    rows = _rows("gcp")
    assert _column(rows, "level") == ["ERROR", "INFO"]
    assert _column(rows, "message") == ["crash in handler", "served /health"]


def test_docker_json_file_strips_the_line_end_of_the_log() -> None:
    rows = _rows("docker")
    assert _column(rows, "ts") == [
        datetime(2024, 1, 30, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 1, 30, 12, 0, 1, 500000, tzinfo=UTC),
    ]
    assert _column(rows, "message") == ["GET / 200", "db down"]


def test_created_at_is_a_timestamp() -> None:
    rows = _rows("created-at")
    assert _column(rows, "ts") == [
        datetime(2024, 1, 30, 12, 0, 0, tzinfo=UTC),
        datetime(2024, 1, 30, 12, 0, 3, tzinfo=UTC),
    ]
    assert _column(rows, "message") == ["quota near its limit", "quota reset"]


def test_a_file_mixing_two_layouts_reads_both() -> None:
    lines = [
        '{"@timestamp": "2021-02-10T14:24:38,466", "event.action": "login"}',
        '{"timestamp": "2021-02-10T14:24:39.000Z", "level": "WARN", "message": "heap at 90%"}',
    ]
    fmt = learn_json_format(lines, JSON_LINES)
    rows = parse_lines(pl.Series(lines), fmt, CTX).to_dicts()
    assert _column(rows, "ts") == [
        datetime(2021, 2, 10, 14, 24, 38, 466000, tzinfo=UTC),
        datetime(2021, 2, 10, 14, 24, 39, tzinfo=UTC),
    ]
    assert rows[1]["level"] == "WARNING"
    assert rows[1]["message"] == "heap at 90%"


def test_unknown_keys_are_found_by_their_values() -> None:
    lines = [
        '{"stamp": "2024-01-30T12:00:00Z", "gravity": "warning", "details": "disk at 91% on /"}',
        '{"stamp": "2024-01-30T12:00:05Z", "gravity": "info", "details": "backup started"}',
        '{"stamp": "2024-01-30T12:00:09Z", "gravity": "error", "details": "backup failed"}',
    ]
    fmt = learn_json_format(lines, JSON_LINES)
    assert fmt.learned
    rows = parse_lines(pl.Series(lines), fmt, CTX).to_dicts()
    assert rows[0]["ts"] == datetime(2024, 1, 30, 12, 0, 0, tzinfo=UTC)
    assert _column(rows, "level") == ["WARNING", "INFO", "ERROR"]
    assert _column(rows, "message") == ["disk at 91% on /", "backup started", "backup failed"]


def test_a_file_without_timestamps_has_no_ts() -> None:
    lines = [
        '{"level": "info", "msg": "counted", "time": "soon", "id": 1234567890}',
        '{"level": "warn", "msg": "counted again", "time": "later", "id": 3034567890}',
        '{"level": "info", "msg": "counted twice", "time": "never", "id": 1034567890}',
    ]
    paths = learn_json_paths(lines)
    assert "ts" not in dict(paths)
    rows = parse_lines(pl.Series(lines), learn_json_format(lines, JSON_LINES), CTX).to_dicts()
    assert _column(rows, "ts") == [None, None, None]
    assert _column(rows, "level") == ["INFO", "WARNING", "INFO"]


def test_without_learned_paths_the_built_in_keys_are_read() -> None:
    lines = ['{"time": "2024-01-30T12:00:00Z", "severity": "error", "message": "boom"}']
    assert JSON_LINES.json_paths == ()
    row = parse_lines(pl.Series(lines), JSON_LINES, CTX).to_dicts()[0]
    assert row["ts"] == datetime(2024, 1, 30, 12, tzinfo=UTC)
    assert row["level"] == "ERROR"
    assert row["message"] == "boom"


def test_nothing_learned_leaves_the_format_as_it_was() -> None:
    assert learn_json_format(['{"a": [1, 2]}', "not json"], JSON_LINES) is JSON_LINES
    assert learn_json_format(_lines("journald"), LOGFMT) is LOGFMT


def test_a_damaged_object_is_salvaged_with_the_learned_keys() -> None:
    lines = [
        *_lines("mongodb"),
        r'{"t":{"$date":"2020-05-20T19:18:43.000Z"},"s":"E","msg":"bad \x"}',
    ]
    fmt = learn_json_format(lines, JSON_LINES)
    row = parse_lines(pl.Series(lines), fmt, CTX).to_dicts()[-1]
    assert row["ts"] == datetime(2020, 5, 20, 19, 18, 43, tzinfo=UTC)
    assert row["level"] == "ERROR"
    assert row["message"] == r"bad \x"


@pytest.mark.parametrize(
    "keys", [("t", "$date"), ("@fields", "level"), ("log.level",), ("it's",), ("a]b", "[c")]
)
def test_paths_read_keys_with_special_characters(keys: tuple[str, ...]) -> None:
    obj: object = "found"
    for key in reversed(keys):
        obj = {key: obj}
    path = json_path(keys)
    assert path_keys(path) == keys
    assert pl.Series([json.dumps(obj)]).str.json_path_match(path).to_list() == ["found"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_detection_picks_json_with_the_learned_paths(shape: str) -> None:
    detection = detect_format(_lines(shape) * 3, BUILTIN_FORMATS)
    assert detection.format.name == "json"
    assert detection.format.learned
    assert detection.format.json_paths == learn_json_paths(_lines(shape))
