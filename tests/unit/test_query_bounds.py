"""Bounds of what a query may name: times, relative times, ids, offsets; and the tokens
marked `:read-all`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loglens.config import load_config, parse_token_entries, parse_tokens
from loglens.errors import ConfigError
from loglens.storage.read.filters import (
    MAX_ID,
    MAX_OFFSET,
    Filters,
    Page,
    QueryError,
    parse_side,
    parse_time,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["-99999999d", "-999999999999w", "-99999999999999999999999999s", "-" + "9" * 5000 + "m",
     "9999-12-31T23:59:59", "0001-01-01", "0001-01-01T00:00+05:00", "9999-12-31T20:00-05:00"],
)  # fmt: skip
def test_times_out_of_range_are_refused_naming_them(text: str) -> None:
    with pytest.raises(QueryError, match=r"^start='.*' is out of range: give a time from"):
        parse_time(text, "start", NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-2d", datetime(2024, 4, 29, 12, 0, tzinfo=UTC)),
        ("-1w", datetime(2024, 4, 24, 12, 0, tzinfo=UTC)),
        ("0001-01-02", datetime(1, 1, 2, tzinfo=UTC)),
        ("9999-12-30", datetime(9999, 12, 30, tzinfo=UTC)),
    ],
)
def test_times_in_range_parse(text: str, expected: datetime) -> None:
    assert parse_time(text, "start", NOW) == expected


def test_ids_and_offsets_are_bounded() -> None:
    assert Filters(upload=MAX_ID).upload == MAX_ID
    with pytest.raises(QueryError, match=rf"^upload={MAX_ID + 1} is not an upload id"):
        Filters(upload=MAX_ID + 1)
    assert Page(offset=MAX_OFFSET).offset == MAX_OFFSET
    with pytest.raises(
        QueryError,
        match=r"^offset must be a whole number from 0 to 1000000000, got 99999999999999999999$",
    ):
        Page(offset=99999999999999999999)
    with pytest.raises(QueryError, match=rf"^a='{MAX_ID + 1}': upload={MAX_ID + 1} is not"):
        parse_side(str(MAX_ID + 1), "a", Filters())
    with pytest.raises(QueryError, match=r"^a='9{30}' is not an upload id"):
        parse_side("9" * 30, "a", Filters())
    with pytest.raises(QueryError, match="is neither an upload id nor a window"):
        parse_side("²", "a", Filters())  # a digit to str.isdigit, not to int()


def test_read_all_tokens_are_marked_and_the_mark_is_not_part_of_the_token() -> None:
    text = "alice:s3cret, root:t0p:read-all\nbob:a:b"
    assert parse_token_entries(text) == (
        ("alice", "s3cret", False),
        ("root", "t0p", True),
        ("bob", "a:b", False),  # a colon inside a token still works
    )
    assert parse_tokens(text) == (("alice", "s3cret"), ("root", "t0p"), ("bob", "a:b"))
    config = load_config({"AUTH_TOKENS": text})
    assert config.auth_tokens == parse_tokens(text)
    assert config.read_all_tokens == frozenset({"t0p"})
    with pytest.raises(ConfigError, match="is not operator:token or operator:token:read-all"):
        parse_tokens("root::read-all")
