"""Anomaly detection against truth: labelled real logs, and generated logs with incidents.

    python benchmarks/bench_anomalies.py [--seeds 5] [--lines 2000000] [--json OUT]
                                         [--keep DIR] [--loghub DIR]

Everything runs the real analyzer (`loglens.processor.local.analyse`, what
`python processor.py PATH --json --events FILE` runs), with no setting tuned to any log.

1. Labelled loghub 2k systems (only BGL has a `Label` column): a line is flagged when its
   event's `anomaly` is not null (events matched to lines by `line`; a line without an
   event is not flagged). Precision, recall and F1 of the flags against the labels, beside
   baselines measured in the same run on the same events: every CRITICAL (FATAL) line,
   every ERROR+ line, every WARNING+ line, every line.

2. Injected incidents (`loglens.synth.incidents`): per seed, a log4j base of `--lines`
   lines with 3 incidents of each kind, in two variants: a steady rate (`pauses=False`)
   and the generator's natural pauses (gaps of up to ~67 s, about every 50 s). An anomaly
   matches an incident when:
   - error_spike: an error_spike or volume_spike anomaly overlaps its window;
   - new_template: a new_template anomaly names a template whose text starts with the
     injected message's constant words (the window is not needed);
   - silence: a silence anomaly overlaps the gap; level_shift: a level_shift overlaps.
   Recall: incidents matched / incidents. Precision of a kind: anomalies of its matching
   kinds that match an incident of that kind / all anomalies of those kinds. Anomalies that
   match nothing are false positives; those starting within `AFTERMATH_MINUTES` after an
   incident's end are counted apart as its aftermath (still false). rare_template anomalies
   match no incident kind: they appear in the "all" row only. The base log is analysed
   alone too: every anomaly there is false by construction.
   Delays, of the earliest matching anomaly: `delay` = its start - the incident's start
   (bucket-aligned, so it can be negative); `known` = when its rule first held (end of its
   first bucket for spikes, of its `SHIFT_RUN`-th for level shifts, of the bucket that
   completes `SILENCE_MINUTES` for silences, of the first minute for new templates) - the
   incident's start. Precision and recall are medians over seeds; delays are medians over
   all found incidents of all seeds; counts are totals.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loglens.analysis.anomalies import (  # noqa: E402
    Anomaly,
    choose_bucket,
)
from loglens.analysis.anomalies.model import SHIFT_RUN, SILENCE_MINUTES  # noqa: E402
from loglens.analysis.findings import timeline_frame  # noqa: E402
from loglens.processor.inputs import expand_paths  # noqa: E402
from loglens.processor.local import Analysis, Options, analyse  # noqa: E402
from loglens.synth import write_log  # noqa: E402
from loglens.synth.incidents import (  # noqa: E402
    BASE_FORMAT,
    BASE_MESS,
    KINDS,
    Incident,
    IncidentSettings,
    incidents_to_json,
    inject,
)

MATCHING: dict[str, tuple[str, ...]] = {
    "error_spike": ("error_spike", "volume_spike"),
    "new_template": ("new_template",),
    "silence": ("silence",),
    "level_shift": ("level_shift",),
}
AFTERMATH_MINUTES = 30
STRENGTH = {
    "error_spike": "extra ERROR rate / usual ERROR+ rate",
    "new_template": "entries a minute",
    "silence": "minutes without entries",
    "level_shift": "share of INFO turned WARNING",
}
PER_KIND = 3
MICROS_PER_MINUTE = 60_000_000
# Per-line baselines: the levels each flags (None: every line).
BASELINES: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("baseline: CRITICAL (FATAL) lines", frozenset({"CRITICAL"})),
    ("baseline: ERROR+ lines", frozenset({"ERROR", "CRITICAL"})),
    ("baseline: WARNING+ lines", frozenset({"WARNING", "ERROR", "CRITICAL"})),
    ("baseline: every line", None),
)


def prf(flags: Sequence[bool], truth: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and F1 of per-line flags (0 where undefined), and the flag count."""
    hits = sum(f and t for f, t in zip(flags, truth, strict=True))
    flagged, relevant = sum(flags), sum(truth)
    precision = hits / flagged if flagged else 0.0
    recall = hits / relevant if relevant else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"flagged": flagged, "precision": precision, "recall": recall, "f1": f1}


def labelled_systems(loghub: Path) -> tuple[list[str], list[str]]:
    """The loghub systems whose structured CSV has a Label column, and those without."""
    with_labels: list[str] = []
    without: list[str] = []
    for csv_path in sorted(loghub.glob("*/*_2k.log_structured_corrected.csv")):
        with csv_path.open(newline="") as handle:
            header = next(csv.reader(handle))
        (with_labels if "Label" in header else without).append(csv_path.parent.name)
    return with_labels, without


