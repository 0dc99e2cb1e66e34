"""Incidents against truth: injected incidents found once each, and quiet logs left quiet.

    python benchmarks/bench_incidents.py [--seeds 3] [--lines 2000000]
                                         [--formats log4j,python,jsonl]
                                         [--quiet-lines 1000000] [--quiet-formats F,F]
                                         [--json OUT]

Everything runs the real analyzer (`loglens.processor.local.analyse`, what
`python processor.py PATH` runs); the incidents are `Findings.incidents`, as stored and
served. Nothing is tuned to these logs.

1. Injected incidents (`loglens.synth.incidents`): per seed, a base of `--lines` lines with
   3 incidents of each kind, in two variants, a steady rate and the generator's natural
   pauses. The injector writes log4j; each log is also rewritten, entry for entry, in the
   other `--formats` (Python logging's `stamp - logger - LEVEL - message`, JSON lines) and
   analysed again. An incident found *matches* an injected one when
   its window overlaps the injected window, or (a new template) one of its findings names
   a template whose text starts with the injected message's constant words (a finding's
   own window does not count: one about a long stretch would match everything).
   Incident-level recall: injected incidents matched by some incident / injected.
   Incident-level precision: incidents matching some injected incident / incidents.
   Context from the same run: the anomalies (rows a reader would go through without
   incidents) and their precision under the same matching, and how many injected
   incidents were split over more than one incident.

2. Quiet logs: a steady log of `--quiet-lines` lines with no incident, in each of
   `--quiet-formats`: incidents reported (target at most 3), beside the anomalies.

The time to group findings into incidents is reported beside the analysis time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loglens.analysis.anomalies import Anomaly  # noqa: E402
from loglens.analysis.incidents import Incident, group  # noqa: E402
from loglens.processor.inputs import expand_paths  # noqa: E402
from loglens.processor.local import Analysis, Options, analyse  # noqa: E402
from loglens.synth import write_log  # noqa: E402
from loglens.synth.incidents import (  # noqa: E402
    BASE_FORMAT,
    BASE_MESS,
    IncidentSettings,
    inject,
)
from loglens.synth.incidents import Incident as Injected  # noqa: E402

PER_KIND = 3
FORMATS = ("log4j", "python", "jsonl")
_LOG4J = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w+)\s+\[(.*?)\] (\S+): (.*)$")
QUIET_TARGET = 3
TARGET = 0.95


@dataclass
class Run:
    """What one injected log gave."""

    name: str
    injected: int = 0
    found: int = 0  # injected incidents matched
    split: int = 0  # injected incidents matched by more than one incident
    incidents: int = 0
    true_incidents: int = 0
    anomalies: int = 0
    true_anomalies: int = 0
    seconds: float = 0.0
    group_ms: float = 0.0
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)


def run_analyzer(path: Path) -> tuple[Analysis, float]:
    """Analyse one file as `processor.py` does, on every CPU; the analysis and its seconds."""
    sources, problems = expand_paths([str(path)])
    began = time.perf_counter()
    analysis = analyse(sources, Options(workers=os.cpu_count() or 1))
    assert not problems and not analysis.problems, (problems, analysis.problems)
    return analysis, time.perf_counter() - began


def grouping_ms(analysis: Analysis) -> float:
    """Milliseconds to group the analysis' findings again (median of 3)."""
    findings = analysis.findings
    times = []
    for _ in range(3):
        began = time.perf_counter()
        group(findings.anomalies, findings.template_categories, findings.templates, findings.series)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def anomaly_matches(injected: Injected, anomaly: Anomaly, named: dict[str, set[str]]) -> bool:
    """Whether one finding points at an injected incident (window, or its new template)."""
    if injected.kind == "new_template" and named[injected.template] & set(anomaly.template_ids):
        return True
    return anomaly.start < injected.end and anomaly.end > injected.start


