"""The block pipeline: every line accounted for, and summaries that merge exactly."""

from __future__ import annotations

import itertools
import pickle
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from loglens.analysis.chunk import Filters, Part, summarise_block
from loglens.analysis.formats import BUILTIN_FORMATS, LogFormat, custom_format
from loglens.analysis.parse import ParseContext, detect_format
from loglens.analysis.report import build_report
from loglens.analysis.summary import Summary
from loglens.analysis.templates import build_templates

CTX = ParseContext(tz="UTC", reference=datetime(2024, 6, 1, tzinfo=UTC))

LOG = b"".join(
    [
        b"\tat orphan.At.start(Start.java:1)\n",
        b"2024-03-01 10:00:00,001 INFO [main] org.app.Server: Server started on port 8080\n",
        b"2024-03-01 10:00:01,002 DEBUG [main] org.app.Cache: cache warmed with 1200 keys\n",
        b"\tat debug.Only.trace(Only.java:3)\n",
        b"2024-03-01 10:00:02,003 WARN [pool-1] org.app.Db: slow query took 1532 ms\n",
        b"2024-03-01 10:00:03,004 ERROR [pool-2] org.app.Db: Database connection to 10.0.0.5 failed\n",  # noqa: E501
        b"java.sql.SQLException: connection refused\n",
        b"\tat org.app.Db.connect(Db.java:88)\n",
        b"\tat org.app.Db.query(Db.java:120)\n",
        b"Caused by: java.net.ConnectException: refused\n",
        b"\t... 14 more\n",
        b"\n",
        b"2024-03-01 10:00:04,005 ERROR [pool-3] org.app.Db: Database connection to 10.0.0.6 failed\n",  # noqa: E501
        b"\x00\x01\x02binary garbage\xff\n",
        b"\tat after.Garbage.line(G.java:9)\n",
        b"2024-03-01 10:0\n",
        b"this line is free text junk\n",
        b"2024-03-01 10:00:05,006 INFO [main] org.app.Server: caf\xe9 served\n",
        b"2024-03-01 10:00:06,007 ERROR [pool-1] org.app.Auth: Login failed for user alice\n",
        b"2024-03-01 10:00:07,008 ERROR [pool-1] org.app.Auth: Login failed for user bob\n",
        b"2024-03-01 10:00:08,009 INFO [main] org.app.Server: Server stopped after 8 s\n",
        b"\tat trailing.Trace.end(End.java:5)\n",
    ]
)


@pytest.fixture(scope="module")
def fmt_part() -> Part:
    sample = [line.decode("utf-8", "replace") for line in LOG.splitlines() if line]
    detection = detect_format(sample, BUILTIN_FORMATS)
    return Part("app.log", 0, detection.format)


def report_of(
    data: bytes, cuts: list[int], base: Part, filters: Filters | None = None
) -> dict[str, Any]:
    total = Summary()
    bounds = [0, *cuts, len(data)]
    for start, end in itertools.pairwise(bounds):
        part = Part(base.file, start, base.format)
        summary, _ = summarise_block(data[start:end], part, CTX, filters)
        total.absorb(summary)
    report = build_report(total, build_templates(total.pattern_counts()), top_n=10)
    report["_accounted"] = (
        total.entries
        + total.continuation_lines
        + total.filtered_lines
        + total.directive_lines
        + sum(total.rejected.values())
    )
    report["_heads"] = sum(h.lines + h.comments for h in total.heads.values())
    return report


def line_starts(data: bytes) -> list[int]:
    return [i + 1 for i, byte in enumerate(data[:-1]) if byte == ord("\n")]


def test_every_line_is_accounted_for(fmt_part: Part) -> None:
    report = report_of(LOG, [], fmt_part)
    assert report["_accounted"] == report["lines"] == LOG.count(b"\n")
    assert report["_heads"] == 0


