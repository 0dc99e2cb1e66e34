"""Level spellings, syslog PRI, HTTP status and keyword inference."""

from __future__ import annotations

import polars as pl
import pytest

from loglens.analysis.levels import (
    LEVEL_SPELLINGS,
    LEVEL_WORD,
    LEVEL_WORD_STRICT,
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
        ("DEBUG2", "DEBUG"),
        ("debug5", "DEBUG"),
        ("DEBUG6", None),
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


@pytest.mark.parametrize(
    "message",
    [
        "error",
        "Error: disk full",
        "ERROR",
        "request ended (error)",
        "[error] client closed",
        "error, retrying",
        "write error.",
        "job errored",
        "failed",
        "authentication failure",
        "check fails",
        "transaction aborted",
        "Connection refused",
        "Permission denied",
        "unhandled exception in worker",
        "NullPointerException",
        "at java.io.IOException: broken pipe",
        "ValueError: bad literal",
        "raised java.lang.Exception",
        "unable to open /var/log/app.log",
        "can't connect",
    ],
)
def test_inference_finds_whole_error_words(message: str) -> None:
    assert infer_levels(pl.Series([message])).to_list() == ["ERROR"]


@pytest.mark.parametrize(
    "message",
    [
        "status half-configured liberror-perl:all 0.17029-1",
        "rotated error_log",
        "compiling error.c",
        "open /var/log/error.log",
        "terrorist",
        "errorless run",
        "MyErrorHandler registered",
        "foo.error(x)",
        "status: NOERROR",
        "failover complete",
        "0 errors",
        "3 warnings",
        "no errors",
        "without failures",
        "no error",
        "non-fatal",
        "not failed",
        "10 passed, 0 failed",
        "zero exceptions, zero failure",
    ],
)
def test_inference_ignores_names_counts_and_negations(message: str) -> None:
    assert infer_levels(pl.Series([message])).to_list() == ["INFO"]


def test_negation_drops_only_the_keyword_right_after_it() -> None:
    messages = ["no error, then Error: x", "0 failed, 1 error", "not a failure", "no  error"]
    assert infer_levels(pl.Series(messages)).to_list() == ["ERROR", "ERROR", "ERROR", "INFO"]


def test_inference_ranks_whole_words_and_class_names() -> None:
    messages = [
        "fatal: not a git repository",
        "thread 'main' panicked at src/main.rs:2:5",
        "emergency: disk on fire; error writing",
        "DeprecationWarning: use spam instead",
        "warning: ValueError ignored",
        "fatal error in liberror-perl",
        "deprecated option in error.conf",
        "timeout.c: connect timeout",
    ]
    assert infer_levels(pl.Series(messages)).to_list() == [
        "CRITICAL",
        "CRITICAL",
        "CRITICAL",
        "WARNING",
        "ERROR",
        "CRITICAL",
        "WARNING",
        "WARNING",
    ]


def test_inference_keeps_positions_and_nulls_are_info() -> None:
    messages = ["ok", None, "liberror-perl", "Failed", "ok", "warning"]
    assert infer_levels(pl.Series(messages, dtype=pl.String)).to_list() == [
        "INFO",
        "INFO",
        "INFO",
        "ERROR",
        "INFO",
        "WARNING",
    ]
    assert infer_levels(pl.Series([], dtype=pl.String)).to_list() == []


def test_postgres_debug_levels_are_level_words() -> None:
    # Longest first, so a header regex takes DEBUG2 whole rather than stopping at DEBUG.
    assert pl.Series(["DEBUG2:  x"]).str.extract(f"^({LEVEL_WORD})").to_list() == ["DEBUG2"]
    assert pl.Series(["debug2 x"]).str.extract(f"^({LEVEL_WORD_STRICT})").to_list() == ["debug2 "]
