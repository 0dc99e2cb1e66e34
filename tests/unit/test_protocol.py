"""The frames of a report too big for one control frame: encoded in parts, joined whole."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from loglens.protocol import (
    FRAME_HEAD,
    MAX_HEADER_BYTES,
    REPORT_PART_BYTES,
    Frame,
    FrameType,
    PeerError,
    check_head,
    encode,
    encode_processed,
    join_report,
    read_frame,
)


def _frames(data: bytes) -> list[Frame]:
    async def read_all() -> list[Frame]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        frames = []
        while not reader.at_eof():
            frames.append(await read_frame(reader))
        return frames

    return asyncio.run(read_all())


def _body(report: dict[str, Any] | None) -> dict[str, Any]:
    return {"upload_id": 1, "job_id": 2, "state": "done", "report": report, "error": None}


def test_a_small_report_is_one_processed_frame() -> None:
    body = _body({"entries": 3})
    assert encode_processed(body) == encode(FrameType.PROCESSED, body)


def test_a_big_report_comes_in_parts_that_join_whole() -> None:
    report = {"examples": ["é" * 1000 + str(i) for i in range(300)]}  # multi-byte splits
    frames = _frames(encode_processed(_body(report)))
    *parts, processed = frames
    assert len(parts) > 2 and {f.type for f in parts} == {FrameType.REPORT_PART}
    assert all(len(f.data) <= REPORT_PART_BYTES for f in parts)
    assert processed.type is FrameType.PROCESSED and processed.body is not None
    assert processed.body["report"] is None
    assert processed.body["report_bytes"] == sum(len(f.data) for f in parts)
    assert join_report([bytes(f.data) for f in parts], processed) == _body(report)


def test_parts_that_do_not_add_up_are_malformed() -> None:
    report = {"examples": ["x" * 1000] * 200}
    *parts, processed = _frames(encode_processed(_body(report)))
    with pytest.raises(PeerError, match="REPORT_PART"):
        join_report([bytes(f.data) for f in parts[:-1]], processed)
    with pytest.raises(PeerError, match="without 'report_bytes'"):
        join_report([b"{}"], Frame(FrameType.PROCESSED, body=_body(None)))


def test_a_report_part_over_its_bound_is_refused_before_its_body() -> None:
    head = FRAME_HEAD.pack(FrameType.REPORT_PART, REPORT_PART_BYTES + 1)
    with pytest.raises(PeerError, match="REPORT_PART_BYTES"):
        check_head(head, max_header=10 * MAX_HEADER_BYTES)
    assert json.loads(encode(FrameType.END)[FRAME_HEAD.size :]) == {}
