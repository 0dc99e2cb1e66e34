"""The loglens upload protocol, version 1: the bytes a client and the server exchange.

Everything is big-endian. A connection (plain TCP, or TLS around it) goes like this::

    client                                      server
    "LGLN" 0x01                     ──────▶                       handshake, 5 bytes
                                    ◀──────     "LGLN" 0x01       the server's version
    UPLOAD {header}                 ──────▶
                                    ◀──────     ACCEPTED {upload_id, offset, duplicate}
    DATA bytes[offset:…] …          ──────▶                       any number of frames
                                    ◀──────     PROGRESS {offset} now and then (informative)
    END {} or {sha256}              ──────▶
                                    ◀──────     STORED {upload_id, sha256, size, job_id, …}
                                    ◀──────     REPORT_PART bytes …     only a big report
                                    ◀──────     PROCESSED {…, report}   only if header.wait
    UPLOAD … (another file) or close

**Handshake.** The client sends the 4 magic bytes ``LGLN`` and one byte, its protocol
version (1). The server answers with the magic and its own version. If it does not speak
the client's version it then sends an ERROR frame (``unsupported_version``) and closes.
Version 1 was amended before its first release, and keeps its number: ``sha256`` in
UPLOAD may be null, and END then carries it.

**Frames.** Every later message is a frame: a 1-byte type, a 4-byte unsigned body length,
then the body. Control frames carry a UTF-8 JSON object; DATA carries raw bytes. A receiver
checks the declared length against its limit *before* reading the body, so a peer cannot
make it buffer more than the limit: control bodies at most ``MAX_HEADER_BYTES`` (64 KiB by
default), DATA bodies at most ``MAX_FRAME_BYTES`` (1 MiB by default). An unknown type, a
body that is not a JSON object, or a frame that is not allowed at that point is an error.
A JSON body nests at most ``MAX_JSON_DEPTH`` (8) levels, its numbers are finite and its
integers fit in 64 signed bits, and its strings are Unicode text (no lone surrogate such
as ``"\\ud800"``): anything else is ``malformed_frame``.

**Who may connect.** A new connection gets ``HANDSHAKE_TIMEOUT`` seconds (10 by default)
to send the handshake and an UPLOAD with a valid token; at most
``MAX_HANDSHAKES_PER_ADDRESS`` connections from one address may be at that stage at once
(more are refused with ``server_busy``), and an address that sent ``AUTH_FAILURE_LIMIT``
wrong tokens within ``AUTH_LOCKOUT_SECONDS`` is refused with ``too_many_failures`` for that
long. The server answers a refused connection with its handshake and an ERROR frame.

Client → server:

- ``UPLOAD`` (0x01): ``{"token": str, "name": str, "size": int, "sha256": hex str|null,
  "compression": "none"|"gzip", "wait": bool, "resume": int|null, "mtime": float|null}``.
  ``size`` and ``sha256`` describe the bytes that will be sent (still compressed, for
  gzip). ``sha256`` (64 lowercase hex digits) must be present; ``null`` defers it to END,
  so that a client can hash a big file while sending it instead of before. A deferred
  hash gives up two things: ACCEPTED cannot tell a duplicate (the server recognises
  content it already stores only at END, after receiving the bytes), and a header
  without ``resume`` never resumes an earlier upload. ``name`` is the original file
  name, shown to people and never used as a path (the client writes bytes of a file
  name that are not UTF-8 as ``\\xe9`` escapes).
  ``mtime`` is the file's modification time (seconds since the epoch), which gives
  year-less timestamps (classic syslog) their year, as it does for a local analysis.
  ``resume`` is the id of an earlier upload to take over (after a dropped connection),
  described the same way (``sha256`` equal, or null for both); without it the server
  still resumes the operator's unfinished upload of the same bytes if one is idle.
  With ``"kind": "stream"`` the upload is a *stream* (``client.py --follow``): no
  ``size``, ``sha256``, ``mtime`` or compression; ``resume`` names an open stream to go on
  with. The server answers ACCEPTED with the offset it durably holds, appends DATA as it
  comes, sends PROGRESS as it fsyncs (every 0.2 s), analyses each durable step, and ends
  the stream at END (STORED then gives its size and SHA-256). An empty DATA frame only
  keeps a quiet stream's connection alive. See docs/protocol.md, *A stream*.
- ``DATA`` (0x02): the next bytes of the upload, starting at the offset the server named.
- ``END`` (0x03): all ``size`` bytes have been sent. ``{}`` when the header gave
  ``sha256``; ``{"sha256": hex str}`` when it was null (a ``sha256`` in any other case, or
  none when it is needed, is ``malformed_frame``). The server checks the bytes against
  this hash exactly as against the header's.

Server → client:

- ``ACCEPTED`` (0x81): ``{"upload_id": int, "offset": int, "duplicate": bool}``. The
  server durably holds the first ``offset`` bytes (0 for a new upload); the client sends
  the rest. When the server already stores this content *for this operator*, ``duplicate``
  is true and ``offset`` equals ``size``: the client sends END straight away. Content that
  only other operators uploaded is not taken on the word of its SHA-256 (knowing a hash
  is not holding the bytes, and the results tell what the content says): the client
  sends the bytes, and STORED says ``duplicate`` once they are verified.
- ``PROGRESS`` (0x82): ``{"offset": int}``, bytes durably held so far.
- ``STORED`` (0x83): ``{"upload_id", "sha256", "size", "content_sha256", "content_size",
  "job_id", "duplicate"}``: the upload is fsynced, its SHA-256 verified, and it is
  recorded; ``sha256`` is the verified hash (the header's or END's); ``content_*``
  describe the decompressed content that is analysed. ``duplicate`` is true when the
  content was already stored (stored once, analysed once: this upload shares its job).
- ``PROCESSED`` (0x84): ``{"upload_id", "job_id", "state": "done"|"failed",
  "report": {…}|null, "error": str|null}``: the analysis ended (sent only when asked).
  A report too big for one control frame (``MAX_HEADER_BYTES``, the limit every client
  applies) comes in parts: ``REPORT_PART`` frames first, then PROCESSED with
  ``"report": null`` and ``"report_bytes": int``, the length of the parts together.
- ``REPORT_PART`` (0x85): raw bytes, at most ``REPORT_PART_BYTES`` (64 KiB): the next
  part of the report's UTF-8 JSON. The client joins the parts, checks their length against
  PROCESSED's ``report_bytes`` and decodes them: a report of any size arrives, while no
  frame the server sends is bigger than a client accepts. (Added to version 1; a server
  sends it only for a report that an earlier client refused anyway, as too large.)
- ``ERROR`` (0xEE): ``{"code": str, "message": str}``, then the server closes the
  connection. The codes are the members of `ErrorCode`; ``retryable`` ones may succeed
  if the client reconnects and resumes.
"""