def score_labelled(system: str, loghub: Path) -> dict[str, Any]:
    """Per-line flags of the analyzer and of the baselines against a system's labels."""
    folder = loghub / system
    with (folder / f"{system}_2k.log_structured_corrected.csv").open(newline="") as handle:
        labels = {int(row["LineId"]): row["Label"] != "-" for row in csv.DictReader(handle)}
    with tempfile.TemporaryDirectory() as scratch:
        events_path = Path(scratch, "events.jsonl")
        sources, problems = expand_paths([str(folder / f"{system}_2k.log")])
        analysis = analyse(sources, Options(events_path=events_path))
        assert not problems and not analysis.problems, (problems, analysis.problems)
        with events_path.open(encoding="utf-8") as handle:
            by_line = {event["line"]: event for event in map(json.loads, handle)}
    lines = sorted(labels)
    truth = [labels[line] for line in lines]
    rows = [by_line.get(line) for line in lines]
    kinds = [r["anomaly"] if r else None for r in rows]
    scores = {"loglens: anomaly not null": prf([k is not None for k in kinds], truth)}
    # Not a setting: shows how much of the figure one kind costs.
    without = [k is not None and k != "volume_spike" for k in kinds]
    scores["diagnostic: minus volume_spike"] = prf(without, truth)
    for name, levels in BASELINES:
        flags = [r is not None and (levels is None or r["level"] in levels) for r in rows]
        scores[name] = prf(flags, truth)
    by_kind: dict[str, dict[str, int]] = {}
    for kind, alert in zip(kinds, truth, strict=True):
        if kind is not None:
            tally = by_kind.setdefault(kind, {"lines": 0, "alerts": 0})
            tally["lines"] += 1
            tally["alerts"] += alert
    return {
        "lines": len(lines),
        "alerts": sum(truth),
        "anomalies": len(analysis.findings.anomalies),
        "scores": scores,
        "kinds": by_kind,
    }


@dataclass
class RunResult:
    """What one injected log gave: per kind, and the anomalies of the base log alone."""

    incidents: dict[str, int] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    anomalies: dict[str, int] = field(default_factory=dict)  # of the kind's matching kinds
    true: dict[str, int] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)  # seconds
    known: dict[str, list[float]] = field(default_factory=dict)
    missed: list[Incident] = field(default_factory=list)
    detected: list[Incident] = field(default_factory=list)
    false_by_kind: dict[str, int] = field(default_factory=dict)  # anomaly kind -> count
    aftermath: int = 0
    total_anomalies: int = 0
    base_anomalies: dict[str, int] = field(default_factory=dict)


def run_analyzer(path: Path) -> Analysis:
    """Analyse one file as `processor.py` does, on every CPU."""
    sources, problems = expand_paths([str(path)])
    analysis = analyse(sources, Options(workers=os.cpu_count() or 1))
    assert not problems and not analysis.problems, (problems, analysis.problems)
    return analysis


def bucket_minutes(analysis: Analysis) -> int:
    """The bucket size the detector chose for this analysis."""
    timeline = timeline_frame(analysis.summary)
    first, last = int(timeline["minute"].min()), int(timeline["minute"].max())  # type: ignore[arg-type]
    return choose_bucket(first, last, int(timeline["count"].sum()))


def matches(incident: Incident, anomaly: Anomaly, named: dict[str, set[str]]) -> bool:
    """Whether an anomaly finds an incident (see the module docstring)."""
    if anomaly.kind not in MATCHING[incident.kind]:
        return False
    if incident.kind == "new_template":
        return bool(named[incident.template] & set(anomaly.template_ids))
    return anomaly.start < incident.end and anomaly.end > incident.start


def confirmation(kind: str, bucket: int) -> int:
    """Microseconds from an anomaly's start until its rule first held."""
    if kind == "new_template":
        return MICROS_PER_MINUTE
    if kind == "silence":
        return math.ceil(SILENCE_MINUTES / bucket) * bucket * MICROS_PER_MINUTE
    if kind == "level_shift":
        return SHIFT_RUN * bucket * MICROS_PER_MINUTE
    return bucket * MICROS_PER_MINUTE


