"""The engine against the generator's ground truth, for every format it writes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from loglens.analysis.report import build_report
from loglens.processor.inputs import expand_paths
from loglens.processor.local import Options, analyse
from loglens.synth import formats
from tests.conftest import MakeLog

REJECTED = ("empty", "binary", "truncated", "unparseable")


def utc(stamp: str | None) -> str:
    """The truth writes +00:00 and trailing zeros; the report writes Z and trims them."""
    assert stamp is not None
    body = stamp.removesuffix("+00:00").removesuffix("Z")
    if "." in body:
        body = body.rstrip("0").rstrip(".")
    return body + "Z"


def analyse_file(path: Path, **options: Any) -> dict[str, Any]:
    sources, problems = expand_paths([str(path)])
    assert not problems
    analysis = analyse(sources, Options(**options))
    assert not analysis.problems
    return build_report(analysis.summary, analysis.templates)


@pytest.mark.parametrize("fmt", formats())
def test_counts_match_the_truth(make_log: MakeLog, fmt: str) -> None:
    path, truth = make_log(fmt, lines=800)
    report = analyse_file(path)
    assert report["lines"] == truth.lines
    assert report["entries"] == truth.entries
    assert report["continuation_lines"] == truth.continuation_lines
    rejected = report["rejected"]
    assert isinstance(rejected, dict)
    assert {r: rejected.get(r, 0) for r in REJECTED} == {r: truth.injected[r] for r in REJECTED}
    assert set(rejected) <= set(REJECTED)
    assert report["repaired"] == (
        {"invalid_encoding": truth.injected["invalid_encoding"]}
        if truth.injected["invalid_encoding"]
        else {}
    )
    if truth.levels_checkable:
        assert report["levels"] == {k: v for k, v in truth.levels.items() if v}
    assert report["first_timestamp"] == utc(truth.first_timestamp)
    assert report["last_timestamp"] == utc(truth.last_timestamp)
    assert report["untimed_entries"] == 0


@pytest.mark.parametrize("fmt", formats())
def test_detected_format_is_confident(make_log: MakeLog, fmt: str) -> None:
    path, truth = make_log(fmt, lines=300)
    (item,) = analyse_file(path)["formats"]
    assert item["format"] != "generic"
    # Every entry the generator writes has a timestamp; where it writes level words, every
    # entry's level is read from its line, not guessed.
    assert item["timestamps"] == 1.0
    assert item["confidence"] == 1.0
    if truth.levels_checkable:
        assert item["levels"] == 1.0
        assert item["expects_levels"] is True
    assert item["layout"]


@pytest.mark.parametrize("fmt", ["log4j", "python", "zookeeper", "jsonl"])
def test_split_into_many_blocks_and_workers_changes_nothing(make_log: MakeLog, fmt: str) -> None:
    path, _ = make_log(fmt, lines=3000)
    whole = analyse_file(path)
    split = analyse_file(path, block_bytes=64 * 1024 // 8, workers=2)
    assert split == whole


def test_a_learned_layout_splits_into_blocks_and_workers_exactly(tmp_path: Path) -> None:
    rows = []
    for n in range(3000):
        level = ("INF", "WRN", "ERR")[n % 3]
        rows.append(f"[77] 2026/12/07 10:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d} [{level}] job {n}")
        if n % 7 == 0:
            rows += [f"PHP Fatal error: Uncaught Exception {n}", "next line of the same entry"]
        if n % 11 == 0:
            rows.append("[77] 2026/12/07 10:0")  # cut inside the header
    path = tmp_path / "unknown.log"
    path.write_text("\n".join(rows) + "\n")
    whole = analyse_file(path)
    assert whole["formats"][0]["format"] == "learned"
    assert whole["entries"] == 3000
    assert whole["continuation_lines"] == 2 * len(range(0, 3000, 7))
    assert whole["rejected"] == {"truncated": len(range(0, 3000, 11))}
    split = analyse_file(path, block_bytes=64 * 1024 // 8, workers=2)
    assert split == whole


def test_a_year_less_log_copied_later_keeps_its_year_rollover(tmp_path: Path) -> None:
    # Written from November to February, copied (mtime) the next December: its February is
    # in the mtime's year, its November in the year before.
    days = [("Nov", 28), ("Dec", 31), ("Jan", 1), ("Feb", 2)]
    path = tmp_path / "messages"
    path.write_text(
        "".join(
            f"{month} {day:2d} 10:00:00 host sshd[1]: event {n}\n"
            for n, (month, day) in enumerate(days)
        )
    )
    copied = datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp()
    os.utime(path, (copied, copied))
    report = analyse_file(path)
    assert report["first_timestamp"] == "2025-11-28T10:00:00Z"
    assert report["last_timestamp"] == "2026-02-02T10:00:00Z"