from __future__ import annotations

import enum
import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loglens.errors import ProtocolError

MAGIC = b"LGLN"
VERSION = 1
HANDSHAKE = MAGIC + bytes([VERSION])
HANDSHAKE_SIZE = len(HANDSHAKE)
FRAME_HEAD = struct.Struct(">BI")  # type, body length
MAX_HEADER_BYTES = 64 * 1024
MAX_FRAME_BYTES = 1024 * 1024
COMPRESSIONS = ("none", "gzip")
KINDS = ("file", "stream")
MAX_NAME_CHARS = 1024
# Parts of a big report: no bigger than the control frames every client accepts.
REPORT_PART_BYTES = MAX_HEADER_BYTES
# How deep a control frame's JSON may nest: the bodies are flat, this leaves room to grow.
MAX_JSON_DEPTH = 8
# Integers a body may carry: 64-bit signed, what SQLite stores.
MAX_JSON_INT = 2**63 - 1
# An ERROR frame's message is cut to this length (it may quote what the peer sent).
MAX_ERROR_CHARS = 2000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A lone surrogate: valid in a JSON string escape, not encodable as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


class FrameType(enum.IntEnum):
    """The type byte of a frame."""

    UPLOAD = 0x01
    DATA = 0x02
    END = 0x03
    ACCEPTED = 0x81
    PROGRESS = 0x82
    STORED = 0x83
    PROCESSED = 0x84
    REPORT_PART = 0x85
    ERROR = 0xEE


