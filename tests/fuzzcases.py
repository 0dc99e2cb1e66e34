"""Hostile protocol conversations, generated from a seed: for the fuzz test and its benchmark.

A case is the bytes one connection sends, start to end: a handshake (mostly right), then
frames built from well-formed ones and broken on purpose (values of every JSON type and
range in every field, lone surrogates, deep nesting, cut or lying lengths, unknown types,
frames out of order, byte flips), sometimes a whole good upload. `play` sends a case over
a real connection, half-closes it, and reads every frame the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loglens.protocol import (
    FRAME_HEAD,
    HANDSHAKE,
    HANDSHAKE_SIZE,
    MAGIC,
    Frame,
    FrameType,
    PeerError,
    UploadHeader,
    encode,
    read_frame,
)

# Values put in place of a field, or added under a random key.
_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, -(10**30),
    0.5, -0.0, 1e308, 1e-308, "", "x", "\ud800", "\udc80", "a\udfffb", "\x00", "é" * 3,
    "../../etc/passwd", "s3cret\x00", "𝄞", [], {}, [1, "a", None], {"a": {"b": []}},
    "0" * 70, "f" * 64, "F" * 64, "gzip", "none", "zstd",
]  # fmt: skip
_FIELDS = ("token", "name", "size", "sha256", "compression", "wait", "resume", "mtime", "kind")
_TYPES = [int(t) for t in FrameType] + [0x00, 0x04, 0x7F, 0x80, 0xFF]


@dataclass
class Outcome:
    """What the server answered one case."""

    frames: list[Frame] = field(default_factory=list)
    unreadable: str | None = None  # the server sent something that is not a frame

    @property
    def codes(self) -> list[str]:
        """The codes of the ERROR frames."""
        return [str((f.body or {}).get("code")) for f in self.frames if f.type is FrameType.ERROR]


class CaseMaker:
    """Make hostile conversations from one seed; `token` is a valid upload token."""

    def __init__(self, seed: int, token: str) -> None:
        self.random = random.Random(seed)
        self.token = token
        self._makers: list[tuple[int, Callable[[], bytes]]] = [
            (3, self._odd_handshake),
            (20, self._odd_header),
            (8, self._raw_json),
            (6, self._deep),
            (10, self._odd_frames),
            (10, self._odd_upload),
            (6, self._flipped),
            (8, self._stream),
            (3, self._good_upload),
        ]
        self._weights = [weight for weight, _ in self._makers]

    def case(self) -> bytes:
        """The next conversation: the bytes one connection sends."""
        (_, maker) = self.random.choices(self._makers, self._weights)[0]
        return maker()

    # -- the pieces ---------------------------------------------------------------------

    def _data(self) -> bytes:
        count = self.random.randrange(0, 40)
        seed = self.random.randrange(1 << 30)
        return b"".join(b"2024-05-01 10:00:00,000 INFO case %d line %d\n" % (seed, i)
                        for i in range(count))  # fmt: skip

    def _header(self, data: bytes, compression: str = "none") -> dict[str, Any]:
        deferred = self.random.random() < 0.3
        sha256 = None if deferred else hashlib.sha256(data).hexdigest()
        wait = self.random.random() < 0.05
        return UploadHeader(self.token, "fuzz.log", len(data), sha256, compression, wait).to_json()

    def _value(self) -> Any:
        if self.random.random() < 0.15:
            return self._nested(self.random.randrange(1, 40))
        return self.random.choice(_ODD_VALUES)

    def _nested(self, depth: int) -> Any:
        value: Any = self.random.choice(_ODD_VALUES[:6])
        for _ in range(depth):
            value = [value] if self.random.random() < 0.5 else {"k": value}
        return value

    @staticmethod
    def _json(body: Any) -> bytes:
        # ASCII escapes: a lone surrogate goes out as "\ud800", as an attacker writes it.
        return json.dumps(body, ensure_ascii=True).encode()

    def _frame(self, frame_type: int, body: bytes) -> bytes:
        length = len(body)
        roll = self.random.random()
        if roll < 0.05:
            length = self.random.choice([0, length + 1, max(0, length - 1), 2**32 - 1, 2**20])
        return FRAME_HEAD.pack(frame_type, length) + body

    # -- the kinds of case --------------------------------------------------------------

    def _odd_handshake(self) -> bytes:
        roll = self.random.random()
        if roll < 0.4:
            return self.random.randbytes(self.random.randrange(0, 12))
        if roll < 0.7:
            return MAGIC + bytes([self.random.randrange(256)]) + self._upload_frame()
        return HANDSHAKE[: self.random.randrange(HANDSHAKE_SIZE)]

    def _upload_frame(self) -> bytes:
        return encode(FrameType.UPLOAD, self._header(self._data()))

    def _odd_header(self) -> bytes:
        data = self._data()
        body: dict[str, Any] = self._header(data)
        for _ in range(self.random.randrange(1, 4)):
            roll = self.random.random()
            if roll < 0.6:
                body[self.random.choice(_FIELDS)] = self._value()
            elif roll < 0.8:
                body.pop(self.random.choice(_FIELDS), None)
            else:
                key = self.random.choice(["x", "\ud800", "", "token ", "k" * 300])
                body[key] = self._value()
        frames = self._frame(FrameType.UPLOAD, self._json(body))
        if self.random.random() < 0.5:
            frames += encode(FrameType.DATA, data) + encode(FrameType.END)
        return HANDSHAKE + frames

    def _raw_json(self) -> bytes:
        texts = [
            b"", b"{", b"}", b"[]", b"null", b"1", b'"a"', b"{{{", b"\xff\xfe", b"\xc3",
            b'{"token": NaN}', b'{"size": Infinity}', b'{"size": -Infinity}',
            b'{"size": 1e400}', b'{"size": ' + b"9" * 5000 + b"}", b'{"a": "\\ud800"}',
            b'{"a": "\\x"}', b'{"a": 1, "a": 2}', b"\x00" * 10, '{"é": 1}'.encode("utf-16"),
            b'{"token": "\\udc80\\ud800"}', b" " * 1000 + b"{}",
        ]  # fmt: skip
        body = self.random.choice(texts)
        frame_type = self.random.choice(_TYPES)
        return HANDSHAKE + self._frame(frame_type, body)

    def _deep(self) -> bytes:
        depth = self.random.choice([9, 50, 999, 1001, 5000, 20000, 60000])
        opener = self.random.choice([b"[", b'{"a":', b'{"token": "x", "n": ['])
        body = opener * (depth if len(opener) == 1 else min(depth, 60000 // len(opener)))
        if self.random.random() < 0.3:
            body = body[:65536]
        return HANDSHAKE + self._frame(FrameType.UPLOAD, body)

    def _odd_frames(self) -> bytes:
        out = HANDSHAKE
        for _ in range(self.random.randrange(1, 5)):
            frame_type = self.random.choice(_TYPES)
            if frame_type in (FrameType.DATA, FrameType.REPORT_PART):
                body = self.random.randbytes(self.random.randrange(0, 2000))
            elif self.random.random() < 0.5:
                body = self._json({self.random.choice(_FIELDS): self._value()})
            else:
                body = self.random.randbytes(self.random.randrange(0, 100))
            out += self._frame(frame_type, body)
        return out

    def _odd_upload(self) -> bytes:
        """A good header, then a broken rest: wrong END, too many bytes, odd gzip, …"""
        data = self._data()
        compression = "none"
        sent = data
        if self.random.random() < 0.3:
            compression = "gzip"
            sent = gzip.compress(data) if self.random.random() < 0.5 else data
        body = self._header(sent, compression)
        out = HANDSHAKE + encode(FrameType.UPLOAD, body)
        roll = self.random.random()
        if roll < 0.2:
            out += encode(FrameType.DATA, sent + b"extra")
        elif roll < 0.4:
            out += encode(FrameType.DATA, sent[: len(sent) // 2])
        else:
            out += encode(FrameType.DATA, sent)
        end: dict[str, Any] = {}
        if body["sha256"] is None:
            end = {"sha256": hashlib.sha256(sent).hexdigest()}
        if self.random.random() < 0.5:
            end[self.random.choice(["sha256", "x", "\ud800"])] = self._value()
        out += self._frame(FrameType.END, self._json(end))
        if self.random.random() < 0.3:
            out += self._frame(self.random.choice(_TYPES), self._json({}))
        return out

    def _stream(self) -> bytes:
        """A stream: a header (sometimes odd), then bytes of any kind, empty DATA frames,
        odd frames or ENDs, or just the end of the connection."""
        body: dict[str, Any] = {"token": self.token, "name": "fuzz-stream", "kind": "stream"}
        if self.random.random() < 0.3:
            body["resume"] = self.random.choice([1, 2, 10**6, 0, -1, True, "1", None])
        if self.random.random() < 0.3:
            body[self.random.choice(_FIELDS)] = self._value()
        out = HANDSHAKE + self._frame(FrameType.UPLOAD, self._json(body))
        for _ in range(self.random.randrange(0, 6)):
            roll = self.random.random()
            if roll < 0.4:
                out += encode(FrameType.DATA, self._data())
            elif roll < 0.6:
                out += encode(FrameType.DATA, self.random.randbytes(self.random.randrange(2000)))
            elif roll < 0.75:
                out += encode(FrameType.DATA, b"")
            else:
                out += self._frame(self.random.choice(_TYPES), self._json({}))
        if self.random.random() < 0.5:
            out += self._frame(FrameType.END, self._json(self.random.choice([{}, {"x": 1}])))
        return out

    def _flipped(self) -> bytes:
        case = self._good_upload()
        data = bytearray(case)
        for _ in range(self.random.randrange(1, 6)):
            data[self.random.randrange(len(data))] = self.random.randrange(256)
        if self.random.random() < 0.3:
            data = data[: self.random.randrange(len(data))]
        return bytes(data)

    def _good_upload(self) -> bytes:
        data = self._data()
        body = self._header(data)
        end = {} if body["sha256"] is not None else {"sha256": hashlib.sha256(data).hexdigest()}
        data_frame = encode(FrameType.DATA, data) if data else b""
        return HANDSHAKE + encode(FrameType.UPLOAD, body) + data_frame + encode(FrameType.END, end)


async def play(
    host: str, port: int, case: bytes, timeout: float = 60.0, after_stored: float = 5.0
) -> Outcome:
    """Send `case` on a new connection, half-close it, and read what the server answers
    until it closes the connection: its handshake (unless it refused ours), then frames.

    An upload that asked to wait for its analysis may wait long behind other jobs (a fuzz
    run stores hundreds): once STORED is in, at most `after_stored` s more are given.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reader, writer = await asyncio.open_connection(host, port)
    answer = bytearray()
    hung = False
    try:
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout_at(deadline):
                writer.write(case)
                await writer.drain()
                writer.write_eof()
            while True:
                stored = await _ends_with_stored(bytes(answer))
                until = min(deadline, loop.time() + after_stored) if stored else deadline
                try:
                    async with asyncio.timeout_at(until):
                        chunk = await reader.read(1 << 16)
                except TimeoutError:
                    hung = not stored
                    break
                if not chunk:
                    break
                answer += chunk
    except TimeoutError:
        hung = True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    outcome = await parse_answer(bytes(answer))
    if hung:
        outcome.unreadable = f"no end of the answer within {timeout:g} s"
    return outcome


async def _ends_with_stored(answer: bytes) -> bool:
    """Whether the last whole frame of an answer so far is STORED."""
    if not answer:
        return False
    frames = (await parse_answer(answer)).frames
    return bool(frames) and frames[-1].type is FrameType.STORED


async def parse_answer(answer: bytes) -> Outcome:
    """The frames of what a server sent on one connection (after its handshake, if any)."""
    outcome = Outcome()
    frames = asyncio.StreamReader()
    frames.feed_data(answer.removeprefix(HANDSHAKE))
    frames.feed_eof()
    while not frames.at_eof():
        try:
            outcome.frames.append(await read_frame(frames, 2**30, 2**30))
        except asyncio.IncompleteReadError:
            outcome.unreadable = f"a frame cut short at the end of {answer[-40:]!r}"
            break
        except PeerError as exc:
            outcome.unreadable = exc.message
            break
    return outcome