def score_incidents(
    incidents: list[Incident], analysis: Analysis, base: list[Anomaly]
) -> RunResult:
    """Match the anomalies of an injected log to its incidents."""
    anomalies = analysis.findings.anomalies
    bucket = bucket_minutes(analysis)
    named = {  # the template ids of each injected new message
        i.template: {t.id for t in analysis.templates.values() if t.text.startswith(i.template)}
        for i in incidents
        if i.kind == "new_template"
    }
    result = RunResult(total_anomalies=len(anomalies))
    for kind in KINDS:
        result.incidents[kind] = result.found[kind] = result.true[kind] = 0
        result.delays[kind], result.known[kind] = [], []
        result.anomalies[kind] = sum(a.kind in MATCHING[kind] for a in anomalies)
    for incident in incidents:
        result.incidents[incident.kind] += 1
        found = [a for a in anomalies if matches(incident, a, named)]
        if not found:
            result.missed.append(incident)
            continue
        result.detected.append(incident)
        first = min(found, key=lambda a: a.start)
        result.found[incident.kind] += 1
        result.delays[incident.kind].append((first.start - incident.start) / 1e6)
        known = first.start + confirmation(first.kind, bucket) - incident.start
        result.known[incident.kind].append(known / 1e6)
    for anomaly in anomalies:
        hit = [i for i in incidents if matches(i, anomaly, named)]
        if hit:
            result.true[hit[0].kind] += 1
            continue
        result.false_by_kind[anomaly.kind] = result.false_by_kind.get(anomaly.kind, 0) + 1
        after = AFTERMATH_MINUTES * MICROS_PER_MINUTE
        result.aftermath += any(i.end <= anomaly.start < i.end + after for i in incidents)
    for anomaly in base:
        result.base_anomalies[anomaly.kind] = result.base_anomalies.get(anomaly.kind, 0) + 1
    return result


def run_seed(seed: int, lines: int, pauses: bool, work: Path, keep: bool) -> RunResult:
    """Generate, inject, analyse and score one log (its files removed unless `keep`)."""
    variant = "pauses" if pauses else "steady"
    base, out = work / f"base-{variant}-{seed}.log", work / f"incidents-{variant}-{seed}.log"
    truth = write_log(
        base,
        BASE_FORMAT,
        lines=lines,
        seed=seed,
        mess=BASE_MESS,
        record_templates=True,
        pauses=pauses,
    )
    settings = IncidentSettings(per_kind=PER_KIND)
    incidents = inject(base, truth, out, seed, settings)
    (work / f"incidents-{variant}-{seed}.json").write_text(incidents_to_json(incidents))
    base_anomalies = run_analyzer(base).findings.anomalies
    result = score_incidents(incidents, run_analyzer(out), base_anomalies)
    if not keep:
        base.unlink()
        out.unlink()
    return result


def summarise(results: list[RunResult]) -> dict[str, dict[str, Any]]:
    """Per kind and in all: medians over seeds of precision and recall, totals, delays."""
    table: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        recalls = [r.found[kind] / r.incidents[kind] for r in results if r.incidents[kind]]
        precisions = [r.true[kind] / r.anomalies[kind] for r in results if r.anomalies[kind]]
        delays = [d for r in results for d in r.delays[kind]]
        known = [d for r in results for d in r.known[kind]]
        table[kind] = {
            "incidents": sum(r.incidents[kind] for r in results),
            "found": sum(r.found[kind] for r in results),
            "recall": statistics.median(recalls) if recalls else None,
            "anomalies": sum(r.anomalies[kind] for r in results),
            "false": sum(r.anomalies[kind] - r.true[kind] for r in results),
            "precision": statistics.median(precisions) if precisions else None,
            "delay_s": statistics.median(delays) if delays else None,
            "known_s": statistics.median(known) if known else None,
        }
    everything = [r.total_anomalies for r in results]
    true_all = [sum(r.true.values()) for r in results]
    table["all"] = {
        "incidents": sum(t["incidents"] for t in table.values()),
        "found": sum(t["found"] for t in table.values()),
        "recall": statistics.median(
            sum(r.found.values()) / max(sum(r.incidents.values()), 1) for r in results
        ),
        "anomalies": sum(everything),
        "false": sum(everything) - sum(true_all),
        "precision": statistics.median(
            t / n if n else 1.0 for t, n in zip(true_all, everything, strict=True)
        ),
        "delay_s": None,
        "known_s": None,
        "aftermath": sum(r.aftermath for r in results),
        "false_by_kind": _add(r.false_by_kind for r in results),
        "base_anomalies": _add(r.base_anomalies for r in results),
        "missed": [m.to_dict() for r in results for m in r.missed],
        "detected": [d.to_dict() for r in results for d in r.detected],
    }
    return table


def _add(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return total


def _strengths(items: list[Any]) -> str:
    values = sorted(i["strength"] if isinstance(i, dict) else i for i in items)
    return ", ".join(f"{v:.2f}" for v in values)


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.1%}"