def incident_matches(
    injected: Injected, incident: Incident, anomalies: list[Anomaly], named: dict[str, set[str]]
) -> bool:
    """Whether an incident found is the injected one: its window overlaps the injected
    window, or (a new template) one of its findings names the injected template. Not any
    finding's window: a finding about a long stretch would match everything."""
    if incident.start < injected.end and incident.end > injected.start:
        return True
    if injected.kind != "new_template":
        return False
    return any(named[injected.template] & set(anomalies[i].template_ids) for i in incident.findings)


def score(name: str, injected: list[Injected], analysis: Analysis, seconds: float) -> Run:
    """Match the incidents (and, for context, the anomalies) of a log to its truth."""
    anomalies = analysis.findings.anomalies
    incidents = analysis.findings.incidents
    named = {
        i.template: {t.id for t in analysis.templates.values() if t.text.startswith(i.template)}
        for i in injected
        if i.kind == "new_template"
    }
    run = Run(name, len(injected), incidents=len(incidents), anomalies=len(anomalies))
    run.seconds, run.group_ms = seconds, grouping_ms(analysis)
    for truth in injected:
        hits = [i for i in incidents if incident_matches(truth, i, anomalies, named)]
        run.found += bool(hits)
        run.split += len(hits) > 1
        if not hits:
            run.missed.append(f"{truth.kind} {truth.to_dict()['start']}: {truth.detail}")
    for incident in incidents:
        if any(incident_matches(t, incident, anomalies, named) for t in injected):
            run.true_incidents += 1
        else:
            run.false.append(f"{incident.title} (score {incident.score:.1f})")
    run.true_anomalies = sum(any(anomaly_matches(t, a, named) for t in injected) for a in anomalies)
    return run


def rewrite(source: Path, fmt: str, out: Path) -> None:
    """Write the injected log4j log `source` as `fmt` (``python``: `stamp - logger - LEVEL -
    message`, its continuation lines as they are; ``jsonl``: one object per entry, its
    continuation lines joined to the message): the same entries and times in another
    format, since the injector writes log4j only."""
    with source.open(encoding="utf-8") as lines, out.open("w", encoding="utf-8") as sink:
        entry: dict[str, str] | None = None
        for raw in lines:
            line = raw.rstrip("\n")
            header = _LOG4J.match(line)
            if header is None:
                if fmt == "jsonl" and entry is not None:
                    entry["message"] += "\n" + line
                else:
                    sink.write(line + "\n")
                continue
            stamp, level, _thread, logger, message = header.groups()
            if fmt == "python":
                sink.write(f"{stamp} - {logger} - {level} - {message}\n")
                continue
            if entry is not None:
                sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
            at = stamp.replace(" ", "T").replace(",", ".") + "Z"
            entry = {"timestamp": at, "level": level, "logger": logger, "message": message}
        if entry is not None:
            sink.write(json.dumps(entry, ensure_ascii=False) + "\n")


def injected_runs(seed: int, lines: int, pauses: bool, formats: list[str], work: Path) -> list[Run]:
    """Generate and inject one log, analyse it in each of `formats` and score each; its
    files removed after."""
    variant = "pauses" if pauses else "steady"
    base, out = work / f"base-{variant}-{seed}.log", work / f"incidents-{variant}-{seed}.log"
    truth = write_log(
        base, BASE_FORMAT, lines=lines, seed=seed, mess=BASE_MESS, record_templates=True,
        pauses=pauses,
    )  # fmt: skip
    injected = inject(base, truth, out, seed, IncidentSettings(per_kind=PER_KIND))
    base.unlink()
    runs = []
    for fmt in formats:
        path = out
        if fmt != BASE_FORMAT:
            path = work / f"incidents-{variant}-{seed}.{fmt}.log"
            rewrite(out, fmt, path)
        analysis, seconds = run_analyzer(path)
        if path != out:
            path.unlink()
        runs.append(score(f"{fmt} {variant} seed {seed}", injected, analysis, seconds))
    out.unlink()
    return runs


