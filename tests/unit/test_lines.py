"""Lines: splitting blocks, telling text from garbage, recognising continuation lines."""

from __future__ import annotations

import pytest

from loglens.analysis.lines import (
    BINARY,
    EMPTY,
    decode_block,
    looks_like_continuation,
    printable,
    split_block,
)


def classify(data: bytes) -> list[tuple[str | None, str | None]]:
    decoded = decode_block(data)
    return list(zip(decoded.text.to_list(), decoded.reason.to_list(), strict=True))


def test_split_block_keeps_empty_lines_and_ignores_final_newline() -> None:
    assert split_block(b"a\n\nb\n") == [b"a", b"", b"b"]
    assert split_block(b"a\nb") == [b"a", b"b"]
    assert split_block(b"") == []
    assert split_block(b"\n") == [b""]


def test_text_lines_pass_and_crlf_is_stripped() -> None:
    assert classify(b"hello world\r\nsecond\n") == [("hello world", None), ("second", None)]


def test_empty_and_blank_lines_are_rejected_as_empty() -> None:
    assert classify(b"\n   \t\nx\n") == [(None, EMPTY), (None, EMPTY), ("x", None)]


def test_nul_byte_makes_a_line_binary_even_when_valid_utf8() -> None:
    assert classify(b"abc\x00def long enough text here\n") == [(None, BINARY)]


def test_many_control_bytes_make_a_line_binary() -> None:
    assert classify(b"\x01\x02\x03abcdefg\n") == [(None, BINARY)]


def test_one_stray_control_byte_in_a_long_line_is_still_text() -> None:
    line = b"2024-01-01 INFO bell \x07 rang in a long enough message"
    assert classify(line + b"\n")[0][1] is None


def test_ansi_colour_codes_are_removed_not_rejected() -> None:
    assert classify(b"\x1b[31mERROR\x1b[0m disk full\n") == [("ERROR disk full", None)]


def test_latin1_text_is_repaired_and_counted() -> None:
    decoded = decode_block(b"caf\xe9 au lait is served\nplain\n")
    assert decoded.text.to_list() == ["caf\\xe9 au lait is served", "plain"]
    assert decoded.reason.to_list() == [None, None]
    assert decoded.repaired == 1


def test_mostly_undecodable_or_nul_bytes_are_binary() -> None:
    assert classify(b"\xff\xfe\x00\x01\x02\x9c\n") == [(None, BINARY)]
    assert classify(b"ok\xff\xfe\xfa\xfb\n") == [(None, BINARY)]


def test_many_colour_coded_lines_take_the_vectorised_way() -> None:
    block = b"\x1b[32mINFO\x1b[0m all good\n" * 3000 + b"\x00\x01garbage\n"
    decoded = decode_block(block)
    assert decoded.text[0] == "INFO all good"
    assert decoded.reason.to_list()[-1] == BINARY
    assert decoded.reason.null_count() == 3000


def test_bad_lines_among_many_are_each_found() -> None:
    lines = [b"good line %d" % i for i in range(200_000)]
    for index in (0, 5, 70_000, 199_999):
        lines[index] = b"bad \xff line"
    decoded = decode_block(b"\n".join(lines) + b"\n")
    assert decoded.repaired == 4
    assert decoded.text[70_000] == "bad \\xff line"


@pytest.mark.parametrize(
    "line",
    [
        "\tat com.example.Foo.bar(Foo.java:42)",
        "    at java.base/java.lang.Thread.run(Thread.java:833)",
        "Caused by: java.io.IOException: broken pipe",
        "\t... 12 more",
        "Traceback (most recent call last):",
        '  File "app.py", line 3, in <module>',
        "ValueError: invalid literal for int()",
        "java.lang.IllegalStateException: not started",
        "org.example.DataAccessException",
        'Exception in thread "main" java.lang.NullPointerException',
        "During handling of the above exception, another exception occurred:",
    ],
)
def test_continuation_shapes(line: str) -> None:
    assert looks_like_continuation(line)


@pytest.mark.parametrize(
    "line",
    [
        "2024-01-01 12:00:00 ERROR failed",
        "Jun 14 15:16:01 host sshd[1]: Error: bad",
        "Error while reading the config",
        "plain words",
        "",
    ],
)
def test_not_continuation_shapes(line: str) -> None:
    assert not looks_like_continuation(line)


def test_printable_escapes_controls_and_bounds_length() -> None:
    assert printable(b"a\x00b") == "a\\x00b"
    assert printable("x" * 500, limit=10) == "x" * 9 + "…"
