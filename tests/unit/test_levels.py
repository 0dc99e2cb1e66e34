"""Level spellings, syslog PRI, HTTP status and keyword inference."""

from __future__ import annotations

import polars as pl
import pytest

from loglens.analysis.levels import (
    LEVEL_SPELLINGS,
    LEVELS,
    infer_levels,
    level_from_http_status,
    level_from_syslog_pri,
    normalize_level,
    normalize_levels,
)


def _apply(expr: pl.Expr, values: list[str | None]) -> list[str | None]:
    return pl.DataFrame({"x": values}, schema={"x": pl.String}).select(expr).to_series().to_list()


@pytest.mark.parametrize(
    ("spelling", "level"),
    [
        ("TRACE", "TRACE"),
        ("finest", "TRACE"),
        ("Verbose", "TRACE"),
        ("trace3", "TRACE"),
        ("DBG", "DEBUG"),
        ("fine", "DEBUG"),
        ("debug", "DEBUG"),
        ("INF", "INFO"),
        ("Information", "INFO"),
        ("notice", "NOTICE"),
        ("W", "WARNING"),
        ("WARN", "WARNING"),
        ("WRN", "WARNING"),
        ("warning", "WARNING"),
        ("E", "ERROR"),
        ("ERR", "ERROR"),
        ("err", "ERROR"),
        ("SEVERE", "ERROR"),
        ("error", "ERROR"),
        ("FATAL", "CRITICAL"),
        ("crit", "CRITICAL"),
        ("alert", "CRITICAL"),
        ("emerg", "CRITICAL"),
        ("panic", "CRITICAL"),
        ("[Warn]", "WARNING"),
        ("<error>", "ERROR"),
        ("ERROR:", "ERROR"),
        ("3", "ERROR"),
        ("30", "INFO"),
        ("banana", None),
    ],
)
def test_spellings(spelling: str, level: str | None) -> None:
    assert _apply(normalize_level(pl.col("x")), [spelling]) == [level]
    assert normalize_levels(pl.Series([spelling])).to_list() == [level]


def test_every_spelling_maps_to_a_level() -> None:
    assert set(LEVEL_SPELLINGS.values()) == set(LEVELS)


def test_syslog_pri_severities() -> None:
    pris = [str(8 * 4 + severity) for severity in range(8)] + ["x", None]
    assert _apply(level_from_syslog_pri(pl.col("x")), pris) == [
        "CRITICAL",
        "CRITICAL",
        "CRITICAL",
        "ERROR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG",
        None,
        None,
    ]


def test_http_status_classes() -> None:
    statuses = ["200", "304", "404", "503", "-", None]
    assert _apply(level_from_http_status(pl.col("x")), statuses) == [
        "INFO",
        "INFO",
        "WARNING",
        "ERROR",
        None,
        None,
    ]


def test_inference_takes_the_most_severe_keyword() -> None:
    messages = [
        "session opened for user root",
        "Failed password for root",
        "authentication FAILURE; rhost=1.2.3.4",
        "Connection refused",
        "warning: connection refused",
        "WARNING: deprecated option",
        "kernel panic - not syncing",
        "Invalid user admin",
        "upstream timed out",
    ]
    assert infer_levels(pl.Series(messages)).to_list() == [
        "INFO",
        "ERROR",
        "ERROR",
        "ERROR",
        "ERROR",
        "WARNING",
        "CRITICAL",
        "WARNING",
        "WARNING",
    ]


def test_inference_without_any_keyword_is_info() -> None:
    assert infer_levels(pl.Series(["a", "b"])).to_list() == ["INFO", "INFO"]