class ErrorCode(enum.StrEnum):
    """The `code` of an ERROR frame."""

    UNSUPPORTED_VERSION = "unsupported_version"
    MALFORMED_FRAME = "malformed_frame"
    UNEXPECTED_FRAME = "unexpected_frame"
    HEADER_TOO_LARGE = "header_too_large"
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_HEADER = "bad_header"
    UNAUTHORIZED = "unauthorized"
    UPLOAD_TOO_LARGE = "upload_too_large"
    SIZE_MISMATCH = "size_mismatch"
    HASH_MISMATCH = "hash_mismatch"
    BAD_GZIP = "bad_gzip"
    DECOMPRESSED_TOO_LARGE = "decompressed_too_large"
    NOT_RESUMABLE = "not_resumable"
    IDLE_TIMEOUT = "idle_timeout"
    SERVER_BUSY = "server_busy"
    SHUTTING_DOWN = "shutting_down"
    INSUFFICIENT_STORAGE = "insufficient_storage"
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    TOO_MANY_FAILURES = "too_many_failures"
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        """Whether reconnecting (and resuming) may succeed where this failed."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        ErrorCode.IDLE_TIMEOUT,
        ErrorCode.SERVER_BUSY,
        ErrorCode.SHUTTING_DOWN,
        ErrorCode.INTERNAL,
        ErrorCode.INSUFFICIENT_STORAGE,
        ErrorCode.HANDSHAKE_TIMEOUT,
    }
)
_RAW = frozenset({FrameType.DATA, FrameType.REPORT_PART})  # bodies of bytes, not JSON
_CONTROL = frozenset(FrameType) - _RAW


class PeerError(ProtocolError):
    """The peer broke the protocol, or (client side) the server answered with an ERROR."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Frame:
    """One received frame: its type and body (raw for DATA, else the decoded JSON object)."""

    type: FrameType
    data: bytes | memoryview = b""
    body: dict[str, Any] | None = None

    def field(self, name: str) -> Any:
        """A field of the JSON body; PeerError(malformed_frame) when it is missing."""
        if self.body is None or name not in self.body:
            raise PeerError(ErrorCode.MALFORMED_FRAME, f"{self.type.name} frame has no {name!r}")
        return self.body[name]


