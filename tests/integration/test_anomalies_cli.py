"""Categories and anomalies as `python processor.py` reports them, on a log with a known
incident: a burst of database errors in an otherwise steady service."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli

START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
BURST = (100, 103)  # minutes after START, end exclusive


def write_service_log(path: Path, seed: int = 7) -> None:
    """Three hours of a Python service: steady requests, a few slow ones, and from minute
    100 to 103 a burst of failed database connections."""
    rng = random.Random(seed)
    lines = []
    for minute in range(180):
        entries = [
            ("INFO", f"Handled request {rng.randrange(10**6)} in {rng.randrange(900)} ms")
            for _ in range(40)
        ]
        if rng.random() < 0.5:
            entries.append(("WARNING", f"Slow query on shard {rng.randrange(9)}"))
        if BURST[0] <= minute < BURST[1]:
            entries += [
                ("ERROR", f"Database connection to 10.0.0.{rng.randrange(250)} failed")
                for _ in range(30)
            ]
        for number, (level, message) in enumerate(entries):
            stamp = START + timedelta(minutes=minute, seconds=number * 60 // len(entries))
            text = stamp.strftime("%Y-%m-%d %H:%M:%S,000")
            lines.append(f"{text} - app.db - {level} - {message}")
    path.write_text("\n".join(lines) + "\n")


def minute_of(stamp: str) -> float:
    """Minutes after START of an ISO-8601 time."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (moment - START).total_seconds() / 60


def test_a_burst_of_errors_is_found_explained_and_flagged(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    write_service_log(log)
    events_path = tmp_path / "events.jsonl"
    run = run_cli(str(log), "--json", "--events", str(events_path), "--quiet")
    assert run.code == 0, run.err
    report = json.loads(run.out)

    spikes = [a for a in report["anomalies"] if a["kind"] == "error_spike"]
    assert len(spikes) == 1, report["anomalies"]
    spike = spikes[0]
    assert BURST[0] <= minute_of(spike["start"]) < BURST[1]
    assert BURST[0] < minute_of(spike["end"]) <= BURST[1] + 1
    assert "ERROR rate" in spike["explanation"]
    assert "Database connection to <*> failed" in spike["explanation"]
    source = log.read_text().splitlines()
    assert spike["examples"]
    for example in spike["examples"]:
        assert "Database connection to" in source[example["line"] - 1]

    # "Slow query on shard <*>" is about a database too; connections are network as well.
    assert report["categories"]["database"] == 90 + report["levels"]["WARNING"]
    assert report["categories"]["network"] == 90
    database_errors = [t for t in report["top_errors"] if "Database" in t["template"]]
    assert database_errors[0]["categories"][:2] == ["database", "network"]

    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    flagged = [e for e in events if e["anomaly"] == "error_spike"]
    assert flagged and all("Database connection" in e["message"] for e in flagged)
    assert all(BURST[0] <= minute_of(e["ts"]) < BURST[1] + 1 for e in flagged)
    assert all(e["anomaly"] is None for e in events if e["level"] == "INFO")
    assert {e["category"] for e in events if "Database" in e["message"]} == {"database"}


def test_text_report_lists_categories_and_anomalies(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    write_service_log(log)
    run = run_cli(str(log), "--quiet")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert any(line.startswith("Categories (entries") for line in lines)
    assert "  - network: 90" in lines
    anomalies = [line for line in lines if line.startswith("  - [error_spike, score ")]
    assert len(anomalies) == 1 and "Database connection to <*> failed" in anomalies[0]
    assert not any(line.startswith("  - [level_shift") for line in lines)


def test_a_users_category_file_is_used(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    write_service_log(log)
    rules = tmp_path / "categories.toml"
    rules.write_text('[[category]]\nname = "requests"\npattern = "handled request"\n')
    run = run_cli(str(log), "--json", "--quiet", env={"CATEGORIES_FILE": str(rules)})
    assert run.code == 0, run.err
    assert json.loads(run.out)["categories"]["requests"] == 180 * 40


def test_a_bad_category_file_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    write_service_log(log)
    rules = tmp_path / "categories.toml"
    rules.write_text('[[category]]\nname = "broken"\npattern = "(unclosed"\n')
    run = run_cli(str(log), "--quiet", env={"CATEGORIES_FILE": str(rules)})
    assert run.code == 2
    assert "CATEGORIES_FILE" in run.err and "broken" in run.err
    assert run.out == ""


def test_an_entry_dated_far_in_the_future_does_not_stop_the_analysis(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    write_service_log(log)
    with log.open("a") as handle:
        handle.write("9000-01-01 00:00:00,000 - app.db - ERROR - Clock jumped\n")
    run = run_cli(str(log), "--json", "--quiet")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["last_timestamp"].startswith("9000-01-01")
    assert report["levels"]["ERROR"] == 91


def test_events_keep_their_templates_when_patterns_are_folded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loglens.analysis.summary as summary_module
    from loglens.processor.inputs import expand_paths
    from loglens.processor.local import Options, analyse

    # So many distinct messages that the merge folds patterns into templates (the limit is
    # lowered here, in the process that merges; the workers only summarise blocks).
    monkeypatch.setattr(summary_module, "PATTERN_LIMIT", 50)
    rng = random.Random(3)
    log = tmp_path / "cache.log"
    with log.open("w") as handle:
        for n in range(6000):
            stamp = (START + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S,000")
            key = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
            handle.write(f"{stamp} - app.cache - WARNING - Cache miss for {key} entry\n")
    events_path = tmp_path / "events.jsonl"
    sources, problems = expand_paths([str(log)])
    options = Options(workers=1, block_bytes=64 * 1024, events_path=events_path)
    analysis = analyse(sources, options)
    assert not problems and not analysis.problems
    assert analysis.summary.patterns_compacted
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert len(events) == 6000
    assert all(e["template_id"] and e["category"] for e in events)
    assert {e["template_id"] for e in events} == {t.id for t in analysis.templates.values()}
    assert not analysis.summary.aliases.is_empty()  # each folded pattern, for its events

    # Without events nothing needs the folded patterns' aliases (they grow with every
    # fold): none are kept, and every result is the same.
    bare = analyse(sources, replace(options, events_path=None))
    assert bare.summary.patterns_compacted
    assert bare.summary.aliases.is_empty()
    assert bare.templates == analysis.templates
    assert bare.summary.patterns.equals(analysis.summary.patterns)
    assert bare.summary.series.equals(analysis.summary.series)
    assert bare.findings.series.equals(analysis.findings.series)
    assert bare.findings.anomalies == analysis.findings.anomalies
    assert bare.findings.categories == analysis.findings.categories


def test_entries_of_a_template_no_rule_matches_are_what_their_level_makes_them(
    tmp_path: Path,
) -> None:
    log = tmp_path / "widgets.log"
    lines = []
    for n in range(40):
        stamp = (START + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S,000")
        level = "ERROR" if n % 4 == 0 else "INFO"
        lines.append(f"{stamp} - app.widgets - {level} - Widget {n} frobnicated")
    log.write_text("\n".join(lines) + "\n")
    events_path = tmp_path / "events.jsonl"
    run = run_cli(str(log), "--json", "--events", str(events_path), "--quiet")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["categories"] == {"other": 30, "application error": 10}
    assert report["top_errors"][0]["categories"] == ["application error"]
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert {(e["level"], e["category"]) for e in events} == {
        ("ERROR", "application error"),
        ("INFO", "other"),
    }
