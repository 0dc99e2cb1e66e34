"""The timestamp grammar: stamps found anywhere in a line, their signatures, read to UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loglens.analysis.stamps import EPOCH, TAI64N, find_stamps, month_first, stamp_regex
from loglens.analysis.timestamps import parse_column

REFERENCE = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

# (line, the stamp's text, its signature, the instant it reads as, in UTC)
CASES = [
    (
        "[2985] 2026/12/07 09:23:47.580017 [INF] Listening",
        "2026/12/07 09:23:47.580017",
        "%Y/%m/%d %H:%M:%S%.f",
        datetime(2026, 12, 7, 9, 23, 47, 580017, tzinfo=UTC),
    ),
    (
        "web-1  | 2024-03-01T10:00:00.250+01:00 GET /health 200",
        "2024-03-01T10:00:00.250+01:00",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        datetime(2024, 3, 1, 9, 0, 0, 250000, tzinfo=UTC),
    ),
    (
        "MainThread::INFO::2011-12-05 07:04:56,101::vdsm::started",
        "2011-12-05 07:04:56,101",
        "%Y-%m-%d %H:%M:%S%,f",
        datetime(2011, 12, 5, 7, 4, 56, 101000, tzinfo=UTC),
    ),
    (
        "[10.30 16:49:06] svc.exe - host:80 open",
        "10.30 16:49:06",
        "%m.%d %H:%M:%S",
        datetime(2026, 10, 30, 16, 49, 6, tzinfo=UTC),
    ),
    (
        "20171223-22:15:29:606|Counter|3001|step 12",
        "20171223-22:15:29:606",
        "%Y%m%d-%H:%M:%S%:f",
        datetime(2017, 12, 23, 22, 15, 29, 606000, tzinfo=UTC),
    ),
    (
        "20120702.102240,672 worker started",
        "20120702.102240,672",
        "%Y%m%d.%H%M%S%,f",
        datetime(2012, 7, 2, 10, 22, 40, 672000, tzinfo=UTC),
    ),
    (
        "2012-025T10:22:40,672 ordinal day",
        "2012-025T10:22:40,672",
        "%Y-%jT%H:%M:%S%,f",
        datetime(2012, 1, 25, 10, 22, 40, 672000, tzinfo=UTC),
    ),
    (
        "07 Dec 2026 09:23:36.176 cache warm",
        "07 Dec 2026 09:23:36.176",
        "%d %B %Y %H:%M:%S%.f",
        datetime(2026, 12, 7, 9, 23, 36, 176000, tzinfo=UTC),
    ),
    (
        "2026-12-07  9:24:05 space-padded hour",
        "2026-12-07  9:24:05",
        "%Y-%m-%d %H:%M:%S",
        datetime(2026, 12, 7, 9, 24, 5, tzinfo=UTC),
    ),
    (
        "Wed May 19 08:00:01 EST 2021 cron done",
        "Wed May 19 08:00:01 EST 2021",
        "%a %B %d %H:%M:%S %Z %Y",
        datetime(2021, 5, 19, 13, 0, 1, tzinfo=UTC),
    ),
    (
        "Mon 2026-12-07 09:47:35 UTC boot",
        "Mon 2026-12-07 09:47:35 UTC",
        "%a %Y-%m-%d %H:%M:%S %Z",
        datetime(2026, 12, 7, 9, 47, 35, tzinfo=UTC),
    ),
    (
        "2024-07-01 01:45:01.123 PDT [123] LOG: checkpoint",
        "2024-07-01 01:45:01.123 PDT",
        "%Y-%m-%d %H:%M:%S%.f %Z",
        datetime(2024, 7, 1, 8, 45, 1, 123000, tzinfo=UTC),
    ),
    (
        "2024-07-01 01:45:01 -0700 request done",
        "2024-07-01 01:45:01 -0700",
        "%Y-%m-%d %H:%M:%S %#z",
        datetime(2024, 7, 1, 8, 45, 1, tzinfo=UTC),
    ),
    (
        "20 août 2020 16:49:00 sauvegarde",
        "20 août 2020 16:49:00",
        "%d %B %Y %H:%M:%S",
        datetime(2020, 8, 20, 16, 49, tzinfo=UTC),
    ),
    (
        "01/02/2020 10:00:00 PM report",
        "01/02/2020 10:00:00 PM",
        "%d/%m/%Y %I:%M:%S %p",
        datetime(2020, 2, 1, 22, 0, tzinfo=UTC),
    ),
    (
        "1796635427: mosquitto version 2.0 running",
        "1796635427",
        EPOCH,
        datetime(2026, 12, 7, 9, 23, 47, tzinfo=UTC),
    ),
    (
        "1697048351.000001 conn open",
        "1697048351.000001",
        EPOCH,
        datetime(2023, 10, 11, 18, 19, 11, 1, tzinfo=UTC),
    ),
    (
        "type=SYSCALL msg=audit(1485893834.891:18877199): arch=c000003e",
        "1485893834.891",
        EPOCH,
        datetime(2017, 1, 31, 20, 17, 14, 891000, tzinfo=UTC),
    ),
    (
        "@4000000068a1b2c3d4e5f607 svscan started",
        "@4000000068a1b2c3d4e5f607",
        TAI64N,
        datetime(2025, 8, 17, 10, 45, 16, 571840, tzinfo=UTC),
    ),
    (
        "10:00:01.5 time of day only",
        "10:00:01.5",
        "%H:%M:%S%.f",
        datetime(2026, 12, 7, 10, 0, 1, 500000, tzinfo=UTC),
    ),
    (
        "98738:M 30 May 12:23:52.442 * saving",
        "30 May 12:23:52.442",
        "%d %B %H:%M:%S%.f",
        datetime(2026, 5, 30, 12, 23, 52, 442000, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(("line", "text", "signature", "instant"), CASES)
def test_a_stamp_is_found_described_and_read(
    line: str, text: str, signature: str, instant: datetime
) -> None:
    found = find_stamps(line)[0]
    assert (found.text, found.signature) == (text, signature)
    assert line[found.start : found.end] == text
    parsed = parse_column(pl.Series([text]), signature, "UTC", REFERENCE)
    assert parsed.to_list() == [instant]
    assert pl.Series([text]).str.contains(f"^(?:{stamp_regex(signature)})$").all()


def test_a_time_of_day_later_than_the_reference_is_the_day_before() -> None:
    parsed = parse_column(pl.Series(["23:59:01"]), "%H:%M:%S", "UTC", REFERENCE)
    assert parsed.to_list() == [datetime(2026, 12, 6, 23, 59, 1, tzinfo=UTC)]


def test_overlapping_stamps_keep_the_earliest_longest_and_later_ones_are_found() -> None:
    line = "Feb  8 04:00:48 10.0.0.2 585917: Feb  8 04:00:47.272: %SEC-6-LOG: denied"
    found = find_stamps(line)
    assert [item.text for item in found] == ["Feb  8 04:00:48", "Feb  8 04:00:47.272"]


def test_numbers_that_are_no_stamps_are_not_found() -> None:
    assert find_stamps("job 42 took 12.5 s, version 1.2.3, port 8080, id 0042") == []
    # A year out of range is no date, and no month-day either: only the time of day is left.
    found = find_stamps("card 9999999999 and year 1850-01-01 10:00:00")
    assert [item.signature for item in found] == ["%H:%M:%S"]


def test_the_month_first_reading_of_a_day_first_signature() -> None:
    assert month_first("%d/%m/%Y %H:%M:%S") == "%m/%d/%Y %H:%M:%S"


def test_glued_numbers_have_fixed_widths_in_the_regex() -> None:
    regex = stamp_regex("%Y%m%d %H%M%S")
    assert pl.Series(["20240102 030405"]).str.contains(f"^(?:{regex})$").all()
    assert not pl.Series(["2024012 030405"]).str.contains(f"^(?:{regex})$").any()