@dataclass(frozen=True)
class UploadHeader:
    """The body of an UPLOAD frame, validated."""

    token: str
    name: str
    size: int
    sha256: str | None  # None: deferred, END carries it
    compression: str = "none"
    wait: bool = False
    resume: int | None = None
    mtime: float | None = None
    kind: str = "file"  # or "stream": bytes appended for as long as the client follows

    @property
    def is_stream(self) -> bool:
        """A stream, not a file (see docs/protocol.md, *A stream*)."""
        return self.kind == "stream"

    def to_json(self) -> dict[str, Any]:
        """The JSON body of the UPLOAD frame."""
        if self.is_stream:
            return {
                "token": self.token,
                "name": self.name,
                "kind": self.kind,
                "wait": self.wait,
                "resume": self.resume,
            }
        return {
            "token": self.token,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "compression": self.compression,
            "wait": self.wait,
            "resume": self.resume,
            "mtime": self.mtime,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> UploadHeader:
        """Validate an UPLOAD body; PeerError(bad_header) names the first bad field."""
        token, name, size = body.get("token"), body.get("name", ""), body.get("size")
        sha256, compression = body.get("sha256"), body.get("compression", "none")
        wait, resume = body.get("wait", False), body.get("resume")
        mtime, kind = body.get("mtime"), body.get("kind", "file")
        if not isinstance(token, str):
            raise PeerError(ErrorCode.UNAUTHORIZED, "upload refused: the header has no token")
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise _bad(f"'name' must be a string of at most {MAX_NAME_CHARS} characters")
        if kind not in KINDS:
            raise _bad(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "stream":
            return cls._stream(token, name, body)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _bad(f"'size' must be a whole number of bytes, not {size!r}")
        if "sha256" not in body or (sha256 is not None and not _is_sha256(sha256)):
            raise _bad("'sha256' must be 64 lowercase hex digits, or null to give it in END")
        if compression not in COMPRESSIONS:
            raise _bad(
                f"'compression' must be one of {', '.join(COMPRESSIONS)}, not {compression!r}"
            )
        if not isinstance(wait, bool):
            raise _bad("'wait' must be true or false")
        if resume is not None and (not _is_int(resume) or resume < 1):
            raise _bad(f"'resume' must be an upload id or null, not {resume!r}")
        if mtime is not None and (
            not isinstance(mtime, int | float) or isinstance(mtime, bool) or not 0 <= mtime < 2**35
        ):
            raise _bad(f"'mtime' must be seconds since the epoch or null, not {mtime!r}")
        return cls(token, name, size, sha256, compression, wait, resume, mtime)

    @classmethod
    def _stream(cls, token: str, name: str, body: dict[str, Any]) -> UploadHeader:
        """Validate the rest of a stream's UPLOAD: no size, hash or compression (a stream
        has none until it ends, and is sent as it is written)."""
        for field in ("size", "sha256", "mtime"):
            if body.get(field) is not None:
                raise _bad(f"a stream has no '{field}' (it is known only when the stream ends)")
        if body.get("compression", "none") != "none":
            raise _bad("a stream is sent as it is written: 'compression' must be \"none\"")
        wait, resume = body.get("wait", False), body.get("resume")
        if not isinstance(wait, bool):
            raise _bad("'wait' must be true or false")
        if resume is not None and (not _is_int(resume) or resume < 1):
            raise _bad(f"'resume' must be a stream's upload id or null, not {resume!r}")
        return cls(token, name, 0, None, "none", wait, resume, None, "stream")


def end_sha256(header: UploadHeader, end: Frame) -> str:
    """The SHA-256 an upload's bytes must have: the header's, or, when the header deferred
    it (null), the one its END frame carries; PeerError(malformed_frame) if END breaks that
    rule."""
    given = (end.body or {}).get("sha256")
    if header.sha256 is not None:
        if given is not None:
            raise PeerError(
                ErrorCode.MALFORMED_FRAME,
                "END carries 'sha256' only when the UPLOAD header's was null; "
                "this header gave it: send END {}",
            )
        return header.sha256
    if not _is_sha256(given):
        raise PeerError(
            ErrorCode.MALFORMED_FRAME,
            "END must carry 'sha256' (64 lowercase hex digits) when the UPLOAD header's "
            f"was null, not {given!r}",
        )
    assert isinstance(given, str)
    return given


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA256.match(value) is not None


def _bad(message: str) -> PeerError:
    return PeerError(ErrorCode.BAD_HEADER, f"bad upload header: {message}")


class Reader(Protocol):
    """What frames are read from: an `asyncio.StreamReader` or anything like it."""

    async def readexactly(self, n: int, /) -> bytes:
        """Read exactly `n` bytes (IncompleteReadError at the end of the stream)."""
        ...


class IntoReader(Reader, Protocol):
    """A reader that can also fill a buffer it is given (the server's `Stream`)."""

    async def readinto(self, target: memoryview, /) -> None:
        """Fill `target` exactly (IncompleteReadError at the end of the stream)."""
        ...


def encode(frame_type: FrameType, body: dict[str, Any] | bytes | None = None) -> bytes:
    """Encode one frame: raw bytes for DATA, a JSON object for the others."""
    if isinstance(body, bytes | bytearray | memoryview):
        payload = bytes(body)
    else:
        payload = json.dumps(body or {}, separators=(",", ":"), ensure_ascii=False).encode()
    return FRAME_HEAD.pack(frame_type, len(payload)) + payload


def encode_error(code: ErrorCode, message: str) -> bytes:
    """Encode an ERROR frame. A message that quotes what a peer sent is made valid text
    and cut to MAX_ERROR_CHARS, so that every client can read it."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return encode(FrameType.ERROR, {"code": code.value, "message": text})


def check_handshake(data: bytes) -> int:
    """Return the peer's version from its 5 handshake bytes; PeerError if they are not ours."""
    if len(data) != HANDSHAKE_SIZE or not data.startswith(MAGIC):
        raise PeerError(
            ErrorCode.MALFORMED_FRAME,
            "not a loglens client: a connection must start with b'LGLN' and a version byte",
        )
    return data[len(MAGIC)]


async def read_head(
    reader: Reader, max_header: int = MAX_HEADER_BYTES, max_data: int = MAX_FRAME_BYTES
) -> tuple[FrameType, int]:
    """Read a frame's 5-byte head; PeerError unless its type is known and its declared
    length is within the limit of its kind."""
    return check_head(await reader.readexactly(FRAME_HEAD.size), max_header, max_data)


def check_head(
    head: bytes, max_header: int = MAX_HEADER_BYTES, max_data: int = MAX_FRAME_BYTES
) -> tuple[FrameType, int]:
    """Decode a frame's 5-byte head; PeerError unless its type is known and its declared
    length is within the limit of its kind."""
    raw_type, length = FRAME_HEAD.unpack(head)
    try:
        frame_type = FrameType(raw_type)
    except ValueError:
        raise PeerError(ErrorCode.MALFORMED_FRAME, f"unknown frame type 0x{raw_type:02x}") from None
    if frame_type is FrameType.DATA:
        if length > max_data:
            raise PeerError(
                ErrorCode.FRAME_TOO_LARGE,
                f"DATA frame of {length:,} bytes: the server accepts at most {max_data:,} "
                "(MAX_FRAME_BYTES)",
            )
    elif frame_type is FrameType.REPORT_PART:
        if length > REPORT_PART_BYTES:
            raise PeerError(
                ErrorCode.FRAME_TOO_LARGE,
                f"REPORT_PART frame of {length:,} bytes: at most {REPORT_PART_BYTES:,} are "
                "accepted (REPORT_PART_BYTES)",
            )
    elif length > max_header:
        code = (
            ErrorCode.HEADER_TOO_LARGE
            if frame_type is FrameType.UPLOAD
            else (ErrorCode.FRAME_TOO_LARGE)
        )
        raise PeerError(
            code,
            f"{frame_type.name} frame of {length:,} bytes: at most {max_header:,} are accepted "
            "(MAX_HEADER_BYTES)",
        )
    return frame_type, length


async def read_frame(
    reader: Reader, max_header: int = MAX_HEADER_BYTES, max_data: int = MAX_FRAME_BYTES
) -> Frame:
    """Read one frame, checking the declared length against the limits before the body.

    Raises PeerError for a bad frame and `asyncio.IncompleteReadError` when the stream
    ends, at a frame boundary or not (`.partial` tells which).
    """
    frame_type, length = await read_head(reader, max_header, max_data)
    payload = await reader.readexactly(length)
    if frame_type in _RAW:
        return Frame(frame_type, data=payload)
    return Frame(frame_type, body=decode_body(frame_type, payload))


async def read_frame_into(
    reader: IntoReader,
    buffer_for: Callable[[int], memoryview],
    max_header: int = MAX_HEADER_BYTES,
    max_data: int = MAX_FRAME_BYTES,
) -> Frame:
    """Read one frame as `read_frame` does, but a DATA body straight into the buffer that
    `buffer_for(length)` returns (`Frame.data` is then that memoryview)."""
    frame_type, length = await read_head(reader, max_header, max_data)
    if frame_type is FrameType.DATA:
        target = buffer_for(length)
        await reader.readinto(target)
        return Frame(frame_type, data=target)
    payload = await reader.readexactly(length)
    if frame_type in _RAW:
        return Frame(frame_type, data=payload)
    return Frame(frame_type, body=decode_body(frame_type, payload))


def decode_body(frame_type: FrameType, payload: bytes) -> dict[str, Any]:
    """Decode the JSON object of a control frame; PeerError(malformed_frame) if it is not
    one, or if it nests too deep, holds a number out of range or a string that is not
    Unicode text (see `check_json`)."""
    if frame_type not in _CONTROL:
        raise PeerError(ErrorCode.MALFORMED_FRAME, f"{frame_type.name} has no JSON body")
    try:
        body = json.loads(payload or b"{}", parse_constant=_no_constant)
    except RecursionError:
        body = None  # nested thousands deep: said below, like any depth over the limit
        problem: str | None = f"it nests deeper than {MAX_JSON_DEPTH} levels"
    except (UnicodeDecodeError, ValueError) as exc:
        raise PeerError(
            ErrorCode.MALFORMED_FRAME, f"{frame_type.name} frame body is not JSON: {exc}"
        ) from None
    else:
        if not isinstance(body, dict):
            raise PeerError(
                ErrorCode.MALFORMED_FRAME, f"{frame_type.name} frame body must be a JSON object"
            )
        problem = check_json(body)
    if problem is not None:
        raise PeerError(ErrorCode.MALFORMED_FRAME, f"{frame_type.name} frame body: {problem}")
    assert isinstance(body, dict)
    return body


def check_json(value: object) -> str | None:
    """What makes a decoded JSON value unfit for the protocol, or None: nesting deeper than
    MAX_JSON_DEPTH, an integer beyond 64 signed bits, a number that is not finite, a
    string (or key) with a lone surrogate. Checked once here, so that no handler meets
    them (in SQLite, in `str.encode`, in a recursion)."""
    stack: list[tuple[object, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, where = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"it nests deeper than {MAX_JSON_DEPTH} levels (at {where or 'the top'})"
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return f"the string at {where or 'the top'} is not Unicode text (a lone surrogate)"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_JSON_INT <= item <= MAX_JSON_INT:
                return (
                    f"the number at {where or 'the top'} is out of range: integers must fit "
                    "in 64 signed bits"
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"the number at {where or 'the top'} is out of range"
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return f"a key at {where or 'the top'} is not Unicode text (a lone surrogate)"
                name = repr(key[:40])
                stack.append((child, depth + 1, f"{where}[{name}]" if where else name))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))
    return None


def _no_constant(name: str) -> None:
    """Refuse NaN and Infinity, which Python's json accepts and JSON does not."""
    raise ValueError(f"{name} is not a JSON number")


def raise_if_error(frame: Frame) -> Frame:
    """Turn an ERROR frame from the server into PeerError; return any other frame."""
    if frame.type is not FrameType.ERROR:
        return frame
    raw = str(frame.field("code"))
    try:
        code = ErrorCode(raw)
    except ValueError:
        code = ErrorCode.INTERNAL
    raise PeerError(code, str(frame.field("message")))


def encode_processed(body: dict[str, Any]) -> bytes:
    """Encode the answer to a waiting client: one PROCESSED frame, or, when that would be
    over `MAX_HEADER_BYTES`, the report in REPORT_PART frames and then PROCESSED with
    ``"report": null`` and ``"report_bytes"``."""
    whole = encode(FrameType.PROCESSED, body)
    if len(whole) - FRAME_HEAD.size <= MAX_HEADER_BYTES or body.get("report") is None:
        return whole
    report = json.dumps(body["report"], separators=(",", ":"), ensure_ascii=False).encode()
    parts = [
        encode(FrameType.REPORT_PART, report[start : start + REPORT_PART_BYTES])
        for start in range(0, len(report), REPORT_PART_BYTES)
    ]
    rest = encode(FrameType.PROCESSED, {**body, "report": None, "report_bytes": len(report)})
    return b"".join(parts) + rest


def join_report(parts: list[bytes], processed: Frame) -> dict[str, Any]:
    """The body of a PROCESSED frame with its report, joined from the REPORT_PART frames
    before it; PeerError(malformed_frame) if the parts do not make the report it announces."""
    body = dict(processed.body or {})
    declared = body.pop("report_bytes", None)
    if declared is None:
        if parts:
            raise PeerError(
                ErrorCode.MALFORMED_FRAME,
                f"{len(parts)} REPORT_PART frames came before a PROCESSED without 'report_bytes'",
            )
        return body
    received = sum(len(part) for part in parts)
    if not _is_int(declared) or declared != received or body.get("report") is not None:
        raise PeerError(
            ErrorCode.MALFORMED_FRAME,
            f"PROCESSED announces a report of {declared!r} bytes in parts (and 'report' "
            f"null), but {received:,} bytes came in {len(parts)} REPORT_PART frames",
        )
    try:
        report = json.loads(b"".join(parts))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PeerError(
            ErrorCode.MALFORMED_FRAME, f"the report sent in parts is not JSON: {exc}"
        ) from None
    if not isinstance(report, dict):
        raise PeerError(ErrorCode.MALFORMED_FRAME, "the report sent in parts is not a JSON object")
    body["report"] = report
    return body
