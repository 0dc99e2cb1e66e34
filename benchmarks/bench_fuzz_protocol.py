"""Hostile protocol conversations against a real server: tracebacks, `internal` answers, RSS.

    python -m benchmarks.bench_fuzz_protocol [--cases 20000] [--baseline-cases 20000]
                                             [--seed 13] [--at-once 32] [--workers 2]

Runs, one after the other, each against a fresh `python server.py` (port 0, its own storage
and database):
1. the baseline: BASELINE_CASES well-formed conversations, the same small upload again and
   again by one operator (after the first, the cheap dedup: ACCEPTED, END, STORED);
2. the fuzz run: CASES conversations from `tests.fuzzcases` (seeded: hostile handshakes,
   UPLOAD bodies with values of every type and range, lone surrogates, deep nesting, lying
   lengths, unknown and misplaced frames, broken uploads, byte flips, some good uploads).
Each connection sends its case, half-closes, and reads the server's answer to the end.
For each run it prints the conversations per second, the server's RSS (the main process,
VmRSS) after a warm-up of WARMUP cases and at the end, and for the fuzz run: the lines of
the server log that show a bug (a traceback, "bug while serving", an exception in a
callback), the `internal` answers, answers that are no readable frames, answers by error
code, and whether the server still stores a good upload at the end.
Target (issue 13): 0 tracebacks, 0 `internal` answers, RSS growth < 50 MiB over 20,000
cases. Exit status 1 if one is missed.

The server runs with AUTH_FAILURE_LIMIT=1000000 (passed through the environment): the
fuzz aims at the frames, and a lockout would answer every case alike.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.uploadkit import TOKEN, ServerProcess
from loglens.protocol import HANDSHAKE, ErrorCode, FrameType, UploadHeader, encode
from tests.fuzzcases import CaseMaker, Outcome, play
from tests.integration.test_protocol_fuzz import bug_lines

WARMUP = 200
RSS_LIMIT_MIB = 50.0
_GOOD = b"2024-05-01 10:00:00,000 INFO the same small upload\n"


def rss_mib(pid: int) -> float:
    """The resident memory of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def good_case() -> bytes:
    """A well-formed conversation: one small upload, whole."""
    header = UploadHeader(TOKEN, "same.log", len(_GOOD), hashlib.sha256(_GOOD).hexdigest())
    return (
        HANDSHAKE
        + encode(FrameType.UPLOAD, header.to_json())
        + encode(FrameType.DATA, _GOOD)
        + encode(FrameType.END)
    )


async def play_all(address: tuple[str, int], cases: list[bytes], at_once: int) -> list[Outcome]:
    """Play the cases, `at_once` at a time; their outcomes in order."""
    gate = asyncio.Semaphore(at_once)

    async def one(case: bytes) -> Outcome:
        async with gate:
            return await play(*address, case)

    return list(await asyncio.gather(*(one(case) for case in cases)))


class Run:
    """One server, its warm-up and its measured cases."""

    def __init__(self, name: str, root: Path, workers: int) -> None:
        self.name = name
        self.server = ServerProcess(root, workers).start()
        self.outcomes: list[Outcome] = []
        self.seconds = 0.0
        self.rss_start = self.rss_end = 0.0

    def measure(self, warmup: list[bytes], cases: list[bytes], at_once: int) -> None:
        """Play the warm-up, note the RSS, play the cases, note the RSS again."""
        asyncio.run(play_all(self.server.address, warmup, at_once))
        self.rss_start = rss_mib(self.server.pid)
        start = time.perf_counter()
        self.outcomes = asyncio.run(play_all(self.server.address, cases, at_once))
        self.seconds = time.perf_counter() - start
        self.rss_end = rss_mib(self.server.pid)

    @property
    def growth(self) -> float:
        """RSS growth over the measured cases, in MiB."""
        return self.rss_end - self.rss_start

    def still_serving(self) -> bool:
        """Whether the server still stores a good upload (of new content)."""
        data = b"2024-05-01 10:00:00,000 INFO still serving %d\n" % time.time_ns()
        header = UploadHeader(TOKEN, "last.log", len(data), hashlib.sha256(data).hexdigest())
        case = (
            HANDSHAKE
            + encode(FrameType.UPLOAD, header.to_json())
            + encode(FrameType.DATA, data)
            + encode(FrameType.END)
        )
        outcome = asyncio.run(play_all(self.server.address, [case], 1))[0]
        return any(frame.type is FrameType.STORED for frame in outcome.frames)

    def report(self) -> None:
        """Print the figures every run has."""
        count = len(self.outcomes)
        print(
            f"{self.name}: {count:,} conversations in {self.seconds:.1f} s "
            f"({count / self.seconds:,.0f}/s); server RSS {self.rss_start:.1f} -> "
            f"{self.rss_end:.1f} MiB (growth {self.growth:+.1f} MiB)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--baseline-cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--at-once", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ["AUTH_FAILURE_LIMIT"] = "1000000"
    maker = CaseMaker(args.seed, TOKEN)
    warmup = [maker.case() for _ in range(WARMUP)]
    cases = [maker.case() for _ in range(args.cases)]
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as folder:
        baseline = Run("baseline (one good upload, again and again)", Path(folder) / "b", 2)
        try:
            baseline.measure([good_case()] * WARMUP, [good_case()] * args.baseline_cases, 8)
            baseline.report()
        finally:
            baseline.server.stop()
        fuzz = Run(f"fuzz (seed {args.seed})", Path(folder) / "f", args.workers)
        try:
            fuzz.measure(warmup, cases, args.at_once)
            fuzz.report()
            serving = fuzz.still_serving()
            bugs = bug_lines(fuzz.server.log())
        finally:
            fuzz.server.stop()
    codes = collections.Counter(code for o in fuzz.outcomes for code in o.codes)
    internal = codes[ErrorCode.INTERNAL.value]
    unreadable = [o.unreadable for o in fuzz.outcomes if o.unreadable is not None]
    stored = sum(any(f.type is FrameType.STORED for f in o.frames) for o in fuzz.outcomes)
    print("fuzz answers by error code: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))
    print(f"fuzz conversations that stored an upload: {stored:,}")
    print(f"tracebacks and other bug lines in the server log: {len(bugs)}")
    for line in bugs[:10]:
        print(f"  {line}")
    print(f"'internal' answers: {internal}; answers that are no readable frame: {len(unreadable)}")
    for message in unreadable[:5]:
        print(f"  {message}")
    print(f"server still serving at the end: {'yes' if serving else 'NO'}")
    ratio = (len(fuzz.outcomes) / fuzz.seconds) / (len(baseline.outcomes) / baseline.seconds)
    print(
        f"fuzz vs baseline: {ratio:.2f}x the conversations per second; RSS growth "
        f"{fuzz.growth:+.1f} MiB vs {baseline.growth:+.1f} MiB"
    )
    ok = not bugs and internal == 0 and not unreadable and serving
    ok = ok and fuzz.growth < RSS_LIMIT_MIB
    print(f"target (0 tracebacks, 0 internal, RSS growth < {RSS_LIMIT_MIB:g} MiB): "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
