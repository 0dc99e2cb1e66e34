"""The synthetic log generator: determinism, truth that matches the bytes, format shapes, CLI."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loglens.synth import (
    CLEAN,
    LEVELS,
    SAMPLE_MESS,
    Generation,
    Mess,
    Truth,
    formats,
    generate,
    templates,
    truth_from_json,
    truth_to_json,
    write_log,
)
from loglens.synth.__main__ import SAMPLES, main

ROOT = Path(__file__).resolve().parents[2]

# One regex per format, written from the format's description rather than from the generator;
# group "level" is the level word where the format writes one.
ENTRY = {
    "syslog": r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w.-]+\[\d+\]: .+",
    "syslog5424": r"<(?P<pri>\d{1,3})>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|[+-]\d\d:\d\d)"
    r" \S+ \S+ \d+ \S+ - .+",
    "apache_access": r"\S+ - \S+ \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
    r'"[A-Z]+ \S+ HTTP/1\.1" \d{3} (?:\d+|-) "[^"]*" "[^"]*"',
    "apache_error": r"\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}\] "
    r"\[(?P<level>\w+)\] .+",
    "nginx_error": r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(?P<level>\w+)\] \d+#\d+: \*\d+ .+",
    "python": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - [\w.]+ - (?P<level>[A-Z]+) - .+",
    "log4j": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) \[[^\]]+\] [\w.$]+: .+",
    "zookeeper": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - (?P<level>[A-Z]+) *"
    r"\[[^\]]+:\w+@\d+\] - .+",
    "hdfs": r"\d{6} \d{6} \d+ (?P<level>[A-Z]+) [\w.$]+: .+",
    "spark": r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d (?P<level>[A-Z]+) [\w.$]+: .+",
    "jsonl": r'\{"ts": "[^"]+", "level": "(?P<level>\w+)", "logger": "[^"]+", "msg": ".+\}',
    "logfmt": r'time=\S+ level=(?P<level>\w+) msg="[^"]*" \S+=\S+.*',
    "bgl": r"(?:-|[A-Z]+) \d{10} \d{4}\.\d\d\.\d\d \S+ \d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.\d{6} \S+"
    r" RAS \w+ (?P<level>[A-Z]+) .+",
}
ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "CRIT": "CRITICAL"}
SEVERITY = {7: "DEBUG", 6: "INFO", 5: "NOTICE", 4: "WARNING", 3: "ERROR", 2: "CRITICAL"}
CONTINUATION = re.compile(r"\s|at |Caused by|Traceback|\.\.\. |[\w.$]+(?:Exception|Error)\b")


def _lines(data: bytes) -> list[bytes]:
    """Split into lines, checking that the data ends with a newline."""
    assert data.endswith(b"\n")
    return data.split(b"\n")[:-1]


def _level(fmt: str, match: re.Match[str]) -> str:
    """Return the canonical level of a matched entry."""
    if fmt == "syslog5424":
        return SEVERITY[int(match["pri"]) % 8]
    word = match["level"].upper()
    return ALIASES.get(word, word)


def test_same_seed_gives_same_bytes() -> None:
    """The same format, seed and mess always produce the same bytes; another seed does not."""
    for fmt in ("log4j", "jsonl", "apache_access"):
        first = b"".join(generate(fmt, 700, seed=3, mess=SAMPLE_MESS))
        assert first == b"".join(generate(fmt, 700, seed=3, mess=SAMPLE_MESS))
        assert first != b"".join(generate(fmt, 700, seed=4, mess=SAMPLE_MESS))


@pytest.mark.parametrize("fmt", formats())
def test_truth_agrees_with_the_bytes(fmt: str) -> None:
    """Counts in the truth are what we count in the bytes ourselves."""
    generation = Generation(fmt, seed=11, lines=1500, mess=SAMPLE_MESS, record_templates=True)
    data = b"".join(generation)
    truth = generation.truth
    lines = _lines(data)
    assert truth.lines == len(lines) == 1500
    assert truth.bytes == len(data)

    binary = [line for line in lines if b"\0" in line]
    assert len(binary) == truth.injected["binary"] > 0
    assert sum(1 for line in lines if line == b"") == truth.injected["empty"] > 0
    text_lines = [line for line in lines if b"\0" not in line]
    invalid = 0
    for line in text_lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
    assert invalid == truth.injected["invalid_encoding"] > 0

    entry = re.compile(ENTRY[fmt])
    levels = dict.fromkeys(LEVELS, 0)
    continuation = 0
    for line in text_lines:
        text = line.decode("utf-8", "replace")
        match = entry.fullmatch(text)
        if match is not None:
            levels[_level(fmt, match) if truth.levels_checkable else "INFO"] += 1
        elif CONTINUATION.match(text):
            continuation += 1
    assert sum(levels.values()) == truth.entries
    if truth.levels_checkable:
        assert levels == truth.levels
    assert continuation == truth.continuation_lines
    if fmt in ("log4j", "python", "hdfs", "spark", "zookeeper"):
        assert truth.continuation_lines > 0

    injected = truth.injected
    assert truth.lines == (
        truth.entries
        + truth.continuation_lines
        + injected["empty"]
        + injected["binary"]
        + injected["truncated"]
        + injected["unparseable"]
    )
    assert injected["truncated"] > 0 and injected["unparseable"] > 0
    assert sum(truth.levels.values()) == truth.entries
    assert truth.levels["INFO"] > truth.entries / 2
    assert truth.entry_templates is not None and len(truth.entry_templates) == truth.entries
    assert truth.templates_used == len(set(truth.entry_templates)) > 50
    assert truth.first_timestamp is not None and truth.last_timestamp is not None
    first = datetime.fromisoformat(truth.first_timestamp)
    assert first.tzinfo is not None and first < datetime.fromisoformat(truth.last_timestamp)


def test_timestamps_in_truth_are_the_written_instants_in_utc() -> None:
    """jsonl entries carry mixed offsets; the truth's first and last are their UTC instants."""
    generation = Generation("jsonl", seed=5, lines=400, mess=SAMPLE_MESS)
    data = b"".join(generation)
    instants = []
    offsets = set()
    for line in _lines(data):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        stamp = datetime.fromisoformat(record["ts"])
        offsets.add(stamp.utcoffset())
        instants.append(stamp.astimezone(UTC))
    assert len(offsets) > 1
    assert instants == sorted(instants)
    assert generation.truth.first_timestamp == instants[0].isoformat(timespec="milliseconds")
    assert generation.truth.last_timestamp == instants[-1].isoformat(timespec="milliseconds")


