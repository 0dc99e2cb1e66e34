"""Partial summaries as files: what a worker hands back for its blocks, without pickle.

A partial is one file, ``STORAGE_PATH/jobs/<job>/<task>.summary``::

    b"LLPART1\\n"  header
    8 bytes        length of the JSON part (big-endian)
    JSON           the counters, samples, per-file facts, heads and tails of the Summary
    3 x (8 bytes length + Arrow IPC stream)   the pattern, series and alias tables

Nothing in it is executed when it is read: JSON and Arrow are data. The worker writes it
to a temporary name and renames it; each run of a task writes a file of its own (a
redelivered task run twice leaves the first run's file as its answer named it), and the
worker's answer carries the file's SHA-256, which the reader checks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from loglens.analysis.summary import (
    ALIAS_SCHEMA,
    PATTERN_SCHEMA,
    SERIES_SCHEMA,
    FileInfo,
    Head,
    Sample,
    Summary,
    Tail,
)
from loglens.errors import InputError

MAGIC = b"LLPART1\n"
_LENGTH = struct.Struct(">Q")
_COUNTERS = ("levels", "rejected", "repaired", "filtered")
_NUMBERS = (
    "lines",
    "bytes",
    "entries",
    "continuation_lines",
    "directive_lines",
    "untimed_entries",
    "filtered_lines",
    "first_ts",
    "last_ts",
)


def dump_summary(summary: Summary, worker: str = "") -> bytes:
    """The bytes of a partial file holding `summary` (and the name of the worker)."""
    head: dict[str, Any] = {name: getattr(summary, name) for name in _NUMBERS}
    head.update({name: list(getattr(summary, name).items()) for name in _COUNTERS})
    head["worker"] = worker
    head["patterns_compacted"] = summary.patterns_compacted
    head["timeline"] = [[minute, level, n] for (minute, level), n in summary.timeline.items()]
    head["rejected_samples"] = [
        [reason, [_sample(s) for s in samples]]
        for reason, samples in summary.rejected_samples.items()
    ]
    head["files"] = [[name, vars(info)] for name, info in summary.files.items()]
    head["part_lines"] = [[name, offset, n] for (name, offset), n in summary.part_lines.items()]
    head["heads"] = [
        [name, h.lines, [_sample(s) for s in h.samples], h.comments, h.leading_comment]
        for name, h in summary.heads.items()
    ]
    head["tails"] = [[name, t.open, t.dropped_by, t.blank] for name, t in summary.tails.items()]
    text = json.dumps(head, separators=(",", ":")).encode()
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(_LENGTH.pack(len(text)))
    out.write(text)
    for table in (summary.patterns, summary.series, summary.aliases):
        frame = io.BytesIO()
        table.write_ipc_stream(frame, compression="lz4")
        out.write(_LENGTH.pack(frame.tell()))
        out.write(frame.getbuffer())
    return out.getvalue()


def load_summary(data: bytes) -> tuple[Summary, str]:
    """The Summary in the bytes of a partial file, and the worker that wrote it."""
    if not data.startswith(MAGIC):
        raise InputError("partial summary: not a loglens partial file (bad header)")
    view = memoryview(data)
    at = len(MAGIC)
    parts: list[bytes] = []
    for _ in range(4):
        if at + _LENGTH.size > len(data):
            raise InputError("partial summary: the file is cut short")
        (length,) = _LENGTH.unpack_from(view, at)
        at += _LENGTH.size
        if at + length > len(data):
            raise InputError("partial summary: the file is cut short")
        parts.append(bytes(view[at : at + length]))
        at += length
    head = json.loads(parts[0])
    summary = Summary(**{name: head[name] for name in _NUMBERS})
    for name in _COUNTERS:
        setattr(summary, name, Counter(dict(head[name])))
    summary.patterns_compacted = bool(head["patterns_compacted"])
    summary.timeline = Counter({(minute, level): n for minute, level, n in head["timeline"]})
    summary.rejected_samples = {
        reason: [_unsample(s) for s in samples] for reason, samples in head["rejected_samples"]
    }
    summary.files = {name: FileInfo(**info) for name, info in head["files"]}
    summary.part_lines = {(name, offset): n for name, offset, n in head["part_lines"]}
    summary.heads = {
        name: Head(lines, [_unsample(s) for s in samples], comments, leading)
        for name, lines, samples, comments, leading in head["heads"]
    }
    summary.tails = {name: Tail(o, d, b) for name, o, d, b in head["tails"]}
    summary.patterns = _table(parts[1], PATTERN_SCHEMA)
    summary.series = _table(parts[2], SERIES_SCHEMA)
    summary.aliases = _table(parts[3], ALIAS_SCHEMA)
    return summary, str(head.get("worker", ""))


def write_partial(path: Path, data: bytes) -> str:
    """Write a partial file atomically (a redelivered task replaces it whole); return
    its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    return hashlib.sha256(data).hexdigest()


def read_partial(path: Path, sha256: str) -> tuple[Summary, str]:
    """Read a partial file whose SHA-256 must be `sha256`; return it and its worker."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"partial summary {path}: cannot read: {exc.strerror}") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InputError(f"partial summary {path}: its SHA-256 is not the one its task sent")
    return load_summary(data)


def _sample(sample: Sample) -> list[Any]:
    return [*sample.pos, sample.text]


def _unsample(raw: list[Any]) -> Sample:
    name, offset, row, text = raw
    return Sample((name, offset, row), text)


def _table(data: bytes, schema: dict[str, Any]) -> pl.DataFrame:
    table = pl.read_ipc_stream(io.BytesIO(data))
    if table.schema != pl.Schema(schema):
        raise InputError(f"partial summary: a table has columns {table.schema}, not {schema}")
    return table