def test_lines_land_in_the_right_places(fmt_part: Part) -> None:
    report = report_of(LOG, [], fmt_part)
    assert report["entries"] == 9
    assert report["levels"] == {"DEBUG": 1, "INFO": 3, "WARNING": 1, "ERROR": 4}
    assert report["repaired"] == {"invalid_encoding": 1}
    assert report["continuation_lines"] == 7  # the DEBUG trace, the SQL trace, the last trace
    assert report["rejected"] == {
        "orphan_continuation": 2,
        "binary": 1,
        "empty": 1,
        "truncated": 1,
        "unparseable": 1,
    }
    orphans = report["rejected_samples"]["orphan_continuation"]
    assert [s["line"] for s in orphans] == [1, 15]
    assert report["first_timestamp"] == "2024-03-01T10:00:00.001Z"
    assert report["last_timestamp"] == "2024-03-01T10:00:08.009Z"


def test_top_errors_are_templates_with_a_real_example(fmt_part: Part) -> None:
    top = report_of(LOG, [], fmt_part)["top_errors"]
    assert sum(t["count"] for t in top) == 4
    db = top[0] if top[0]["template"].startswith("Database") else top[1]
    assert db["count"] == 2
    assert "<*>" in db["template"]
    assert db["example"] == "Database connection to 10.0.0.5 failed"
    assert db["line"] == 6


@pytest.mark.parametrize("cut", line_starts(LOG))
def test_two_parts_merge_into_the_whole_at_every_line(fmt_part: Part, cut: int) -> None:
    assert report_of(LOG, [cut], fmt_part) == report_of(LOG, [], fmt_part)


def test_many_parts_merge_into_the_whole(fmt_part: Part) -> None:
    whole = report_of(LOG, [], fmt_part)
    starts = line_starts(LOG)
    rng = random.Random(7)
    for _ in range(40):
        cuts = sorted(rng.sample(starts, rng.randint(2, len(starts) - 1)))
        assert report_of(LOG, cuts, fmt_part) == whole


def test_merge_is_associative(fmt_part: Part) -> None:
    cuts = [line_starts(LOG)[i] for i in (4, 8, 16)]
    bounds = [0, *cuts, len(LOG)]
    parts = []
    for start, end in itertools.pairwise(bounds):
        part = Part("app.log", start, fmt_part.format)
        parts.append(summarise_block(LOG[start:end], part, CTX)[0])
    a, b, c, d = parts
    left = a.merge(b).merge(c).merge(d)
    right = a.merge(b.merge(c.merge(d)))
    middle = a.merge(b.merge(c)).merge(d)
    assert left == right == middle


def test_filters_drop_entries_with_their_continuations_and_count_them(fmt_part: Part) -> None:
    filters = Filters(drop_levels=frozenset({"DEBUG"}), drop_regex="^Login failed")
    report = report_of(LOG, [], fmt_part, filters)
    assert report["entries"] == 6
    assert report["filtered"] == {"level DEBUG": 1, "message matches ^Login failed": 2}
    assert report["filtered_lines"] == 4  # the DEBUG entry's trace line goes with it
    assert report["_accounted"] == report["lines"]
    for cut in line_starts(LOG):
        assert report_of(LOG, [cut], fmt_part, filters) == report


def test_events_carry_joined_continuations(fmt_part: Part) -> None:
    _, events = summarise_block(LOG, fmt_part, CTX, want_events=True)
    assert events is not None
    assert events.height == 9
    error = events.filter(events["row"] == 5).row(0, named=True)
    assert error["message"].startswith(
        "Database connection to 10.0.0.5 failed\njava.sql.SQLException"
    )
    assert error["message"].endswith("\t... 14 more")


def test_empty_block(fmt_part: Part) -> None:
    summary, _ = summarise_block(b"", fmt_part, CTX)
    assert summary.lines == 0 and summary.entries == 0


