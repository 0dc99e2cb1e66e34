"""The text report's format lines: shares of what was understood, and one warning a file."""

from __future__ import annotations

from typing import Any

import pytest

from loglens.analysis.report import render_text

LAYOUT = "Java log4j/logback: ts LEVEL [thread] logger: message"


def report_with(**item: Any) -> dict[str, Any]:
    """The smallest report render_text prints, with one formats item."""
    base = {
        "file": "app.log",
        "format": "log4j",
        "confidence": 1.0,
        "timestamps": 1.0,
        "levels": 0.99,
        "layout": LAYOUT,
        "expects_levels": True,
        "lines": 360,
        "entries": 267,
        "bytes": 1000,
    }
    return {
        "levels": {},
        "top_errors": [],
        "first_timestamp": None,
        "last_timestamp": None,
        "entries": 0,
        "lines": 0,
        "continuation_lines": 0,
        "templates": 0,
        "templates_approximate": False,
        "untimed_entries": 0,
        "rejected": {},
        "rejected_samples": {},
        "repaired": {},
        "filtered": {},
        "formats": [{**base, **item}],
    }


def format_lines(report: dict[str, Any]) -> list[str]:
    lines = render_text(report).splitlines()
    return lines[lines.index("Formats:") + 1 :]


def test_a_well_read_file_gets_its_shares_and_no_warning() -> None:
    assert format_lines(report_with()) == [
        "  - app.log: log4j, 360 lines, 267 entries; timestamps 100%, levels 99%"
    ]


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"timestamps": 0.0}, "no timestamps could be read"),
        ({"timestamps": 0.3}, "timestamps of only 30% of entries could be read"),
        ({"levels": 0.0}, "no levels could be read"),
        ({"timestamps": 0.0, "levels": 0.0}, "no timestamps and no levels could be read"),
    ],
)
def test_a_badly_read_file_gets_one_warning_line(item: dict[str, Any], problem: str) -> None:
    shown = format_lines(report_with(**item))
    assert len(shown) == 2
    assert shown[1] == (
        f"  ! app.log: {problem} (layout: {LAYOUT}); "
        "try --explain-format app.log or a FORMATS_FILE entry"
    )


def test_no_level_warning_for_a_format_without_levels_nor_for_no_entries() -> None:
    assert len(format_lines(report_with(levels=0.0, expects_levels=False))) == 1
    assert len(format_lines(report_with(timestamps=0.0, levels=0.0, entries=0))) == 1
    assert len(format_lines(report_with(timestamps=0.5))) == 1  # half is enough


def test_shares_round_down_so_that_100_and_0_percent_mean_all_and_none() -> None:
    line = format_lines(report_with(timestamps=0.999, levels=0.004))[0]
    assert line.endswith("; timestamps 99%, levels <1%")


def test_stats_over_several_files_and_old_reports_without_shares() -> None:
    several = format_lines(report_with(file="3 files", files=3, timestamps=0.0))
    assert several[1].endswith("try --explain-format on each or a FORMATS_FILE entry")
    # A report stored before the shares were counted: the line as it was, no warning.
    old = report_with(timestamps=None, levels=None, layout=None, expects_levels=None)
    assert format_lines(old) == ["  - app.log: log4j, 360 lines, 267 entries"]


def test_a_file_name_with_a_space_is_quoted_for_the_shell() -> None:
    shown = format_lines(report_with(file="my app.log", timestamps=0.0))
    assert "try --explain-format 'my app.log' or" in shown[1]


def test_directive_lines_are_shown_when_there_are_some() -> None:
    text = render_text({**report_with(), "directive_lines": 1234}).splitlines()
    assert "Directive and comment lines: 1,234" in text
    assert text.index("Directive and comment lines: 1,234") < text.index("Rejected lines: 0")
    # None, or a report stored before they were counted: no line.
    for report in ({**report_with(), "directive_lines": 0}, report_with()):
        assert not any(line.startswith("Directive") for line in render_text(report).splitlines())
