"""End-to-end accuracy on the loghub 2k samples: the whole engine, no per-system setting.

    python benchmarks/bench_accuracy.py [LOGHUB_DIR]      (default: ../shared/loghub2k)

Each raw log goes through exactly what `python processor.py FILE --events OUT` does:
format detection, cleaning, multi-line joining, header parsing, template mining. Its
events are then scored against the corrected ground truth, line by line (LineId):
- Content: the event's message equals the CSV's `Content`;
- level: the normalised level equals the CSV's (systems with a real Level column);
- GA (grouping accuracy): the line's template group holds exactly the lines of its
  ground-truth group; PA (parsing accuracy): its template equals the truth's exactly.
Lines that produce no event (rejected or joined to another entry) count as misses.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loglens.processor.inputs import expand_paths  # noqa: E402
from loglens.processor.local import Options, analyse  # noqa: E402

SYSTEMS = ("Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "Spark", "Zookeeper")
# Ground-truth spellings of levels, normalised the way loglens names them.
TRUTH_LEVELS = {
    "notice": "NOTICE", "error": "ERROR", "warn": "WARNING", "warning": "WARNING",
    "info": "INFO", "debug": "DEBUG", "fatal": "CRITICAL", "severe": "CRITICAL",
    "failure": "ERROR", "trace": "TRACE",
}  # fmt: skip
SYSTEMS_WITH_LEVELS = {"Apache", "BGL", "HDFS", "Hadoop", "Spark", "Zookeeper"}


def grouping_accuracy(truth: list[str], predicted: list[str | None]) -> float:
    """Share of lines whose predicted group is exactly their true group (as a set)."""
    true_groups: dict[str, set[int]] = defaultdict(set)
    predicted_groups: dict[str, set[int]] = defaultdict(set)
    for line, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        true_groups[t].add(line)
        if p is not None:
            predicted_groups[p].add(line)
    correct = 0
    for members in true_groups.values():
        first = next(iter(members))
        guess = predicted[first]
        if guess is not None and predicted_groups[guess] == members:
            correct += len(members)
    return correct / len(truth)


def score(system: str, loghub: Path) -> dict[str, float | str]:
    """Run the engine on one system's raw log and compare with its ground truth."""
    folder = loghub / system
    with (folder / f"{system}_2k.log_structured_corrected.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with tempfile.TemporaryDirectory() as scratch:
        events_path = Path(scratch, "events.jsonl")
        sources, problems = expand_paths([str(folder / f"{system}_2k.log")])
        analysis = analyse(sources, Options(events_path=events_path))
        assert not problems and not analysis.problems
        # The whole file decides the schema: `anomaly` is null on most lines, text on a few.
        size = events_path.stat().st_size
        events = pl.read_ndjson(events_path, infer_schema_length=None) if size else pl.DataFrame()
    by_line = {row["line"]: row for row in events.iter_rows(named=True)}
    (info,) = analysis.summary.files.values()
    content = level_hits = level_total = template_hits = 0
    predicted: list[str | None] = []
    for row in rows:
        event = by_line.get(int(row["LineId"]))
        predicted.append(event["template_id"] if event else None)
        if event is None:
            if system in SYSTEMS_WITH_LEVELS:
                level_total += 1
            continue
        content += event["message"] == row["Content"]
        template_hits += event["template"] == row["EventTemplate"]
        if system in SYSTEMS_WITH_LEVELS:
            level_total += 1
            truth = TRUTH_LEVELS.get(row["Level"].strip().lower(), row["Level"].upper())
            level_hits += event["level"] == truth
    total = len(rows)
    return {
        "format": info.format,
        "confidence": info.confidence,
        "content": content / total,
        "level": level_hits / level_total if level_total else float("nan"),
        "ga": grouping_accuracy([row["EventId"] for row in rows], predicted),
        "pa": template_hits / total,
    }


def main() -> None:
    """Score every system and print the table with averages."""
    loghub = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "loghub2k"
    print(
        f"{'system':10} {'format':14} {'conf':>5} {'Content':>8} {'level':>7} {'GA':>6} {'PA':>6}"
    )
    results = {system: score(system, loghub) for system in SYSTEMS}
    for system, r in results.items():
        level = "   n/a" if r["level"] != r["level"] else f"{r['level']:7.1%}"
        print(
            f"{system:10} {r['format']:14} {r['confidence']:5.2f} {r['content']:8.2%} "
            f"{level:>7} {r['ga']:6.3f} {r['pa']:6.3f}"
        )

    def mean(key: str) -> float:
        values = [float(r[key]) for r in results.values() if r[key] == r[key]]
        return sum(values) / len(values)

    print(
        f"{'average':10} {'':14} {'':5} {mean('content'):8.2%} {mean('level'):7.1%} "
        f"{mean('ga'):6.3f} {mean('pa'):6.3f}"
    )
    print("targets: Content >= 99% of lines, GA >= 0.90 on average (Drain, tuned: 0.865)")


if __name__ == "__main__":
    main()
