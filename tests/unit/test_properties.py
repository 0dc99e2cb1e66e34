"""Properties that hold for any input, checked on inputs hypothesis makes up.

Whatever the bytes (log lines of many formats, traces, binary junk, NUL runs, carriage
returns, invalid UTF-8, over-long lines) and wherever a file is cut into blocks:
- the analysis never raises;
- every line is accounted for exactly once (README, "Where every line goes");
- the summary of the blocks, merged, is the summary of the whole (what makes workers,
  remote tasks and live follow exact).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loglens.analysis.chunk import Part, summarise_block
from loglens.analysis.formats import BUILTIN_FORMATS, GENERIC_FORMAT, LogFormat
from loglens.analysis.parse import ParseContext, detect_format
from loglens.analysis.report import build_report
from loglens.analysis.summary import Summary
from loglens.analysis.templates import build_templates
from loglens.processor.framings import EXPORT, PREFIXED, PRETTY, VERBOSE, Reframed

CTX = ParseContext(tz="UTC", reference=datetime(2026, 12, 7, tzinfo=UTC))

LINES = [
    b"2024-03-01 10:00:00,001 INFO [main] org.app.Server: started on port 8080",
    b"2024-03-01 10:00:01,002 ERROR [db] org.app.Db: connection 12 lost",
    b"\tat org.app.Db.connect(Db.java:42)",
    b"Caused by: java.io.IOException: reset",
    b"Traceback (most recent call last):",
    b'  File "/app/x.py", line 3, in <module>',
    b"Mar  3 04:05:06 host sshd[123]: Failed password for root from 10.0.0.1 port 22",
    b'10.0.0.1 - - [30/Jan/2024:12:00:00 +0000] "GET / HTTP/1.1" 500 12 "-" "curl"',
    b'{"ts": "2024-01-30T12:00:00Z", "level": "warn", "msg": "slow"}',
    b"level=error ts=2024-01-30T12:00:00Z msg=boom",
    b"[2985] 2026/12/07 09:23:47.580017 [INF] Starting server",
    b"2253:M 07 Dec 2026 13:59:03.630 * ready",
    b"#Fields: time c-ip cs-method",
    b"",
    b"   ",
    b"\x00\x00\x00garbage\x00",
    b"\xff\xfe\xfd not utf-8 \xc3",
    b"2024-03-01 10:0",
    b"}",
    b"x" * 3000,
]
_LINE = st.one_of(
    st.sampled_from(LINES),
    st.binary(max_size=80).map(lambda raw: raw.replace(b"\n", b" ")),
)
_ENDING = st.sampled_from([b"\n", b"\r\n"])


@st.composite
def logs(draw: st.DrawFn) -> bytes:
    """A log of up to 60 lines, each ended by a newline (or CRLF)."""
    lines = draw(st.lists(st.tuples(_LINE, _ENDING), max_size=60))
    return b"".join(line + ending for line, ending in lines)


def _formats() -> list[LogFormat]:
    sample = [line.decode("utf-8", "replace") for line in LINES[:3]] * 5
    learned = detect_format(
        [f"[{n}] 2026/12/07 09:23:4{n % 10}.5 [INF] step {n}" for n in range(20)],
        BUILTIN_FORMATS,
    ).format
    assert learned.learned
    return [
        detect_format(sample, BUILTIN_FORMATS).format,
        GENERIC_FORMAT,
        learned,
        *BUILTIN_FORMATS,
    ]


FORMATS = _formats()


def _summarise(data: bytes, cuts: list[int], fmt: LogFormat) -> Summary:
    total = Summary()
    for start, end in itertools.pairwise([0, *cuts, len(data)]):
        summary, _ = summarise_block(
            data[start:end], Part("app.log", start, fmt), CTX, max_line_bytes=2048
        )
        total.absorb(summary)
    return total


def _report(total: Summary) -> dict[str, object]:
    report = build_report(total, build_templates(total.pattern_counts()), top_n=10)
    report["accounted"] = (
        total.entries
        + total.continuation_lines
        + total.filtered_lines
        + total.directive_lines
        + sum(total.rejected.values())
    )
    return report


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=logs(), fmt=st.sampled_from(FORMATS), cut_seeds=st.lists(st.integers(0, 10**6)))
def test_any_input_is_accounted_for_and_blocks_merge_exactly(
    data: bytes, fmt: LogFormat, cut_seeds: list[int]
) -> None:
    starts = [i + 1 for i, byte in enumerate(data[:-1]) if byte == ord("\n")]
    cuts = sorted({starts[seed % len(starts)] for seed in cut_seeds}) if starts else []
    whole = _report(_summarise(data, [], fmt))
    assert whole["lines"] == whole["accounted"] == data.count(b"\n")
    assert _report(_summarise(data, cuts, fmt)) == whole


_FRAMINGS = [EXPORT, VERBOSE, PRETTY, PREFIXED]


class _Bytes:
    def __init__(self, data: bytes, piece: int) -> None:
        self._data, self._at, self._piece = data, 0, piece

    def read(self, size: int, /) -> bytes:
        out = self._data[self._at : self._at + min(size, self._piece)]
        self._at += len(out)
        return out

    def close(self) -> None:
        """Nothing to close."""


@settings(max_examples=80, deadline=None)
@given(
    data=st.binary(max_size=400) | logs(),
    framing=st.sampled_from(_FRAMINGS),
    piece=st.integers(1, 64),
)
def test_a_framing_reader_never_fails_but_with_a_named_error(
    data: bytes, framing: str, piece: int
) -> None:
    from loglens.errors import InputError

    reader = Reframed(_Bytes(data, piece), "x.log", framing, 4096)
    out = b""
    try:
        while chunk := reader.read(50):
            out += chunk
    except InputError as exc:
        assert "x.log" in str(exc)
        return
    # Line numbers stay the file's: no more lines than it had (the last may gain its end).
    assert out.count(b"\n") <= data.count(b"\n") + 2


@pytest.mark.parametrize("fmt", FORMATS[:3], ids=lambda fmt: fmt.name)
def test_the_strategies_reach_entries(fmt: LogFormat) -> None:
    # A guard on the strategy: the lines above make entries, not only rejections.
    data = b"\n".join(LINES) + b"\n"
    assert _summarise(data, [], fmt).entries >= 1