def _secs(value: float | None) -> str:
    return "    n/a" if value is None else f"{value:6.0f}s"


def print_labelled(results: dict[str, dict[str, Any]], without: list[str]) -> None:
    """The per-line table of each labelled system."""
    for system, r in results.items():
        print(
            f"{system} (loghub 2k): {r['lines']:,} lines, {r['alerts']:,} alerts,"
            f" {r['anomalies']} anomalies reported; per-line flags"
        )
        print(f"  {'method':34} {'flagged':>7} {'precision':>9} {'recall':>7} {'F1':>6}")
        for name, s in r["scores"].items():
            print(
                f"  {name:34} {s['flagged']:7d} {s['precision']:9.3f} {s['recall']:7.3f}"
                f" {s['f1']:6.3f}"
            )
        kinds = ", ".join(
            f"{kind} {t['lines']} ({t['alerts']} alerts)" for kind, t in sorted(r["kinds"].items())
        )
        print(f"  lines flagged by kind: {kinds or 'none'}")
    print(f"loghub 2k systems without labels (not scored): {', '.join(without) or 'none'}")


def print_incidents(name: str, table: dict[str, dict[str, Any]]) -> None:
    """The per-kind incident table of one variant."""
    print(name)
    print(
        f"  {'kind':13} {'found':>7} {'recall':>6} {'anomalies':>9} {'false':>5}"
        f" {'precision':>9} {'delay':>7} {'known':>7}"
    )
    for kind, t in table.items():
        print(
            f"  {kind:13} {t['found']:3d}/{t['incidents']:<3d} {_pct(t['recall'])}"
            f" {t['anomalies']:9d} {t['false']:5d} {_pct(t['precision']):>9}"
            f" {_secs(t['delay_s'])} {_secs(t['known_s'])}"
        )
    everything = table["all"]
    false_kinds = ", ".join(f"{k} {n}" for k, n in sorted(everything["false_by_kind"].items()))
    base_kinds = ", ".join(f"{k} {n}" for k, n in sorted(everything["base_anomalies"].items()))
    print(
        f"  false positives by kind: {false_kinds or 'none'}"
        f" ({everything['aftermath']} within {AFTERMATH_MINUTES} min after an incident ends)"
    )
    print(f"  base logs alone (no incident): {base_kinds or 'no anomaly'}")
    for kind in KINDS:
        missed = [i for i in everything["missed"] if i["kind"] == kind]
        if missed:
            found = [i["strength"] for i in everything["detected"] if i["kind"] == kind]
            print(
                f"  missed {kind} {len(missed)}: {STRENGTH[kind]} {_strengths(missed)}"
                f" (found: {_strengths(found) if found else 'none'})"
            )


def main() -> None:
    """Score the labelled systems and the injected incidents; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="logs per variant (5)")
    parser.add_argument("--lines", type=int, default=2_000_000, help="lines per log (2,000,000)")
    parser.add_argument("--loghub", type=Path, default=ROOT.parent / "shared" / "loghub2k")
    parser.add_argument("--json", type=Path, help="also write every figure here as JSON")
    parser.add_argument("--keep", type=Path, help="write the logs and truths here and keep them")
    args = parser.parse_args()
    started = time.perf_counter()
    with_labels, without = labelled_systems(args.loghub)
    labelled = {system: score_labelled(system, args.loghub) for system in with_labels}
    print_labelled(labelled, without)
    variants: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-anomalies-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        for variant, pauses in (("steady", False), ("pauses", True)):
            keep = args.keep is not None
            results = [run_seed(s, args.lines, pauses, work, keep) for s in range(args.seeds)]
            variants[variant] = summarise(results)
            print_incidents(
                f"injected incidents, {variant} rate: {args.seeds} seeds x {args.lines:,} lines"
                f" {BASE_FORMAT}, {PER_KIND} incidents of each kind per log",
                variants[variant],
            )
    elapsed = time.perf_counter() - started
    bgl = labelled.get("BGL", {}).get("scores", {})
    ours, best = bgl.get("loglens: anomaly not null"), bgl.get(BASELINES[0][0])
    steady = variants["steady"]["all"]
    summary = (
        f"summary: BGL F1 {ours['f1']:.3f} (CRITICAL-lines baseline {best['f1']:.3f}); "
        if ours and best
        else "summary: "
    ) + (
        f"incidents (steady) recall {steady['found']}/{steady['incidents']},"
        f" precision {steady['anomalies'] - steady['false']}/{steady['anomalies']};"
        f" {elapsed:.0f} s"
    )
    print(summary)
    if args.json:
        document = {"labelled": labelled, "unlabelled": without, "incidents": variants}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
