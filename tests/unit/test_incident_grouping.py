"""Incidents: related findings grouped by time and shared templates, categories or stream."""

from __future__ import annotations

from typing import Any

import polars as pl

from loglens.analysis.anomalies import Anomaly, TemplateInfo
from loglens.analysis.findings import TEMPLATE_SERIES_SCHEMA
from loglens.analysis.incidents import GAP_MINUTES, group
from loglens.analysis.report import render_text
from loglens.analysis.vocabulary import MICROS_PER_MINUTE

T0 = 28_000_020  # a minute since the epoch (2023-03-28 11:00 UTC)
TEXTS = {
    "db": "Database connection to <*> failed",
    "pool": "Connection pool exhausted after <*> ms",
    "disk": "Disk <*> is full",
    "warn": "Slow request <*>",
}
LEVELS = {"db": "ERROR", "pool": "ERROR", "disk": "ERROR", "warn": "WARNING"}
TEMPLATES = {
    tid: TemplateInfo(
        tid, text, 10, frozenset({LEVELS[tid]}), ("app.log", 1), 10 if LEVELS[tid] == "ERROR" else 0
    )
    for tid, text in TEXTS.items()
}
CATEGORIES = {
    "db": ("database",),
    "pool": ("database",),
    "disk": ("storage",),
    "warn": ("other",),
}


def finding(
    kind: str, start: int, end: int, templates: tuple[str, ...] = (), score: float = 5.0,
    source: str = "",
) -> Anomaly:  # fmt: skip
    """An anomaly from minute offsets after T0."""
    return Anomaly(
        kind,
        score,
        (T0 + start) * MICROS_PER_MINUTE,
        (T0 + end) * MICROS_PER_MINUTE,
        f"{kind} at {start}",
        templates,
        ("ERROR",),
        (("app.log", 10 + start),),
        source,
    )


def test_a_burst_of_related_findings_is_one_incident_and_unrelated_ones_stay_apart() -> None:
    anomalies = [
        finding("error_spike", 30, 35, ("db",), score=12.0),
        finding("new_template", 31, 40, ("pool",), score=7.0),  # same category
        finding("level_shift", 28, 45, score=4.0),  # about the whole stream
        finding("new_template", 200, 201, ("disk",), score=6.5),  # hours later
        finding("rare_template", 33, 34, ("warn",), score=3.0),  # overlaps the spike
    ]
    incidents = group(anomalies, CATEGORIES, TEMPLATES)
    assert [len(i.findings) for i in incidents] == [4, 1]
    burst, disk = incidents
    assert burst.findings == (0, 1, 2, 4)  # best first: places in the anomaly list
    assert (burst.start, burst.end) == (
        (T0 + 28) * MICROS_PER_MINUTE,
        (T0 + 45) * MICROS_PER_MINUTE,
    )
    assert burst.kinds == ("error_spike", "new_template", "level_shift", "rare_template")
    assert burst.score == 12.0 + 3  # its best, plus one per further kind that agrees
    assert burst.categories == ("database",)  # "other" says nothing
    assert burst.title == (
        "Error spike (database): 'Database connection to <*> failed' and 3 more findings"
    )
    assert disk.findings == (3,) and disk.title.startswith("New template (storage)")


def test_overlap_alone_does_not_relate_findings_about_different_things() -> None:
    anomalies = [
        finding("new_template", 30, 40, ("db",), score=7.0),
        finding("new_template", 32, 38, ("disk",), score=6.8),
    ]
    assert [i.findings for i in group(anomalies, CATEGORIES, TEMPLATES)] == [(0,), (1,)]


def test_the_gap_tolerance_joins_close_findings_and_no_more() -> None:
    near = [
        finding("error_spike", 0, 5, ("db",)),
        finding("error_spike", 5 + GAP_MINUTES, 20, ("db",)),
    ]
    far = [near[0], finding("error_spike", 6 + GAP_MINUTES, 20, ("db",))]
    assert len(group(near, CATEGORIES, TEMPLATES)) == 1
    assert len(group(far, CATEGORIES, TEMPLATES)) == 2
    assert len(group(far, CATEGORIES, TEMPLATES, gap_minutes=GAP_MINUTES + 1)) == 1


def test_a_long_finding_links_only_near_its_start() -> None:
    # A template new at minute 0 and seen all day began at minute 0: a spike of the same
    # template at noon is an incident of its own.
    anomalies = [
        finding("new_template", 0, 600, ("db",), score=7.0),
        finding("error_spike", 300, 305, ("db",), score=9.0),
    ]
    assert [i.findings for i in group(anomalies, CATEGORIES, TEMPLATES)] == [(1,), (0,)]


def test_sources_never_share_an_incident() -> None:
    anomalies = [
        finding("error_spike", 0, 5, ("db",), source="a.log"),
        finding("error_spike", 0, 5, ("db",), source="b.log"),
    ]
    incidents = group(anomalies, CATEGORIES, TEMPLATES)
    assert sorted(i.source for i in incidents) == ["a.log", "b.log"]
    assert all(i.title.endswith(f" in {i.source}") for i in incidents)