def quiet_run(fmt: str, lines: int, seed: int, work: Path) -> dict[str, Any]:
    """Incidents and anomalies of a steady log with nothing injected."""
    path = work / f"quiet-{fmt}.log"
    write_log(path, fmt, lines=lines, seed=seed, pauses=False)
    analysis, seconds = run_analyzer(path)
    path.unlink()
    findings = analysis.findings
    return {
        "format": fmt,
        "lines": lines,
        "entries": analysis.summary.entries,
        "incidents": len(findings.incidents),
        "anomalies": len(findings.anomalies),
        "titles": [i.title for i in findings.incidents],
        "seconds": round(seconds, 1),
        "group_ms": round(grouping_ms(analysis), 1),
    }


def ratio(part: int, whole: int) -> float:
    """part / whole, 1.0 when there is nothing to count."""
    return part / whole if whole else 1.0


def main() -> None:
    """Score the injected logs and the quiet ones; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--quiet-lines", type=int, default=1_000_000)
    parser.add_argument("--quiet-formats", default="log4j,python,syslog")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs: list[Run] = []
    quiet: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-incidents-") as scratch:
        work = Path(scratch)
        formats = [f for f in args.formats.split(",") if f]
        for seed, pauses in ((seed, pauses) for seed in range(args.seeds) for pauses in (0, 1)):
            for run in injected_runs(seed, args.lines, bool(pauses), formats, work):
                runs.append(run)
                print(
                    f"{run.name}: {run.found}/{run.injected} injected found, "
                    f"{run.true_incidents}/{run.incidents} incidents true, "
                    f"{run.true_anomalies}/{run.anomalies} anomalies true, {run.split} split; "
                    f"analysis {run.seconds:.1f} s, grouping {run.group_ms:.1f} ms",
                    flush=True,
                )
                for line in run.missed:
                    print(f"    missed: {line}")
                for line in run.false:
                    print(f"    false: {line}")
        for fmt in [f for f in args.quiet_formats.split(",") if f]:
            item = quiet_run(fmt, args.quiet_lines, 11, work)
            quiet.append(item)
            print(
                f"quiet {fmt} ({item['lines']:,} lines, {item['entries']:,} entries): "
                f"{item['incidents']} incidents, {item['anomalies']} anomalies; "
                f"analysis {item['seconds']} s, grouping {item['group_ms']} ms",
                flush=True,
            )
    injected = sum(r.injected for r in runs)
    found = sum(r.found for r in runs)
    incidents = sum(r.incidents for r in runs)
    true_incidents = sum(r.true_incidents for r in runs)
    anomalies = sum(r.anomalies for r in runs)
    true_anomalies = sum(r.true_anomalies for r in runs)
    summary = {
        "runs": len(runs),
        "injected": injected,
        "recall": ratio(found, injected),
        "precision": ratio(true_incidents, incidents),
        "recall_min_run": min((ratio(r.found, r.injected) for r in runs), default=1.0),
        "precision_min_run": min((ratio(r.true_incidents, r.incidents) for r in runs), default=1.0),
        "incidents": incidents,
        "split": sum(r.split for r in runs),
        "context_anomalies": anomalies,
        "context_anomaly_precision": ratio(true_anomalies, anomalies),
        "quiet": quiet,
        "quiet_worst": max((q["incidents"] for q in quiet), default=0),
    }
    print()
    print(f"injected incidents: {len(runs)} logs, {injected} incidents")
    print(
        f"  incident recall    {summary['recall']:.3f} (worst log {summary['recall_min_run']:.3f})"
        f"  target >= {TARGET}"
    )
    print(
        f"  incident precision {summary['precision']:.3f} "
        f"(worst log {summary['precision_min_run']:.3f})  target >= {TARGET}"
    )
    print(
        f"  context: {anomalies} anomaly rows -> {incidents} incidents "
        f"({anomalies / max(1, incidents):.2f} rows per incident); anomaly-row precision "
        f"{summary['context_anomaly_precision']:.3f}; injected split over >1 incident: "
        f"{summary['split']}"
    )
    print(
        f"quiet logs: at most {summary['quiet_worst']} incidents per log (target <= {QUIET_TARGET})"
    )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