def test_clean_log_has_only_entries() -> None:
    """With no mess every line is an entry."""
    generation = Generation("hdfs", seed=2, lines=2000, mess=CLEAN)
    data = b"".join(generation)
    assert generation.truth.entries == 2000 == len(_lines(data))
    assert set(generation.truth.injected.values()) == {0}


def test_size_targeting_and_gzip(tmp_path: Path) -> None:
    """A size target is met to within one line, never passed; .gz holds the same bytes."""
    target = 300_000
    plain = tmp_path / "big.log"
    truth = write_log(plain, "log4j", size_bytes=target, seed=9)
    size = plain.stat().st_size
    assert size == truth.bytes and target - 1024 < size <= target
    assert plain.read_bytes().count(b"\n") == truth.lines

    packed = tmp_path / "big.log.gz"
    assert write_log(packed, "log4j", size_bytes=target, seed=9) == truth
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    again = tmp_path / "again.log.gz"
    write_log(again, "log4j", size_bytes=target, seed=9)
    assert again.read_bytes() == packed.read_bytes()


def test_truth_round_trips_through_json() -> None:
    """The truth written as JSON reads back equal."""
    generation = Generation("bgl", seed=1, lines=300, mess=SAMPLE_MESS, record_templates=True)
    b"".join(generation)
    text = truth_to_json(generation.truth)
    assert truth_from_json(text) == generation.truth
    assert json.loads(text)["injected"].keys() == generation.truth.injected.keys()


def test_edge_cases_and_bad_arguments() -> None:
    """Zero lines is an empty log; bad arguments say what is wrong."""
    generation = Generation("python", seed=1, lines=0)
    with pytest.raises(RuntimeError):
        _ = generation.truth
    assert b"".join(generation) == b""
    assert generation.truth == Truth(format="python", seed=1)
    with pytest.raises(ValueError, match="unknown log format 'nope'"):
        Generation("nope", seed=1, lines=1)
    with pytest.raises(ValueError, match="exactly one"):
        Generation("python", seed=1, lines=1, size_bytes=10)
    with pytest.raises(ValueError, match=r"Mess\.binary"):
        Mess(binary=2.0)


def test_every_format_has_hundreds_of_templates() -> None:
    """Each format can draw on at least 300 distinct message templates."""
    for fmt in formats():
        texts = templates(fmt)
        assert len(texts) == len(set(texts)) >= 300


def test_cli_writes_the_samples(tmp_path: Path) -> None:
    """``samples`` writes one small log per format, a .gz copy and every truth."""
    assert main(["samples", str(tmp_path)]) == 0
    logs = sorted(path.name for path in tmp_path.iterdir() if path.is_file())
    assert logs == sorted([f"{fmt}.log" for fmt, _, _ in SAMPLES] + ["log4j.log.gz"])
    assert {fmt for fmt, _, _ in SAMPLES} == set(formats())
    assert sum((tmp_path / name).stat().st_size for name in logs) < 600_000
    for name in logs:
        truth = truth_from_json((tmp_path / "truth" / f"{name}.truth.json").read_text())
        raw = (tmp_path / name).read_bytes()
        raw = gzip.decompress(raw) if name.endswith(".gz") else raw
        assert raw.count(b"\n") == truth.lines and 250 <= truth.lines <= 2000
        assert all(truth.injected.values()), f"{name} lacks a kind of damage: {truth.injected}"


@pytest.mark.parametrize(
    "args",
    [
        ["big", "out.log", "--size", "12XB"],
        ["big", "out.log", "--format", "nope"],
        ["big", "out.log", "--lines", "-5"],
        ["big"],
        ["shuffle"],
    ],
)
def test_cli_rejects_bad_arguments(args: list[str], tmp_path: Path) -> None:
    """Bad arguments end in a usage message and exit status 2, writing nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "loglens.synth", *args],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert not (tmp_path / "out.log").exists()