def test_template_findings_make_an_incident_only_for_a_recurring_new_error() -> None:
    once = {**TEMPLATES, "pool": TemplateInfo("pool", TEXTS["pool"], 2, frozenset({"ERROR"}),
                                              None, 2)}  # fmt: skip
    anomalies = [
        finding("rare_template", 0, 1, ("db",), score=9.0),
        finding("new_template", 100, 101, ("warn",), score=7.0),  # WARNING only
        finding("new_template", 200, 201, ("disk",), score=6.1),  # a new error, 10 entries
        finding("new_template", 300, 301, ("pool",), score=6.1),  # a new error seen twice
        finding("new_template", 300, 310, ("db",), score=6.1),  # ... and one seen 10 times
    ]
    found = group(anomalies, CATEGORIES, once)
    assert [i.findings for i in found] == [(2,), (3, 4)]  # db and pool: both database


def test_a_long_run_of_related_findings_is_cut_into_incidents_of_bounded_span() -> None:
    # A new database error every 5 minutes for 5 hours: each near the last, but not one
    # incident of 5 hours.
    anomalies = [finding("new_template", m, m + 2, ("db",)) for m in range(0, 300, 5)]
    found = group(anomalies, CATEGORIES, TEMPLATES)
    assert len(found) == 5
    assert all(i.end - i.start <= 62 * MICROS_PER_MINUTE for i in found)
    assert sorted(n for i in found for n in i.findings) == list(range(60))


def test_ids_and_order_do_not_depend_on_the_order_findings_come_in() -> None:
    anomalies = [
        finding("error_spike", 30, 35, ("db",), score=12.0),
        finding("new_template", 31, 40, ("pool",), score=7.0),
        finding("silence", 100, 110, score=20.0),
        finding("error_spike", 300, 303, ("disk",), score=12.0),
    ]
    first = group(anomalies, CATEGORIES, TEMPLATES)
    reordered = list(reversed(anomalies))
    second = group(reordered, CATEGORIES, TEMPLATES)
    assert [i.id for i in first] == [i.id for i in second]
    assert len({i.id for i in first}) == 3
    # Best first; equal scores by time.
    assert [i.kinds[0] for i in first] == ["silence", "error_spike", "error_spike"]
    assert first[1].start < first[2].start
    # The findings are places in each list given.
    assert [[anomalies[n] for n in i.findings] for i in first] == [
        [reordered[n] for n in i.findings] for i in second
    ]


def test_the_templates_that_changed_are_measured_against_the_rest_of_the_log() -> None:
    rows = [(T0 + m, "db", "ERROR", 2) for m in range(0, 120)]  # 2 a minute all along
    rows += [(T0 + m, "db", "ERROR", 40) for m in range(60, 65)]  # and 40 more for 5
    rows += [(T0 + m, "pool", "ERROR", 1) for m in range(60, 62)]  # new in the burst
    series = pl.DataFrame(rows, schema=TEMPLATE_SERIES_SCHEMA, orient="row")
    series = series.group_by("minute", "template_id", "level").agg(pl.col("count").sum())
    anomalies = [
        finding("error_spike", 60, 65, ("db",), score=12.0),
        finding("new_template", 60, 62, ("pool",), score=6.5),
    ]
    [incident] = group(anomalies, CATEGORIES, TEMPLATES, series)
    db, pool = incident.templates
    assert (db.template_id, db.entries) == ("db", 5 * 42)
    assert abs(db.expected - 10.0) < 0.01  # 2 a minute over the 5 minutes
    assert (pool.template_id, pool.entries, pool.expected) == ("pool", 2, 0.0)
    assert incident.to_dict()["templates"][0] == {
        "template_id": "db",
        "template": TEXTS["db"],
        "entries": 210,
        "expected": 10.0,
    }


def test_the_text_report_lists_incidents_before_the_anomalies() -> None:
    anomalies = [
        finding("error_spike", 30, 35, ("db",), score=12.0),
        finding("new_template", 31, 40, ("pool",), score=7.0),
    ]
    [incident] = group(anomalies, CATEGORIES, TEMPLATES)
    report: dict[str, Any] = {
        "levels": {}, "top_errors": [], "first_timestamp": None, "last_timestamp": None,
        "entries": 0, "lines": 0, "continuation_lines": 0, "templates": 0,
        "templates_approximate": False, "untimed_entries": 0, "rejected": {},
        "rejected_samples": {}, "repaired": {}, "filtered": {}, "filtered_lines": 0,
        "formats": [], "categories": {},
        "anomalies": [a.to_dict() for a in anomalies],
        "incidents": [incident.to_dict()],
    }  # fmt: skip
    text = render_text(report)
    assert text.index("Incidents: 1") < text.index("Anomalies: 2")
    assert (
        "  - 2023-03-28 11:30:00 to 2023-03-28 11:40:00 [score 13.0, 2 findings] Error spike "
        "(database): 'Database connection to <*> failed' and 1 more finding"
    ) in text


def test_a_broad_finding_is_evidence_for_the_incident_inside_it() -> None:
    anomalies = [
        finding("error_spike", 0, 180, score=11.5),  # a whole upload's error share
        finding("error_spike", 100, 103, ("db",), score=15.0),
        finding("new_template", 100, 103, ("db",), score=8.0),
        finding("silence", 300, 400, score=20.0),  # broad, overlapping no incident
    ]
    found = group(anomalies, CATEGORIES, TEMPLATES)
    assert [i.findings for i in found] == [(3,), (1, 0, 2)]
    # Its window is that of what happened inside it.
    assert (found[1].start, found[1].end) == (anomalies[1].start, anomalies[1].end)
    assert found[1].title.startswith("Error spike")
