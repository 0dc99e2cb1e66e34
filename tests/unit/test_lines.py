"""Lines: splitting blocks, telling text from garbage, recognising continuation lines."""

from __future__ import annotations

import polars as pl
import pytest

from loglens.analysis.lines import (
    BINARY,
    CONTINUATION,
    DIRECTIVE,
    EMPTY,
    TOO_LONG,
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


CONTINUATIONS = [
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
    # Python frames that lost their indentation
    'File "/srv/app/jobs.py", line 88, in run',
    'File "<stdin>", line 1',
    # PHP and Laravel
    "#0 /var/www/app/Http/Controllers/OrderController.php(42): App\\Order->save()",
    "#3 C:\\inetpub\\site\\index.php(7): run()",
    "#1 [internal function]: App\\Jobs\\Import->handle()",
    "#12 {main}",
    "[stacktrace]",
    "[previous exception] [object] (PDOException(code: 2002): refused at /srv/db.php:70)",
    "Stack trace:",
    # Go panics
    "goroutine 1 [running]:",
    "goroutine 18 [chan receive, 2 minutes]:",
    "main.main()",
    "main.(*Server).handle(...)",
    "net/http.(*conn).serve(0xc0000a8000, {0x6c7e38, 0xc0000a4000})",
    "github.com/acme/shop/internal/cart.(*Cart).Total(0xc000010000, 0x1)",
    "runtime.gopark(0x0?, 0x0?)",
    "main.Map[...].Load(...)",
    "panic({0x45b2a0, 0xc00001c030})",
    "created by net/http.(*Server).Serve in goroutine 1",
    "created by main.main",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x48f1a2]",
    # XML bodies
    '<?xml version="1.0" encoding="UTF-8"?>',
    "</soap:Envelope>",
    "</order></orders>",
    "<!-- the order as received -->",
    "<![CDATA[",
    # the end of a pretty-printed structure, an elided part
    "}",
    "},",
    "]);",
    '"}',
    "...",
]
NOT_CONTINUATIONS = [
    "2024-01-01 12:00:00 ERROR failed",
    "Jun 14 15:16:01 host sshd[1]: Error: bad",
    "Error while reading the config",
    "plain words",
    "",
    # they start a report or an entry
    "panic: runtime error: index out of range [5] with length 3",
    "exit status 2",
    '<log4j:event logger="app" timestamp="1714521600000" level="INFO" thread="main">',
    "<record>",
    "<34>1 2024-05-01T10:00:00Z host app - - - started",
    "{",
    '{"level":"info","msg":"started"}',
    "[2024-05-01 10:00:00] production.ERROR: order failed",
    "[main] INFO started",
    "... and 3 others joined",
    # look alike, but are no frames
    "main.main",
    "app.run(config)",
    "created by the operator",
    "goroutine leak detected",
    "File saved",
    "Stack trace: none recorded",
    "#1 fan of the new release",
    # comment lines: what they are depends on where they stand (see test_chunk)
    "# Time: 2019-03-24T14:01:47.811234Z",
    "# User@Host: app[app] @ localhost []",
    "#Fields: date time cs-method cs-uri-stem sc-status",
]


@pytest.mark.parametrize("line", CONTINUATIONS)
def test_continuation_shapes(line: str) -> None:
    assert looks_like_continuation(line)


@pytest.mark.parametrize("line", NOT_CONTINUATIONS)
def test_not_continuation_shapes(line: str) -> None:
    assert not looks_like_continuation(line)


def test_polars_and_re_read_the_continuation_pattern_alike() -> None:
    # Blocks are classified by polars (Rust regex), split points by Python's re.
    lines = CONTINUATIONS + NOT_CONTINUATIONS
    by_polars = pl.Series(lines).str.contains(CONTINUATION).to_list()
    assert by_polars == [looks_like_continuation(line) for line in lines]
    assert by_polars == [line in CONTINUATIONS for line in lines]


@pytest.mark.parametrize(
    "line",
    [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Version: 1.0",
        "#Date: 2024-05-01 00:00:00",
        "#Fields: date time s-ip cs-method cs-uri-stem sc-status",
        "#Remark: rotated",
        "#Start-Date: 2024-05-01 00:00:00",
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#open\t2024-05-01-00-00-00",
        "#fields\tts\tuid\tid.orig_h",
        "#types\ttime\tstring\taddr",
        "#close",
    ],
)
def test_directive_shapes(line: str) -> None:
    assert pl.Series([line]).str.contains(DIRECTIVE).item()


@pytest.mark.parametrize(
    "line",
    [
        "# Time: 2019-03-24T14:01:47.811234Z",  # a slow log's entry header, if read so
        "# a comment",
        "#0 /var/www/index.php(3): main()",
        "#!/bin/sh",
        "#",
        "message # with a hash",
    ],
)
def test_not_directive_shapes(line: str) -> None:
    assert not pl.Series([line]).str.contains(DIRECTIVE).item()


def test_printable_escapes_controls_and_bounds_length() -> None:
    assert printable(b"a\x00b") == "a\\x00b"
    assert printable("x" * 500, limit=10) == "x" * 9 + "…"


def test_lines_over_the_limit_are_rejected_as_too_long_with_their_start_kept() -> None:
    long = b"2024-01-01 00:00:00 ERROR " + b"w" * 5000
    decoded = decode_block(b"short\n" + long + b"\n" + b"x" * 1000 + b"\nlast\n", 1000)
    assert decoded.text.to_list() == ["short", None, "x" * 1000, "last"]
    assert decoded.reason.to_list() == [None, TOO_LONG, None, None]
    assert decoded.raw_samples == {1: long[:1024]}
    # Without a limit, the same line is an ordinary one.
    assert decode_block(long + b"\n").text.to_list() == [long.decode()]


def test_a_too_long_line_is_neither_repaired_nor_binary() -> None:
    # Invalid UTF-8 and control bytes in a long line: it is too long, nothing else.
    long = b"\xff\x01\x02" * 600
    decoded = decode_block(b"caf\xe9 ok\n" + long + b"\n" + b"\x1b[31mred\x1b[0m\n", 1000)
    assert decoded.reason.to_list() == [None, TOO_LONG, None]
    assert decoded.text.to_list() == ["caf\\xe9 ok", None, "red"]
    assert decoded.repaired == 1
    assert decoded.raw_samples == {1: long[:1024]}


def test_too_long_lines_among_many_are_found_at_once() -> None:
    lines = [b"y" * (1001 if i % 97 == 0 else 10) for i in range(5000)]
    decoded = decode_block(b"\n".join(lines) + b"\r\n", 1000)
    rejected = decoded.reason.fill_null("").to_list()
    assert [i for i, why in enumerate(rejected) if why] == list(range(0, 5000, 97))
    assert all(why == TOO_LONG for why in rejected if why)