def test_pattern_table_is_bounded_by_folding_into_templates(
    fmt_part: Part, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loglens.analysis.summary as summary_module

    lines = [
        f"2024-03-01 10:00:{i % 60:02d},000 INFO [main] org.app.Auth: login by "
        f"user{chr(97 + i % 26)}{chr(97 + i // 26 % 26)} from gateway {chr(97 + i // 676 % 26)}\n"
        for i in range(3000)
    ]
    data = "".join(lines).encode()
    monkeypatch.setattr(summary_module, "PATTERN_LIMIT", 100)
    total, bare = Summary(), Summary()
    cut = len(data) // 2
    cut = data.index(b"\n", cut) + 1
    for start, end in ((0, cut), (cut, len(data))):
        part = Part("app.log", start, fmt_part.format)
        summary = summarise_block(data[start:end], part, CTX)[0]
        bare.absorb(summary, aliases=False)
        total.absorb(summary)
    assert total.patterns_compacted
    assert total.patterns.height <= 100
    assert int(total.patterns["count"].sum()) == 3000
    # Each folded pattern's alias is kept, unless no one asks for them (no events).
    assert not total.aliases.is_empty()
    assert bare.aliases.is_empty()
    assert bare.patterns.equals(total.patterns)
    assert bare.series.equals(total.series)
    report = build_report(total, build_templates(total.pattern_counts()))
    assert report["templates_approximate"] is True
    assert report["entries"] == 3000


# What the generic format understands of each line: a timestamp, a level word, both, nothing.
MIXED = b"".join(
    [
        b"2024-03-01 10:00:00 backup started\n",
        b"ERROR: backup target unreachable\n",
        b"2024-03-01 10:00:01 WARN disk almost full\n",
        b"the operator was paged\n",
        b"nobody answered, an error no doubt\n",
    ]
)
PLAIN = b"Dear operator,\nthe nightly backup failed again.\nPlease look at it.\nThanks\n"


def generic_part(name: str, data: bytes) -> Part:
    sample = data.decode().splitlines()
    detection = detect_format(sample, BUILTIN_FORMATS)
    assert detection.format.name == "generic"
    return Part(name, 0, detection.format)


def test_plain_text_is_not_understood_though_every_line_is_an_entry() -> None:
    summary, _ = summarise_block(PLAIN, generic_part("letter.txt", PLAIN), CTX)
    info = summary.files["letter.txt"]
    assert info.entries == 4  # the generic format takes every line for an entry ...
    assert (info.timed, info.leveled, info.understood) == (0, 0, 0)
    assert info.confidence == 0.0  # ... but understood none of them: never 1.00 for nothing
    (item,) = build_report(summary, build_templates(summary.pattern_counts()))["formats"]
    assert (item["confidence"], item["timestamps"], item["levels"]) == (0.0, 0.0, 0.0)
    assert item["layout"].startswith("Any text")
    assert item["expects_levels"] is False


def test_an_empty_file_has_confidence_zero() -> None:
    summary, _ = summarise_block(b"", Part("empty.log", 0, BUILTIN_FORMATS[0]), CTX)
    assert summary.files["empty.log"].confidence == 0.0


def test_a_log4j_file_is_understood_with_timestamps_and_read_levels(fmt_part: Part) -> None:
    summary, _ = summarise_block(LOG, fmt_part, CTX)
    info = summary.files["app.log"]
    assert (info.entries, info.timed, info.leveled, info.understood) == (9, 9, 9, 9)
    assert info.layout == fmt_part.format.description
    assert info.expects_levels is True
    (item,) = build_report(summary, build_templates(summary.pattern_counts()))["formats"]
    assert item["timestamps"] == 1.0
    assert item["levels"] == pytest.approx(1.0, abs=0.01)
    assert item["confidence"] == 1.0


def test_understood_counts_an_entry_with_a_timestamp_or_a_read_level_once() -> None:
    summary, _ = summarise_block(MIXED, generic_part("mixed.log", MIXED), CTX)
    info = summary.files["mixed.log"]
    # Timestamps: lines 1 and 3; read levels: lines 2 and 3 (the last line's ERROR is a
    # guess from its words, not read); either: lines 1 to 3.
    assert (info.entries, info.timed, info.leveled, info.understood) == (5, 2, 2, 3)
    assert info.confidence == 0.6
    assert summary.levels["ERROR"] == 2  # the guess still gives the entry its level


@pytest.mark.parametrize("data", [LOG, MIXED])
def test_understood_counts_merge_into_those_of_the_whole(data: bytes, fmt_part: Part) -> None:
    part = fmt_part if data is LOG else generic_part("app.log", data)
    whole, _ = summarise_block(data, part, CTX)
    for cut in line_starts(data):
        first, _ = summarise_block(data[:cut], part, CTX)
        second, _ = summarise_block(data[cut:], Part("app.log", cut, part.format), CTX)
        merged = first.merge(second)
        assert merged.files == whole.files, cut
        assert merged.files["app.log"].understood == whole.files["app.log"].understood > 0


def test_a_summary_with_understood_counts_survives_pickling(fmt_part: Part) -> None:
    summary, _ = summarise_block(LOG, fmt_part, CTX)
    again = pickle.loads(pickle.dumps(summary))
    assert again == summary
    assert again.files["app.log"].confidence == 1.0
    changed = pickle.loads(pickle.dumps(summary))
    changed.files["app.log"].leveled -= 1
    assert changed != summary  # the new counts take part in the comparison


# Comment lines: directives of the file, or lines of the entry they follow.
COMMENTED = b"".join(
    [
        b"# app.log, written by app 1.2\n",  # 1 directive: the file starts with it
        b"#Fields: ts level thread logger message\n",  # 2 directive
        b"2024-03-01 10:00:00,001 INFO [main] org.app.Server: Server started\n",  # 3
        b"# config: port=8080\n",  # 4 continues the entry above
        b"# config: workers=4\n",  # 5 continues it
        b"2024-03-01 10:00:01,002 ERROR [pool-1] org.app.Db: query failed\n",  # 6
        b"[stacktrace]\n",  # 7 a PHP trace continues it
        b"#0 /srv/app/Db.php(88): Db->connect()\n",  # 8
        b"#1 {main}\n",  # 9
        b"# retrying once\n",  # 10 a comment line after a continuation line continues too
        b"\n",  # 11
        b"# --- restarted ---\n",  # 12 directive: it follows an empty line
        b"\tat orphan.After.comment(A.java:1)\n",  # 13 orphan: a directive ends the entry
        b"# after the orphan\n",  # 14 directive
        b"2024-03-01 10:00:02,003 WARN [main] org.app.Server: restarted\n",  # 15
        b"\n",  # 16
        b"\tat still.Continues(A.java:2)\n",  # 17 continuation: empty lines are transparent
        b"# note on the trace\n",  # 18 continuation
        b"#Date: 2024-03-01 10:00:03\n",  # 19 directive, even inside an entry
        b"# after the directive\n",  # 20 directive
        b"2024-03-01 10:00:04,004 DEBUG [main] org.app.Cache: warmed\n",  # 21
        b"# 1200 keys\n",  # 22 continuation of the DEBUG entry
    ]
)


def test_comment_lines_are_directives_or_continuations_by_what_precedes(
    fmt_part: Part,
) -> None:
    report = report_of(COMMENTED, [], fmt_part)
    assert report["entries"] == 4
    assert report["directive_lines"] == 6
    assert report["continuation_lines"] == 9
    assert report["rejected"] == {"empty": 2, "orphan_continuation": 1}
    assert [s["line"] for s in report["rejected_samples"]["orphan_continuation"]] == [13]
    assert report["_accounted"] == report["lines"] == 22
    _, events = summarise_block(COMMENTED, fmt_part, CTX, want_events=True)
    assert events is not None
    assert events["message"].to_list() == [
        "Server started\n# config: port=8080\n# config: workers=4",
        "query failed\n[stacktrace]\n#0 /srv/app/Db.php(88): Db->connect()\n#1 {main}"
        "\n# retrying once",
        "restarted\n\tat still.Continues(A.java:2)\n# note on the trace",
        "warmed\n# 1200 keys",
    ]


@pytest.mark.parametrize("cut", line_starts(COMMENTED))
def test_comment_lines_merge_into_the_whole_at_every_line(fmt_part: Part, cut: int) -> None:
    assert report_of(COMMENTED, [cut], fmt_part) == report_of(COMMENTED, [], fmt_part)


def test_comment_lines_merge_into_the_whole_from_many_parts(fmt_part: Part) -> None:
    filters = Filters(drop_levels=frozenset({"DEBUG"}))
    whole = report_of(COMMENTED, [], fmt_part, filters)
    assert whole["filtered_lines"] == 2  # the DEBUG entry and its comment line
    starts = line_starts(COMMENTED)
    rng = random.Random(11)
    for _ in range(60):
        cuts = sorted(rng.sample(starts, rng.randint(2, len(starts) - 1)))
        assert report_of(COMMENTED, cuts, fmt_part, filters) == whole, cuts


def test_merging_parts_with_comment_heads_is_associative(fmt_part: Part) -> None:
    # Parts start at: a comment after an entry (4), after an empty line (12), in a trace (18).
    cuts = [line_starts(COMMENTED)[i] for i in (2, 10, 16)]
    bounds = [0, *cuts, len(COMMENTED)]
    parts = [
        summarise_block(COMMENTED[start:end], Part("app.log", start, fmt_part.format), CTX)[0]
        for start, end in itertools.pairwise(bounds)
    ]
    a, b, c, d = parts
    assert b.heads["app.log"].comments == 2 and b.heads["app.log"].leading_comment
    left = a.merge(b).merge(c).merge(d)
    assert left == a.merge(b.merge(c.merge(d))) == a.merge(b.merge(c)).merge(d)
    assert left.directive_lines == 6


def test_a_part_of_empty_lines_makes_the_next_comment_line_a_directive(fmt_part: Part) -> None:
    data = (
        b"2024-03-01 10:00:00,001 INFO [main] org.app.Server: Server started\n"
        b"\n\n"
        b"# a comment after the empty lines\n"
        b"\tat orphan.After.comment(A.java:1)\n"
    )
    whole = report_of(data, [], fmt_part)
    assert (whole["directive_lines"], whole["continuation_lines"]) == (1, 0)
    starts = line_starts(data)
    for cuts in itertools.combinations(starts, 2):
        assert report_of(data, list(cuts), fmt_part) == whole, cuts


W3C = b"".join(
    [
        b"#Software: Microsoft Internet Information Services 10.0\n",
        b"#Version: 1.0\n",
        b"#Date: 2024-05-01 00:00:00\n",
        b"#Fields: date time s-ip cs-method cs-uri-stem sc-status time-taken\n",
        b"2024-05-01 00:00:01 10.0.0.1 GET /index.html 200 15\n",
        b"2024-05-01 00:00:02 10.0.0.1 GET /missing.html 404 3\n",
        # the server restarted and wrote its header again
        b"#Software: Microsoft Internet Information Services 10.0\n",
        b"#Version: 1.0\n",
        b"#Date: 2024-05-01 06:00:00\n",
        b"#Fields: date time s-ip cs-method cs-uri-stem sc-status time-taken\n",
        b"2024-05-01 06:00:05 10.0.0.1 POST /login 500 120\n",
    ]
)


def detected_part(name: str, data: bytes) -> Part:
    detection = detect_format(data.decode().splitlines(), BUILTIN_FORMATS)
    return Part(name, 0, detection.format)


# Like a layout that finds stamps anywhere in a line, this one reads `#Date:` lines too.
STAMP_ANYWHERE = custom_format(
    "stamp-anywhere", r"^(?:#Date: )?(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ?(?P<message>.*)$"
)


@pytest.mark.parametrize("fmt", [None, STAMP_ANYWHERE], ids=["detected", "stamp-anywhere"])
def test_a_w3c_header_block_is_neither_entries_nor_rejections(fmt: LogFormat | None) -> None:
    part = detected_part("u_ex240501.log", W3C)
    if fmt is not None:
        part = Part(part.file, 0, fmt)
    report = report_of(W3C, [], part)
    assert (report["entries"], report["directive_lines"]) == (3, 8)
    assert (report["continuation_lines"], report["rejected"]) == (0, {})
    assert report["first_timestamp"] == "2024-05-01T00:00:01Z"  # not the #Date: directive's
    _, events = summarise_block(W3C, part, CTX, want_events=True)
    assert events is not None
    assert events["row"].to_list() == [4, 5, 10]
    assert not any("#" in message for message in events["message"].to_list())
    for cut in line_starts(W3C):
        assert report_of(W3C, [cut], part) == report


ZEEK = (
    b"#separator \\x09\n"
    b"#set_separator\t,\n"
    b"#empty_field\t(empty)\n"
    b"#unset_field\t-\n"
    b"#path\tconn\n"
    b"#open\t2024-05-01-10-00-00\n"
    b"#fields\tts\tuid\tid.orig_h\tid.resp_h\tproto\tservice\n"
    b"#types\ttime\tstring\taddr\taddr\tenum\tstring\n"
    b"1714557600.123456\tCk1Ab2\t10.0.0.1\t10.0.0.9\ttcp\thttp\n"
    b"1714557601.234567\tCk1Ab3\t10.0.0.2\t10.0.0.9\tudp\tdns\n"
    b"1714557602.345678\tCk1Ab4\t10.0.0.3\t10.0.0.9\ttcp\t-\n"
    b"#close\t2024-05-01-11-00-00\n"
)


def test_the_header_and_close_of_a_zeek_log_are_directives() -> None:
    part = detected_part("conn.log", ZEEK)
    report = report_of(ZEEK, [], part)
    assert report["directive_lines"] == 9
    assert report["entries"] + sum(report["rejected"].values()) == 3  # the data lines only
    assert report["continuation_lines"] == 0
    for cut in line_starts(ZEEK):
        assert report_of(ZEEK, [cut], part) == report


GENERIC_COMMENTED = (
    b"# nightly backup, written by backup.sh\n"
    b"#\n"
    b"starting backup of /srv\n"
    b"copied 1200 files\n"
    b"# checksums follow\n"
    b"# sha256 ok\n"
    b"backup done\n"
)


def test_generic_text_keeps_its_opening_comments_out_of_the_entries() -> None:
    part = generic_part("backup.log", GENERIC_COMMENTED)
    report = report_of(GENERIC_COMMENTED, [], part)
    assert report["directive_lines"] == 2
    # Every other line is an entry in the generic format, but for the comment lines: with
    # no timestamp read from them, they continue the entry above them.
    assert (report["entries"], report["continuation_lines"]) == (3, 2)
    _, events = summarise_block(GENERIC_COMMENTED, part, CTX, want_events=True)
    assert events is not None
    assert events["message"].to_list()[1] == "copied 1200 files\n# checksums follow\n# sha256 ok"
    for cut in line_starts(GENERIC_COMMENTED):
        assert report_of(GENERIC_COMMENTED, [cut], part) == report


SLOW_LOG = (
    b"# Time: 2024-05-01T10:00:00.000000Z\n"
    b"# User@Host: shop[shop] @ localhost []  Id:    14\n"
    b"# Query_time: 2.475469  Lock_time: 0.000287 Rows_sent: 10  Rows_examined: 3145718\n"
    b"\tSELECT name FROM orders WHERE total > 100;\n"
    b"# Time: 2024-05-01T10:05:00.000000Z\n"
    b"# User@Host: shop[shop] @ localhost []  Id:    16\n"
    b"# Query_time: 1.002  Lock_time: 0.000145 Rows_sent: 1  Rows_examined: 2000\n"
)


def test_a_slow_log_entry_read_from_a_comment_line_keeps_its_comment_lines() -> None:
    fmt = custom_format("slow", r"^# Time: (?P<ts>\S+)(?P<message>.*)$")
    report = report_of(SLOW_LOG, [], Part("slow.log", 0, fmt))
    assert (report["entries"], report["continuation_lines"]) == (2, 5)
    assert (report["directive_lines"], report["rejected"]) == (0, {})
    assert report["last_timestamp"] == "2024-05-01T10:05:00Z"
    _, events = summarise_block(SLOW_LOG, Part("slow.log", 0, fmt), CTX, want_events=True)
    assert events is not None
    assert events["message"][1].splitlines()[1].startswith("# User@Host: shop[shop]")
    for cut in line_starts(SLOW_LOG):
        assert report_of(SLOW_LOG, [cut], Part("slow.log", 0, fmt)) == report


def test_a_learned_layout_continues_its_entries_with_any_other_line() -> None:
    lines = [
        "[2985] 2026/12/07 09:23:47.580017 [INF] Starting server",
        "[2985] 2026/12/07 09:23:48.000000 [ERR] request failed:",
        "PHP Fatal error:  Uncaught Exception: boom in /app/a.php:3",
        "no indentation here either",
        "[2985] 2026/12/07 09:23:49.000000 [INF] Server is ready",
        "[2985] 2026/12/07 09:2",
    ]
    detection = detect_format(lines * 4, BUILTIN_FORMATS)
    assert detection.format.learned
    data = ("\n".join(lines) + "\n").encode()
    summary, events = summarise_block(
        data, Part("a.log", 0, detection.format), CTX, want_events=True
    )
    assert summary.entries == 3
    assert summary.continuation_lines == 2
    assert dict(summary.rejected) == {"truncated": 1}
    assert events is not None
    assert events["message"][1] == (
        "request failed:\nPHP Fatal error:  Uncaught Exception: boom in /app/a.php:3\n"
        "no indentation here either"
    )


LONG_LINE = b"2024-03-01 10:00:09,010 ERROR [pool-9] org.app.Dump: payload " + b"Q" * 3000 + b"\n"
_AT = line_starts(LOG)[5]
WITH_LONG = LOG[:_AT] + LONG_LINE + LOG[_AT:] + LONG_LINE


def _too_long_report(data: bytes, cuts: list[int], base: Part) -> dict[str, Any]:
    total = Summary()
    for start, end in itertools.pairwise([0, *cuts, len(data)]):
        part = Part(base.file, start, base.format)
        summary, _ = summarise_block(data[start:end], part, CTX, max_line_bytes=2048)
        total.absorb(summary)
    report = build_report(total, build_templates(total.pattern_counts()), top_n=10)
    report["_lines"] = total.lines
    report["_accounted"] = (
        total.entries
        + total.continuation_lines
        + total.filtered_lines
        + total.directive_lines
        + sum(total.rejected.values())
    )
    return report


def test_too_long_lines_are_counted_rejected_with_their_start_as_sample(fmt_part: Part) -> None:
    report = _too_long_report(WITH_LONG, [], fmt_part)
    assert report["rejected"]["too_long"] == 2
    assert report["_accounted"] == report["_lines"] == LOG.count(b"\n") + 2
    [first, second] = report["rejected_samples"]["too_long"]
    assert first["text"].startswith("2024-03-01 10:00:09,010 ERROR [pool-9]")
    assert len(first["text"]) <= 200 and second["line"] == report["_lines"]
    # The rest is counted as without the long lines.
    plain = report_of(LOG, [], fmt_part)
    assert (report["levels"], report["entries"]) == (plain["levels"], plain["entries"])


@pytest.mark.parametrize("cut", line_starts(WITH_LONG))
def test_too_long_lines_merge_into_the_whole_at_every_line(fmt_part: Part, cut: int) -> None:
    whole = _too_long_report(WITH_LONG, [], fmt_part)
    assert _too_long_report(WITH_LONG, [cut], fmt_part) == whole


def test_a_block_cut_short_counts_the_bytes_it_stands_for(fmt_part: Part) -> None:
    cut = LONG_LINE[:2049]  # what a reader keeps of the line
    summary, _ = summarise_block(cut, fmt_part, CTX, max_line_bytes=2048, size=len(LONG_LINE))
    assert summary.rejected == {"too_long": 1}
    assert summary.bytes == summary.files["app.log"].bytes == len(LONG_LINE)
