"""Incidents through the stack: stored with the results (SQLite, then PostgreSQL), read by
the Reader with their findings beneath, served by `/incidents` in each operator's scope,
and listed by `loglens query incidents` and the classic report."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from loglens.analysis.findings import find
from loglens.analysis.report import build_report, render_text
from loglens.errors import StorageError
from loglens.processor.local import Options, analyse
from loglens.processor.options import file_source
from loglens.storage import SCHEMA_VERSION, Database
from loglens.storage.dialect import Target
from loglens.storage.read.filters import Filters, IncidentFilters, Page, QueryError
from loglens.storage.read.queries import Reader
from loglens.storage.write.results import results_from_analysis
from tests.conftest import run_cli
from tests.integration.conftest import TOKENS, make_version_5
from tests.integration.postgres import sql_rows
from tests.integration.test_findings import (  # noqa: F401 (the fixture)
    DB_TEMPLATE,
    World,
    service_log,
    world,
)
from tests.integration.test_query_cli import query

CREATE = (1234, "5" * 64, "none")


def analysed(path: Path, name: str) -> tuple[dict[str, Any], Any]:
    """The report and rows of a real analysis of `path`, shown as `name`."""
    analysis = analyse([file_source(path, name)], Options())
    assert not analysis.problems
    report = build_report(analysis.summary, analysis.templates, 5, analysis.findings)
    rows = results_from_analysis(analysis.summary, analysis.templates, report, analysis.findings)
    return report, rows


async def stored(db: Database, operator: str, content: str, name: str, results: Any) -> int:
    """An upload of `operator` stored and analysed with `results`; its id."""
    upload_id = await db.create_upload(operator, name, *CREATE)
    await db.store_upload(upload_id, content, 10, f"blobs/{content}")
    job = await db.job_for_upload(upload_id)
    assert job is not None
    if job.state != "done":  # a content analysed before is not analysed again
        assert await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", results)
    return upload_id


def comparable(item: dict[str, Any]) -> dict[str, Any]:
    """An incident of the Reader as the report has it (times without their fraction)."""
    keys = ("incident_id", "title", "score", "source", "kinds", "categories", "finding_count",
            "templates")  # fmt: skip
    return {k: item[k] for k in keys} | {"start": item["start"], "end": item["end"]}


async def test_incidents_are_stored_and_read_with_their_findings(
    database: Target, tmp_path: Path
) -> None:
    spike_report, spike_rows = analysed(service_log(tmp_path / "a" / "svc.log", True), "svc.log")
    _calm, calm_rows = analysed(service_log(tmp_path / "b" / "svc.log", False), "svc.log")
    [burst] = spike_report["incidents"]  # the database errors, and their new template, once
    assert {"error_spike", "new_template"} <= set(burst["kinds"])
    assert burst["finding_count"] >= 2 and "database" in burst["categories"]
    # What changed: the database template (INFO ones are counted per hour: not measured
    # over a 3-minute incident).
    assert [(t["template"], t["entries"], t["expected"]) for t in burst["templates"]] == [
        (DB_TEMPLATE, 120, 0.0)
    ]
    async with await Database.open(database) as db:
        alice = await stored(db, "alice", "a" * 64, "svc.log", spike_rows)
        bob = await stored(db, "bob", "b" * 64, "svc.log", calm_rows)
        bobs_copy = await stored(db, "bob", "a" * 64, "copy.log", spike_rows)  # same content
    rows = sql_rows(
        database,
        "SELECT upload_id, incident_key, title, findings FROM upload_incidents ORDER BY upload_id",
    )
    assert rows == [
        (alice, burst["incident_id"], burst["title"], burst["finding_count"]),
        (bobs_copy, burst["incident_id"], burst["title"], burst["finding_count"]),
    ]
    async with await Reader.open(database) as reader:
        items, total = await reader.incidents(Filters(), Page())
        assert total == 1  # each content once, with its first upload
        [item] = items
        assert comparable(item) == {k: v for k, v in burst.items() if k != "findings"}
        assert item["upload_id"] == alice and item["original_name"] == "svc.log"
        # The findings beneath are the report's anomalies at the incident's places, in order.
        places = [spike_report["anomalies"][n] for n in burst["findings"]]
        assert [(f["kind"], f["explanation"]) for f in item["findings"]] == [
            (a["kind"], a["explanation"]) for a in places
        ]
        assert [f["examples"] for f in item["findings"]] == [a["examples"] for a in places]
        assert len(item["findings"]) == item["finding_count"] == len(burst["findings"])
        few, _ = await reader.incidents(Filters(), Page(), findings=1)
        assert len(few[0]["findings"]) == 1
        # Operators see their own uploads' incidents only; bob's copy stands for the content.
        assert (await reader.incidents(Filters(owner="bob"), Page()))[0][0][
            "upload_id"
        ] == bobs_copy
        assert await reader.incidents(Filters(upload=bob), Page()) == ([], 0)
        # Filters: window, level, kind, category, score, template.
        db_id = burst["templates"][0]["template_id"]
        cases: list[tuple[Filters, IncidentFilters, int]] = [
            (Filters(start=_at("12:41")), IncidentFilters(), 1),
            (Filters(start=_at("12:59")), IncidentFilters(), 0),
            (Filters(end=_at("12:30")), IncidentFilters(), 0),
            (Filters(level="ERROR"), IncidentFilters(), 1),
            (Filters(level="DEBUG"), IncidentFilters(), 0),
            (Filters(), IncidentFilters(kind="error_spike"), 1),
            (Filters(), IncidentFilters(kind="silence"), 0),
            (Filters(), IncidentFilters(category="database"), 1),
            (Filters(), IncidentFilters(category="security"), 0),
            (Filters(), IncidentFilters(min_score=burst["score"]), 1),
            (Filters(), IncidentFilters(min_score=burst["score"] + 0.1), 0),
            (Filters(), IncidentFilters(template_id=db_id), 1),
            (Filters(), IncidentFilters(template_id="0" * 12), 0),
        ]
        for f, i, count in cases:
            assert (await reader.incidents(f, Page(), i))[1] == count, (f, i)
        with pytest.raises(QueryError, match="sort='size' is unknown"):
            await reader.incidents(Filters(), Page(sort="size"))
        with pytest.raises(QueryError, match="findings=500"):
            await reader.incidents(Filters(), Page(), findings=500)
        # The classic report over the database lists the incident as the local one does.
        stats = await reader.stats(Filters(upload=alice))
    assert stats["incidents_total"] == 1 and stats["incidents"][0]["findings"] == []
    local = render_text(spike_report)
    served = render_text(stats)
    part = local.split("Incidents:")[1].split("Anomalies:")[0]
    assert part and "Incidents:" + part in served
    with pytest.raises(QueryError, match="category=''"):
        IncidentFilters(category="")


def _at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2024-05-01T{clock}:00").replace(tzinfo=UTC)


def test_find_groups_a_real_burst_into_one_incident(tmp_path: Path) -> None:
    analysis = analyse([file_source(service_log(tmp_path / "svc.log", True), "svc.log")], Options())
    again = find(analysis.summary, analysis.templates)
    assert [i.id for i in again.incidents] == [i.id for i in analysis.findings.incidents]
    [incident] = analysis.findings.incidents
    assert incident.title.startswith("Error spike (database")
    assert len(incident.findings) < len(analysis.findings.anomalies) or len(incident.findings) >= 2


# the HTTP API and the CLI (the server's SQLite database) ------------------------------


def test_api_incidents_equal_the_reader_in_each_operators_scope(world: World) -> None:  # noqa: F811
    api = world.api
    page = api.ok("/incidents", limit=5)
    items, total = world.read("incidents", Filters(), Page(limit=5))
    assert page == {"total": total, "limit": 5, "offset": 0, "items": items}
    assert total >= 1 and all(item["findings"] for item in page["items"])
    mine = {"alice": set(world.ids[:2]), "bob": set(world.ids[2:])}
    for operator, token in TOKENS.items():
        seen = api.ok("/incidents", token=token, limit=1000)
        assert {i["upload_id"] for i in seen["items"]} <= mine[operator], operator
        assert seen["total"] == world.read("incidents", Filters(owner=operator), Page())[1]
    # alice's spike, through her upload; bob cannot read her upload at all.
    one = api.ok(f"/uploads/{world.ids[0]}/incidents", token=TOKENS["alice"], findings=0)
    assert one["total"] == len(world.reports[0]["incidents"]) >= 1
    assert [i["incident_id"] for i in one["items"]] == [
        i["incident_id"] for i in world.reports[0]["incidents"]
    ]
    assert all(i["findings"] == [] for i in one["items"])
    assert api.get(f"/uploads/{world.ids[0]}/incidents", token=TOKENS["bob"]).status == 404
    assert api.get("/uploads/999999/incidents").status == 404
    # Paged: two pages of one are the first two of one page of two.
    two = api.ok("/incidents", limit=2, sort="start")["items"]
    paged = [api.ok("/incidents", limit=1, offset=n, sort="start")["items"] for n in (0, 1)]
    assert [i["incident_id"] for i in two] == [p[0]["incident_id"] for p in paged if p]
    stats = api.ok(f"/uploads/{world.ids[0]}/stats")
    assert stats["incidents_total"] == one["total"]
    spec = api.get("/openapi.json", token=None).body
    assert {"/incidents", "/uploads/{upload_id}/incidents"} <= set(spec["paths"])
    assert api.get("/incidents", token=None).status == 401


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"findings": "201"}, "findings"),
        ({"min_score": "-1"}, "min_score"),
        ({"kind": "spike"}, "kind"),
        ({"sort": "size"}, "sort"),
        ({"category": ""}, "category"),
        ({"start": "yesterday"}, "start"),
        ({"level": "LOUD"}, "level"),
    ],
)
def test_api_incidents_refuse_bad_values_with_422(
    world: World,  # noqa: F811
    params: dict[str, str],
    named: str,
) -> None:
    answer = world.api.get("/incidents", **params)
    assert answer.status == 422, answer.body
    assert re.search(rf"\b{named}\b", json.dumps(answer.body["detail"])), answer.body


def test_cli_lists_incidents_with_their_findings(world: World) -> None:  # noqa: F811
    upload_id = str(world.ids[0])
    data = json.loads(query("incidents", "--upload", upload_id, "--json", db=world.db).out)
    assert data["total"] == len(world.reports[0]["incidents"])
    assert data["incidents"][0]["findings"][0]["examples"]
    shown = query("incidents", "--upload", upload_id, db=world.db)
    assert shown.code == 0, shown.err
    assert re.search(r"incidents 1-\d+ of \d+$", shown.out.strip())
    assert "[error_spike, score" in shown.out and "e.g. svc.log:" in shown.out
    bad = query("incidents", "--min-score", "-2", db=world.db)
    assert bad.code == 2 and "min_score=-2.0 must be a number >= 0" in bad.err
    # processor.py's classic report lists the incidents before the anomaly rows.
    local = run_cli(world.files[0].name, cwd=world.files[0].parent)
    assert local.code == 0, local.err
    assert local.out.index("Incidents: ") < local.out.index("Anomalies: ")
    assert re.search(r"\[score [\d.]+, \d+ findings?\] Error spike \(database", local.out)


async def test_a_version_4_database_gains_the_incident_tables(tmp_path: Path) -> None:
    _report, rows = analysed(service_log(tmp_path / "a" / "svc.log", True), "svc.log")
    db_path = tmp_path / "old.db"
    async with await Database.open(db_path) as db:
        old = await stored(db, "alice", "a" * 64, "svc.log", rows)
    # What loglens wrote before version 5: no incident tables.
    with sqlite3.connect(db_path) as conn:
        make_version_5(conn)
        conn.execute("DROP VIEW upload_incidents")
        conn.execute("DROP TABLE incident_findings")
        conn.execute("DROP TABLE incidents")
        conn.execute("PRAGMA user_version = 4")
    with pytest.raises(StorageError, match=r"schema version 4\b.*start the server"):
        await Reader.open(db_path)
    async with await Database.open(db_path) as db:  # a writer upgrades it
        new = await stored(db, "bob", "b" * 64, "svc.log", rows)
    assert sql_rows(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    async with await Reader.open(db_path) as reader:
        # The content analysed before has none until analysed again; the new one has its own.
        assert await reader.incidents(Filters(upload=old), Page()) == ([], 0)
        items, total = await reader.incidents(Filters(upload=new), Page())
    assert total == 1 and items[0]["upload_id"] == new
