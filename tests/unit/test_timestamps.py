"""Timestamp shapes, zones, DST and year-less stamps, normalised to UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loglens.analysis.stamps import EPOCH
from loglens.analysis.timestamps import (
    FMT_BGL,
    FMT_CLF,
    FMT_CTIME,
    FMT_SYSLOG,
    FMT_YMD_SLASH,
    FMT_YY_SLASH,
    FMT_YYMMDD,
    ISO8601,
    YEAR_OPTIONAL,
    parse_column,
    to_utc,
)

REFERENCE = datetime(2024, 1, 10, 12, tzinfo=UTC)


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def _parse(texts: list[str], ts_format: str | None, tz: str = "UTC") -> list[datetime | None]:
    frame = pl.DataFrame({"ts": texts}, schema={"ts": pl.String})
    return frame.select(to_utc(pl.col("ts"), ts_format, tz, REFERENCE)).to_series().to_list()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-30T12:00:00Z", _utc(2024, 1, 30, 12)),
        ("2024-01-30 12:00:00", _utc(2024, 1, 30, 12)),
        ("2024-01-30T12:00:00.123Z", _utc(2024, 1, 30, 12, 0, 0, 123000)),
        ("2024-01-30 12:00:00,5", _utc(2024, 1, 30, 12, 0, 0, 500000)),
        ("2024-01-30T12:00:00.123456789+02:00", _utc(2024, 1, 30, 10, 0, 0, 123456)),
        ("2024-01-30T12:00:00-0530", _utc(2024, 1, 30, 17, 30)),
        ("2024-01-30T12:00:00+01", _utc(2024, 1, 30, 11)),
        ("not a time", None),
    ],
)
def test_iso8601(text: str, expected: datetime | None) -> None:
    assert _parse([text], ISO8601) == [expected]


@pytest.mark.parametrize(
    ("text", "ts_format", "expected"),
    [
        ("Sun Dec 04 04:47:44 2005", FMT_CTIME, _utc(2005, 12, 4, 4, 47, 44)),
        ("Wed Oct 11 14:32:52.123456 2000", FMT_CTIME, _utc(2000, 10, 11, 14, 32, 52, 123456)),
        ("10/Oct/2000:13:55:36 -0700", FMT_CLF, _utc(2000, 10, 10, 20, 55, 36)),
        ("081109 203615", FMT_YYMMDD, _utc(2008, 11, 9, 20, 36, 15)),
        ("17/06/09 20:10:40", FMT_YY_SLASH, _utc(2017, 6, 9, 20, 10, 40)),
        ("2005-06-03-15.42.50.675872", FMT_BGL, _utc(2005, 6, 3, 15, 42, 50, 675872)),
        ("2024/01/30 12:00:00", FMT_YMD_SLASH, _utc(2024, 1, 30, 12)),
        ("1117838570", EPOCH, _utc(2005, 6, 3, 22, 42, 50)),
        ("1706616000.25", EPOCH, _utc(2024, 1, 30, 12, 0, 0, 250000)),
        ("1706616000123", EPOCH, _utc(2024, 1, 30, 12, 0, 0, 123000)),
        ("1706616000123456", EPOCH, _utc(2024, 1, 30, 12, 0, 0, 123456)),
    ],
)
def test_known_shapes(text: str, ts_format: str, expected: datetime) -> None:
    assert _parse([text], ts_format) == [expected]


def test_any_known_shape_when_no_format_is_given() -> None:
    texts = ["2024-01-30T12:00:00Z", "Sun Dec 04 04:47:44 2005", "1706616000", "garbage"]
    assert _parse(texts, None) == [
        _utc(2024, 1, 30, 12),
        _utc(2005, 12, 4, 4, 47, 44),
        _utc(2024, 1, 30, 12),
        None,
    ]


def test_syslog_stamps_take_the_reference_year_or_the_one_before() -> None:
    # Reference 2024-01-10 12:00 UTC: anything more than a day later belongs to 2023.
    texts = ["Jan 10 11:00:00", "Jan 11 11:59:59", "Jan 11 12:00:01", "Dec 31 23:59:59"]
    assert _parse(texts, FMT_SYSLOG) == [
        _utc(2024, 1, 10, 11),
        _utc(2024, 1, 11, 11, 59, 59),
        _utc(2023, 1, 11, 12, 0, 1),
        _utc(2023, 12, 31, 23, 59, 59),
    ]


def test_syslog_stamps_with_space_padded_day() -> None:
    assert _parse(["Jan  2 03:04:05"], FMT_SYSLOG) == [_utc(2024, 1, 2, 3, 4, 5)]


def test_zone_less_stamps_are_wall_time_in_the_zone() -> None:
    assert _parse(["2024-01-30 12:00:00"], ISO8601, "Europe/Berlin") == [_utc(2024, 1, 30, 11)]
    assert _parse(["2024-07-30 12:00:00"], ISO8601, "Europe/Berlin") == [_utc(2024, 7, 30, 10)]
    # An explicit offset wins over the zone.
    assert _parse(["2024-01-30 12:00:00Z"], ISO8601, "Europe/Berlin") == [_utc(2024, 1, 30, 12)]


def test_dst_gap_and_overlap_do_not_crash() -> None:
    # 02:30 on 2024-03-31 does not exist in Berlin; 02:30 on 2024-10-27 happens twice.
    gap, overlap = _parse(["2024-03-31 02:30:00", "2024-10-27 02:30:00"], ISO8601, "Europe/Berlin")
    assert gap == _utc(2024, 3, 31, 1, 30)
    assert overlap == _utc(2024, 10, 27, 0, 30)


def test_parse_column_fast_path_agrees_with_the_general_path() -> None:
    texts = pl.Series(["2024-01-30 12:00:00,123", "2024-03-31 02:30:00,000", None, "x" * 23])
    fast = parse_column(texts, ISO8601, "Europe/Berlin", REFERENCE)
    general = texts.to_frame("ts").select(to_utc(pl.col("ts"), ISO8601, "Europe/Berlin", REFERENCE))
    assert fast.to_list() == general.to_series().to_list()
    assert fast.to_list()[:3] == [
        _utc(2024, 1, 30, 11, 0, 0, 123000),
        _utc(2024, 3, 31, 1, 30),
        None,
    ]


def test_parse_column_with_mixed_iso_shapes() -> None:
    texts = pl.Series(["2024-01-30T12:00:00Z", "2024-01-30 12:00:00.5+01:00"])
    assert parse_column(texts, ISO8601, "UTC", REFERENCE).to_list() == [
        _utc(2024, 1, 30, 12),
        _utc(2024, 1, 30, 11, 0, 0, 500000),
    ]


def test_parse_column_year_less_stamps_with_and_without_last_year() -> None:
    this_year = pl.Series(["Jan  2 03:04:05", "Jan 10 00:00:00"])
    assert parse_column(this_year, FMT_SYSLOG, "UTC", REFERENCE).to_list() == [
        _utc(2024, 1, 2, 3, 4, 5),
        _utc(2024, 1, 10),
    ]
    mixed = pl.Series(["Dec 31 23:00:00", "Jan  2 03:04:05", None])
    assert parse_column(mixed, FMT_SYSLOG, "UTC", REFERENCE).to_list() == [
        _utc(2023, 12, 31, 23),
        _utc(2024, 1, 2, 3, 4, 5),
        None,
    ]


def test_a_year_some_stamps_write_and_others_leave_out() -> None:
    texts = ["07 Dec 2023 13:59:03.629", "31 Dec 23:59:59", "05 Jan 04:32:08.5", "5 Jan"]
    ts_format = f"%d %b {YEAR_OPTIONAL} %H:%M:%S%.f"
    expected = [
        _utc(2023, 12, 7, 13, 59, 3, 629000),
        _utc(2023, 12, 31, 23, 59, 59),  # more than a day after the reference: last year
        _utc(2024, 1, 5, 4, 32, 8, 500000),
        None,
    ]
    assert _parse(texts, ts_format) == expected
    assert parse_column(pl.Series(texts), ts_format, "UTC", REFERENCE).to_list() == expected
