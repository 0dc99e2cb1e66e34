"""A seeded, bounded protocol fuzz run against a real server: no traceback, no `internal`
answer, every answer a readable frame with a known code, and the server still serving.

The cases come from `tests.fuzzcases`; `benchmarks/bench_fuzz_protocol.py` runs many more.
"""

from __future__ import annotations

import asyncio

from loglens.protocol import ErrorCode, FrameType
from tests.fuzzcases import CaseMaker, Outcome, play
from tests.integration.conftest import ServerFactory, ServerHandle
from tests.integration.wire import upload

SEED = 13
CASES = 500
AT_ONCE = 8
# The fuzz aims at the frames, not at the lockout: wrong tokens must not lock it out.
SETTINGS = {"AUTH_FAILURE_LIMIT": "1000000"}
# What a server log must never hold, whatever a client sent.
BUG_SIGNS = ("Traceback", "bug while serving", "Exception in callback", "never retrieved")


async def run_cases(server: ServerHandle, seed: int, count: int) -> list[tuple[bytes, Outcome]]:
    """Play `count` cases of `seed`, AT_ONCE at a time; each case with its outcome."""
    maker = CaseMaker(seed, server.tokens["alice"])
    cases = [maker.case() for _ in range(count)]
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(case: bytes) -> tuple[bytes, Outcome]:
        async with gate:
            return case, await play(server.host, server.port, case)

    return list(await asyncio.gather(*(one(case) for case in cases)))


def bug_lines(log: str) -> list[str]:
    """The lines of a server log that show a bug."""
    return [line for line in log.splitlines() if any(sign in line for sign in BUG_SIGNS)]


async def test_fuzzed_conversations_get_clear_answers(server_factory: ServerFactory) -> None:
    server = server_factory(**SETTINGS)
    results = await run_cases(server, SEED, CASES)
    known = {code.value for code in ErrorCode}
    for case, outcome in results:
        assert outcome.unreadable is None, (case[:200], outcome.unreadable)
        assert ErrorCode.INTERNAL.value not in outcome.codes, (case[:200], outcome.frames)
        assert set(outcome.codes) <= known, (case[:200], outcome.codes)
    # The run reached past the parsing: bad headers, refusals and stored uploads alike.
    codes = {code for _case, outcome in results for code in outcome.codes}
    assert {"malformed_frame", "bad_header", "unauthorized"} <= codes, codes
    assert any(
        frame.type is FrameType.STORED for _case, outcome in results for frame in outcome.frames
    )
    frames = await upload(server.address, "hunter2", b"2024-05-01 10:00:00,000 INFO after\n")
    assert frames[-1].type is FrameType.STORED
    assert server.process is not None and server.process.poll() is None
    assert bug_lines(server.log()) == []
