"""The frames of a report too big for one control frame: encoded in parts, joined whole;
the bodies no handler can take, refused as malformed when they are decoded."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from loglens.protocol import (
    FRAME_HEAD,
    MAX_ERROR_CHARS,
    MAX_HEADER_BYTES,
    REPORT_PART_BYTES,
    ErrorCode,
    Frame,
    FrameType,
    PeerError,
    UploadHeader,
    check_head,
    check_json,
    decode_body,
    encode,
    encode_error,
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


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"token": "\\ud800"}', "the string at 'token' is not Unicode text"),
        (b'{"name": "a\\udc80"}', "the string at 'name' is not Unicode text"),
        (b'{"\\ud83d": 1}', "a key at the top is not Unicode text"),
        (b"[" * 5000, "nests deeper than 8 levels"),
        (b'{"a": ' * 5000, "nests deeper than 8 levels"),
        (b'{"a": [[[[[[[[[1]]]]]]]]]}', "nests deeper than 8 levels (at 'a'[0]"),
        (b'{"resume": 18446744073709551616}', "the number at 'resume' is out of range"),
        (b'{"size": -9223372036854775809}', "the number at 'size' is out of range"),
        (b'{"mtime": 1e999}', "the number at 'mtime' is out of range"),
        (b'{"mtime": NaN}', "NaN is not a JSON number"),
        (b'{"mtime": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"size": ' + b"9" * 5000 + b"}", "not JSON"),
    ],
)
def test_a_body_no_handler_can_take_is_malformed(payload: bytes, words: str) -> None:
    with pytest.raises(PeerError) as refused:
        decode_body(FrameType.UPLOAD, payload)
    assert refused.value.code is ErrorCode.MALFORMED_FRAME
    assert words in refused.value.message
    assert not refused.value.code.retryable


def test_a_body_at_the_limits_is_decoded() -> None:
    body = {"size": 2**63 - 1, "n": -(2**63 - 1), "name": "é𝄞\x00", "deep": [[[[[[[1]]]]]]]}
    assert decode_body(FrameType.UPLOAD, json.dumps(body).encode()) == body
    assert check_json(body) is None


def test_an_error_frame_is_always_valid_and_bounded() -> None:
    frame = _frames(encode_error(ErrorCode.BAD_HEADER, "not " + "\ud800" * 10_000))[0]
    message = frame.field("message")
    assert message.startswith("not \\ud800") and len(message) <= MAX_ERROR_CHARS


def test_a_stream_header_round_trips_and_carries_no_file_fields() -> None:
    header = UploadHeader("t", "journal", 0, None, resume=7, kind="stream")
    body = header.to_json()
    assert body == {"token": "t", "name": "journal", "kind": "stream", "wait": False,
                    "resume": 7}  # fmt: skip
    assert UploadHeader.from_json(body) == header and header.is_stream
    # A file's header does not name its kind: servers before streams read it as before.
    assert "kind" not in UploadHeader("t", "a.log", 3, None).to_json()
    assert not UploadHeader.from_json({"token": "t", "size": 3, "sha256": None}).is_stream


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"size": 0}, "a stream has no 'size'"),
        ({"mtime": 1.0}, "a stream has no 'mtime'"),
        ({"compression": "gzip"}, "'compression' must be \"none\""),
        ({"resume": 0}, "'resume' must be a stream's upload id"),
        ({"wait": "yes"}, "'wait' must be true or false"),
        ({"kind": 1}, "'kind' must be one of file, stream"),
    ],
)
def test_a_bad_stream_header_names_its_field(extra: dict[str, Any], words: str) -> None:
    with pytest.raises(PeerError, match=re.escape(words)) as raised:
        UploadHeader.from_json({"token": "t", "name": "x", "kind": "stream", **extra})
    assert raised.value.code is ErrorCode.BAD_HEADER
