"""Categories, anomalies, trends and diffs through the whole stack: a real server analyses
real uploads, then the database, the Reader, `loglens query` and the HTTP API are compared
with `processor.py --json` of the same files and with hand-written SQL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loglens.protocol import FrameType
from loglens.storage.read.filters import (
    MINUTE_LEVELS,
    AnomalyFilters,
    Filters,
    Page,
    QueryError,
    parse_side,
)
from loglens.storage.read.queries import Reader
from loglens.synth import SAMPLE_MESS, write_log
from tests.conftest import ROOT, run_cli
from tests.integration.conftest import TOKENS, ServerHandle
from tests.integration.test_api import ApiHandle, running_api
from tests.integration.test_query_cli import query
from tests.integration.wire import upload

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DB_TEMPLATE = "Database connection to db-<*> failed after <*> retries"
CACHE_TEMPLATE = "Cache hit for key user-<*>"
FEATURE_TEMPLATE = "Feature beta enabled for tenant <*>"


def service_log(path: Path, spike: bool) -> Path:
    """An hour of a service's log, 12:00 to 13:00: requests every 3 s, cache hits, a warning
    every 10 minutes; with `spike`, database errors from 12:40 to 12:43, else no cache
    hits but a new feature's lines."""
    out = []
    for minute in range(60):
        for second in range(0, 60, 3):
            at = START + timedelta(minutes=minute, seconds=second)
            stamp = at.strftime("%Y-%m-%d %H:%M:%S") + ",000"
            out.append(f"{stamp} INFO web.server: Request {minute * 100 + second} served in"
                       f" {second + 5} ms")  # fmt: skip
            if second % 15 == 0 and spike:
                out.append(f"{stamp} DEBUG cache.store: Cache hit for key user-{second}")
            if second == 30 and minute % 10 == 0:
                out.append(f"{stamp} WARNING web.pool: Pool usage at {70 + minute} percent")
            if not spike and second == 0:
                out.append(f"{stamp} INFO feature.flags: Feature beta enabled for tenant {minute}")
            if spike and 40 <= minute < 43:
                for db in (second % 3, (second + 1) % 3):
                    out.append(f"{stamp} ERROR db.client: Database connection to db-{db} failed"
                               f" after {second} retries")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


# (operator, name, folder): alice's service log, then its next version under the same
# name; bob's generated worker log (many anomalies), and bob's copy of alice's first one.
UPLOADS = (
    ("alice", "svc.log", "v1"),
    ("alice", "svc.log", "v2"),
    ("bob", "worker.log", "gen"),
    ("bob", "copy.log", "v1"),
)


@dataclass
class World:
    """A server's database with UPLOADS analysed, an API over it, processor.py's reports."""

    server: ServerHandle
    api: ApiHandle
    ids: list[int]  # in UPLOADS order
    files: list[Path]
    reports: list[dict[str, Any]]  # processor.py --json of each upload's file, by its name

    @property
    def db(self) -> Path:
        """The server's database."""
        return self.server.db_path

    def sql(self, text: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of hand-written SQL."""
        with sqlite3.connect(self.db) as conn:
            return conn.execute(text, params).fetchall()

    def read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """What one Reader method answers."""

        async def go() -> Any:
            async with await Reader.open(self.db) as reader:
                return await getattr(reader, method)(*args, **kwargs)

        return asyncio.run(go())


def _files(root: Path) -> dict[str, Path]:
    """The logs, each in a folder of its own version."""
    worker = root / "gen" / "worker.log"
    worker.parent.mkdir(parents=True)
    truth = write_log(worker, "python", lines=2000, seed=4, mess=SAMPLE_MESS)
    assert truth.last_timestamp is not None  # a log is last modified after its last entry
    last = datetime.fromisoformat(truth.last_timestamp).timestamp()
    os.utime(worker, (last + 60, last + 60))
    return {
        "v1": service_log(root / "v1" / "svc.log", spike=True),
        "v2": service_log(root / "v2" / "svc.log", spike=False),
        "gen": worker,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One server, its uploads and an API for the whole module (the tests only read)."""
    root = tmp_path_factory.mktemp("findings")
    files = _files(root)
    (root / "server").mkdir()
    server = ServerHandle(root / "server", {}).start()
    try:
        ids, paths, reports = [], [], []
        for operator, name, folder in UPLOADS:
            path = files[folder]
            named = path if path.name == name else path.with_name(name)
            if named != path:
                named.write_bytes(path.read_bytes())
            done = run_cli("--json", name, cwd=named.parent)
            assert done.code == 0, done.err
            reports.append(json.loads(done.out))
            frames = asyncio.run(
                upload(server.address, TOKENS[operator], named.read_bytes(), name=name, wait=True)
            )
            assert frames[-1].type is FrameType.PROCESSED, frames[-1]
            ids.append(int(frames[0].field("upload_id")))
            paths.append(named)
        with running_api(server.db_path, root) as api:
            yield World(server, api, ids, paths, reports)
    finally:
        server.cleanup()


def template_id(report: dict[str, Any], text: str) -> str:
    """The id of a template the report names (in its top errors or anomalies)."""
    for item in report["top_errors"]:
        if item["template"] == text:
            return str(item["template_id"])
    raise AssertionError(f"{text!r} is not among the top errors")


# the database ------------------------------------------------------------------------


def test_anomalies_and_categories_in_the_database_equal_the_report(world: World) -> None:
    for upload_id, report in zip(world.ids, world.reports, strict=True):
        stored = world.sql(
            "SELECT kind, score, start_ts, end_ts, explanation, template_ids, examples, source"
            " FROM upload_anomalies WHERE upload_id = ? ORDER BY anomaly_id",
            upload_id,
        )
        expected = report["anomalies"]
        assert len(stored) == len(expected), upload_id
        # Stored once per content, the examples name the file its first upload analysed.
        [(first_name,)] = world.sql(
            "SELECT b.first_name FROM uploads AS u JOIN blobs AS b ON b.id = u.blob_id"
            " WHERE u.id = ?",
            upload_id,
        )
        for row, anomaly in zip(stored, expected, strict=True):
            kind, score, start, end, explanation, ids, examples, source = row
            assert (kind, round(score, 2), explanation) == (
                anomaly["kind"], anomaly["score"], anomaly["explanation"]
            )  # fmt: skip
            assert start == anomaly["start"].replace("Z", ".000000Z")
            assert end == anomaly["end"].replace("Z", ".000000Z")
            assert json.loads(ids) == anomaly["template_ids"]
            assert json.loads(examples) == [
                {"file": first_name, "line": e["line"]} for e in anomaly["examples"]
            ]
            assert source == anomaly["source"]
        categories = world.sql(
            "SELECT category, count FROM upload_categories WHERE upload_id = ?", upload_id
        )
        assert dict(categories) == report["categories"]
    v1 = world.reports[0]
    kinds = {a["kind"] for a in v1["anomalies"]}
    assert {"error_spike", "new_template"} <= kinds
    assert sum(1 for r in world.reports for _ in r["anomalies"]) >= 5


def test_template_categories_and_series_are_stored_per_blob(world: World) -> None:
    v1, upload_id = world.reports[0], world.ids[0]
    db_id = template_id(v1, DB_TEMPLATE)
    [top] = [t for t in v1["top_errors"] if t["template_id"] == db_id]
    stored = world.sql(
        "SELECT category FROM upload_template_categories WHERE upload_id = ?"
        " AND template_id = ? ORDER BY category",
        upload_id, db_id,
    )  # fmt: skip
    assert [c for (c,) in stored] == sorted(top["categories"]) and "database" in top["categories"]
    # The series: every timed entry once; WARNING and worse per minute, the rest per hour.
    total = world.sql(
        "SELECT SUM(count) FROM upload_template_series WHERE upload_id = ?", upload_id
    )[0][0]
    assert total == v1["entries"] - v1["untimed_entries"]
    minutes = world.sql(
        "SELECT level, minute FROM upload_template_series WHERE upload_id = ?", upload_id
    )
    coarse = {m for level, m in minutes if level not in MINUTE_LEVELS}
    assert coarse == {"2024-05-01T12:00:00.000000Z"}  # the one hour of the log
    spike = sorted({m for level, m in minutes if level == "ERROR"})
    assert spike == [f"2024-05-01T12:{m}:00.000000Z" for m in (40, 41, 42)]


def test_the_documented_anomalies_query_answers(world: World) -> None:
    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "docs/schema.md").read_text(), re.S)
    [sql] = [b for b in blocks if b.startswith("-- anomalies of alice's uploads of yesterday")]
    # The uploads were received today: the same query for today must list alice's anomalies.
    today = sql.replace("date('now', '-1 day')", "date('now')").replace(
        "< date('now')", "< date('now', '+1 day')"
    )
    found = world.sql(today)
    expected = [a for r in world.reports[:2] for a in r["anomalies"]]
    assert len(found) == len(expected) and found
    assert {row[2] for row in found} == {a["kind"] for a in expected}
    assert world.sql(sql) == []  # nothing was received yesterday


# the Reader ----------------------------------------------------------------------------


def test_stats_of_one_upload_carry_its_categories_and_anomalies(world: World) -> None:
    for upload_id, report in zip(world.ids, world.reports, strict=True):
        stats = world.read("stats", Filters(upload=upload_id), 5)
        assert stats["categories"] == report["categories"]
        assert list(stats["categories"]) == list(report["categories"])  # same order
        keys = ("kind", "score", "start", "end", "explanation", "template_ids", "source",
                "examples")  # fmt: skip
        mine = [{key: a[key] for key in keys} for a in stats["anomalies"]]
        assert mine == report["anomalies"]
        assert all(a["upload_id"] == upload_id for a in stats["anomalies"])
        assert stats["anomalies_total"] == len(report["anomalies"])
        assert [t["categories"] for t in stats["top_errors"]] == [
            t["categories"] for t in report["top_errors"]
        ]


def test_stats_of_several_uploads_add_categories_per_content(world: World) -> None:
    everything = world.read("stats", Filters(), 5)
    distinct = world.reports[:3]  # bob's copy.log is alice's first svc.log
    expected: Counter[str] = Counter()
    for report in distinct:
        expected.update(report["categories"])
    assert everything["categories"] == dict(expected)
    counts = list(everything["categories"].values())
    assert counts == sorted(counts, reverse=True)
    assert everything["anomalies_total"] == sum(len(r["anomalies"]) for r in distinct)
    scores = [a["score"] for a in everything["anomalies"]]
    assert scores == sorted(scores, reverse=True)
    # The copy's anomalies are listed once, with alice's first upload (the lower id).
    assert not world.reports[1]["anomalies"]  # an hour of steady lines
    assert {a["upload_id"] for a in everything["anomalies"]} == {world.ids[0], world.ids[2]}
    bob = world.read("stats", Filters(operator="bob"), 5)
    assert {a["upload_id"] for a in bob["anomalies"]} == {world.ids[2], world.ids[3]}
    copy = [a for a in bob["anomalies"] if a["upload_id"] == world.ids[3]]
    assert copy and all(e["file"] == "copy.log" for a in copy for e in a["examples"])


def test_anomalies_filter_and_page(world: World) -> None:
    items, total = world.read("anomalies", Filters(), Page(limit=1000))
    assert total == len(items) == sum(len(r["anomalies"]) for r in world.reports[:3])
    spikes, count = world.read("anomalies", Filters(), Page(), AnomalyFilters(kind="error_spike"))
    assert count == len(spikes) >= 1 and {a["kind"] for a in spikes} == {"error_spike"}
    high, _ = world.read("anomalies", Filters(), Page(limit=1000), AnomalyFilters(min_score=6))
    assert high and all(a["score"] >= 6 for a in high)
    assert len(high) == sum(1 for a in items if a["score"] >= 6) < total
    db_id = template_id(world.reports[0], DB_TEMPLATE)
    named, _ = world.read("anomalies", Filters(), Page(), AnomalyFilters(template_id=db_id))
    assert named and all(db_id in a["template_ids"] for a in named)
    # A window keeps those overlapping it: the database errors began at 12:40.
    window = Filters(start=START + timedelta(minutes=41), end=START + timedelta(minutes=42))
    during, _ = world.read("anomalies", window, Page(limit=1000))
    assert {a["kind"] for a in during} >= {"error_spike", "new_template"}
    assert all(a["start"] < "2024-05-01T12:42:00Z" < a["end"] or
               a["start"] < "2024-05-01T12:41:00Z" < a["end"] or
               "2024-05-01T12:41:00Z" <= a["start"] < "2024-05-01T12:42:00Z"
               for a in during)  # fmt: skip
    assert world.read("anomalies", Filters(end=START), Page())[1] == 0
    alice, count = world.read("anomalies", Filters(operator="alice"), Page(limit=2, offset=1))
    assert count == len(world.reports[0]["anomalies"]) and len(alice) == 2
    by_start, _ = world.read("anomalies", Filters(), Page(limit=1000, sort="start"))
    assert [a["start"] for a in by_start] == sorted(a["start"] for a in items)
    errors, _ = world.read("anomalies", Filters(level="ERROR"), Page(limit=1000))
    assert errors and all("ERROR" in a["flag_levels"] for a in errors)
    with pytest.raises(QueryError, match="sort='size' is unknown"):
        world.read("anomalies", Filters(), Page(sort="size"))
    for bad, message in (({"kind": "spike"}, "kind='spike' is unknown"),
                         ({"min_score": -1}, "min_score=-1 must be")):  # fmt: skip
        with pytest.raises(QueryError, match=re.escape(message)):
            AnomalyFilters(**bad)


def test_categories_with_their_templates(world: World) -> None:
    v1 = world.reports[0]
    found = world.read("categories", Filters(upload=world.ids[0]))
    assert {c["category"]: c["count"] for c in found} == v1["categories"]
    database = next(c for c in found if c["category"] == "database")
    assert database["top_templates"][0]["template"] == DB_TEMPLATE
    assert database["top_templates"][0]["count"] == 120
    for item in found:
        assert item["templates"] >= len(item["top_templates"]) >= 1
        assert sum(t["count"] for t in item["top_templates"]) <= item["count"]
    errors = world.read("categories", Filters(upload=world.ids[0], level="ERROR"), 1)
    assert {c["category"] for c in errors} == set(
        next(t for t in v1["top_errors"] if t["template"] == DB_TEMPLATE)["categories"]
    )
    assert all(c["count"] == 120 for c in errors)


@pytest.mark.parametrize("bucket", ["minute", "hour", "day"])
def test_trend_per_level_at_each_bucket(world: World, bucket: str) -> None:
    trend = world.read("trend", Filters(), "level", None, bucket)
    assert (trend["by"], trend["bucket"], trend["levels"]) == ("level", bucket, None)
    per_level: Counter[str] = Counter()
    for point in trend["points"]:
        per_level[point["key"]] += point["count"]
    assert dict(per_level) == world.read("stats", Filters(), 5)["levels"]
    assert {k["key"]: k["count"] for k in trend["keys"]} == dict(per_level)
    timeline = world.read("timeline", Filters(), bucket)
    assert [(p["bucket"], p["level"], p["count"]) for p in timeline] == [
        (p["bucket"], p["key"], p["count"]) for p in trend["points"]
    ]


@pytest.mark.parametrize("bucket", ["minute", "hour", "day"])
def test_trend_per_template_and_category_at_each_bucket(world: World, bucket: str) -> None:
    upload_id, v1 = world.ids[0], world.reports[0]
    one = Filters(upload=upload_id)
    db_id = template_id(v1, DB_TEMPLATE)
    trend = world.read("trend", one, "template", db_id, bucket)
    assert trend["keys"] == [{"key": db_id, "label": DB_TEMPLATE, "count": 120}]
    starts = {"minute": ["12:40", "12:41", "12:42"], "hour": ["12:00"], "day": ["00:00"]}
    assert [p["bucket"][11:16] for p in trend["points"]] == starts[bucket]
    assert sum(p["count"] for p in trend["points"]) == 120
    categories = world.read("trend", one, "category", None, bucket)
    totals = {k["key"]: k["count"] for k in categories["keys"]}
    if bucket == "minute":  # WARNING and worse only
        assert categories["levels"] == list(MINUTE_LEVELS)
        assert sum(totals.values()) < sum(v1["categories"].values())
        assert totals["database"] == 120
    else:
        assert categories["levels"] is None and totals == v1["categories"]
    top = world.read("trend", Filters(), "template", None, bucket, 3)
    assert len(top["keys"]) == 3
    counts = [k["count"] for k in top["keys"]]
    assert counts == sorted(counts, reverse=True)
    assert {p["key"] for p in top["points"]} == {k["key"] for k in top["keys"]}


def test_trend_refuses_a_minute_below_warning_and_bad_values(world: World) -> None:
    with pytest.raises(QueryError, match=r"bucket='minute' with level='INFO'.*per hour"):
        world.read("trend", Filters(level="INFO"), "template", None, "minute")
    info = world.read("trend", Filters(level="INFO", upload=world.ids[0]), "template", None, "hour")
    assert info["levels"] == ["INFO"] and info["points"]
    for args, message in (
        (("size", None, "hour"), "by='size' is unknown"),
        (("level", None, "week"), "bucket='week' is unknown"),
        (("level", "LOUD", "hour"), "key='LOUD' is unknown"),
    ):
        with pytest.raises(QueryError, match=re.escape(message)):
            world.read("trend", Filters(), *args)
    with pytest.raises(QueryError, match="disagree"):
        world.read("trend", Filters(level="ERROR"), "level", "INFO", "hour")


def test_diff_of_two_uploads_names_what_appeared_and_vanished(world: World) -> None:
    before, after = Filters(upload=world.ids[0]), Filters(upload=world.ids[1])
    diff = world.read("diff", before, after)
    v1, v2 = world.reports[0], world.reports[1]
    assert (diff["a"]["entries"], diff["b"]["entries"]) == (v1["entries"], v2["entries"])
    appeared = {i["template"]: i for i in diff["appeared"]["items"]}
    vanished = {i["template"]: i for i in diff["vanished"]["items"]}
    assert set(appeared) == {FEATURE_TEMPLATE} and diff["appeared"]["total"] == 1
    assert set(vanished) == {DB_TEMPLATE, CACHE_TEMPLATE} and diff["vanished"]["total"] == 2
    assert (vanished[DB_TEMPLATE]["count_a"], vanished[DB_TEMPLATE]["count_b"]) == (120, 0)
    assert appeared[FEATURE_TEMPLATE]["count_b"] == 60
    assert appeared[FEATURE_TEMPLATE]["file"] == "svc.log"
    assert vanished[DB_TEMPLATE]["upload_id"] == world.ids[0]
    changed = diff["changed"]["items"]
    assert changed and all(i["count_a"] and i["count_b"] for i in changed)
    # Requests were a smaller share before (the errors and cache hits took the rest).
    requests = next(i for i in changed if i["template"].startswith("Request"))
    assert requests["rate_a"] < requests["rate_b"] and requests["count_a"] == 1200
    assert world.read("previous_upload", world.ids[1]) == world.ids[0]
    assert world.read("previous_upload", world.ids[0]) is None


def test_diff_of_two_time_windows(world: World) -> None:
    base = Filters(upload=world.ids[0])
    before = parse_side("2024-05-01T12:00..2024-05-01T12:40", "a", base)
    after = parse_side("2024-05-01T12:40..2024-05-01T12:43", "b", base)
    diff = world.read("diff", before, after, 5, "hour")
    assert diff["rate"] == "hour"
    assert (diff["a"]["hours"], diff["b"]["hours"]) == pytest.approx((40 / 60, 3 / 60))
    [appeared] = diff["appeared"]["items"]
    assert (appeared["template"], appeared["count_b"]) == (DB_TEMPLATE, 120)
    assert appeared["rate_b"] == pytest.approx(120 / (3 / 60))
    assert diff["vanished"]["total"] == 0
    with pytest.raises(QueryError, match=r"b='yesterday' is neither an upload id nor a window"):
        parse_side("yesterday", "b", base)
    with pytest.raises(QueryError, match=r"a start="):
        parse_side("noon..", "a", base)
    with pytest.raises(QueryError, match="rate='speed' is unknown"):
        world.read("diff", before, after, 5, "speed")


# the query CLI -------------------------------------------------------------------------


def test_cli_stats_prints_the_categories_and_anomalies_of_processor(world: World) -> None:
    local = run_cli("svc.log", "--quiet", cwd=world.files[0].parent)
    run = query("stats", "--upload", str(world.ids[0]), db=world.db)
    assert run.code == 0, run.err
    classic = local.out.split("\nEntries:")[0]
    assert "ERROR rate" in classic and "e.g. svc.log:" in classic
    assert run.out.startswith(classic + "\nEntries:")


def test_cli_findings_commands_print_tables_and_json(world: World) -> None:
    upload_id = str(world.ids[0])
    data = json.loads(query("anomalies", "--upload", upload_id, "--json", db=world.db).out)
    assert data["total"] == len(world.reports[0]["anomalies"])
    run = query("anomalies", "--kind", "error_spike", "--min-score", "1", db=world.db)
    assert run.code == 0 and "ERROR rate" in run.out.replace("\n", " ")
    assert re.search(r"anomalies 1-\d+ of \d+$", run.out.strip())
    categories = json.loads(query("categories", "--upload", upload_id, "--json",
                                  db=world.db).out)  # fmt: skip
    assert {c["category"]: c["count"] for c in categories} == world.reports[0]["categories"]
    assert "database" in query("categories", db=world.db).out
    trend = query("trend", "--by", "category", "--bucket", "minute", "--upload", upload_id,
                  db=world.db)  # fmt: skip
    assert trend.code == 0, trend.err
    assert "levels WARNING, ERROR, CRITICAL only; minute buckets" in trend.out
    assert "2024-05-01 12:41" in trend.out
    trend_json = json.loads(query("trend", "--by", "template", "--top", "2", "--json",
                                  db=world.db).out)  # fmt: skip
    assert len(trend_json["keys"]) == 2 and trend_json["bucket"] == "hour"
    diff = query("diff", str(world.ids[0]), str(world.ids[1]), db=world.db)
    assert diff.code == 0, diff.err
    assert "Appeared (in B, not in A): 1" in diff.out and FEATURE_TEMPLATE in diff.out
    assert "Vanished (in A, not in B): 2" in diff.out
    windows = query("diff", "--upload", str(world.ids[0]), "--json", "--",
                    "2024-05-01T12:00..2024-05-01T12:40", "2024-05-01T12:40..",
                    db=world.db)  # fmt: skip
    assert windows.code == 0, windows.err
    assert json.loads(windows.out)["appeared"]["items"][0]["template"] == DB_TEMPLATE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("anomalies", "--kind", "spike"), "invalid choice: 'spike'"),
        (("anomalies", "--min-score", "-2"), "min_score=-2.0 must be a number >= 0"),
        (("anomalies", "--sort", "size"), "sort='size' is unknown"),
        (("categories", "--shown", "500"), "--shown=500 must be from 0 to 100"),
        (("trend", "--by", "size"), "invalid choice: 'size'"),
        (("trend", "--by", "template", "--bucket", "minute", "--level", "INFO"),
         "bucket='minute' with level='INFO'"),
        (("trend", "--key", "LOUD"), "key='LOUD' is unknown"),
        (("trend", "--top", "0"), "--top=0 must be from 1 to 100"),
        (("diff", "1"), "the following arguments are required: B"),
        (("diff", "1", "tomorrow"), "B='tomorrow' is neither an upload id nor a window"),
        (("diff", "1", "2", "--rate", "speed"), "invalid choice: 'speed'"),
        (("diff", "2024-05-02..2024-05-01", "2"), "is not before end="),
    ],
)  # fmt: skip
def test_cli_bad_values_exit_2_naming_them(
    world: World, args: tuple[str, ...], message: str
) -> None:
    run = query(*args, db=world.db)
    assert run.code == 2, (run.out, run.err)
    assert message in run.err and run.out == ""


# the HTTP API --------------------------------------------------------------------------


def test_api_findings_equal_the_reader(world: World) -> None:
    api = world.api
    page = api.ok("/anomalies", limit=5, sort="-score")
    items, total = world.read("anomalies", Filters(), Page(limit=5))
    assert page == {"total": total, "limit": 5, "offset": 0, "items": items}
    one = api.ok(f"/uploads/{world.ids[0]}/anomalies", kind="error_spike")
    assert one["total"] >= 1 and {a["upload_id"] for a in one["items"]} == {world.ids[0]}
    assert api.ok("/categories")["items"] == world.read("categories", Filters())
    mine = api.ok(f"/uploads/{world.ids[0]}/categories", shown=0)["items"]
    assert {c["category"]: c["count"] for c in mine} == world.reports[0]["categories"]
    assert all(c["top_templates"] == [] for c in mine)
    for bucket in ("minute", "hour", "day"):
        trend = api.ok("/trend", by="category", bucket=bucket)
        assert trend == world.read("trend", Filters(), "category", None, bucket)
    db_id = template_id(world.reports[0], DB_TEMPLATE)
    trend = api.ok(f"/uploads/{world.ids[0]}/trend", by="template", key=db_id, bucket="minute")
    assert [p["count"] for p in trend["points"]] == [40, 40, 40]
    diff = api.ok("/diff", a=world.ids[0], b=world.ids[1])
    assert diff == world.read("diff", Filters(upload=world.ids[0]), Filters(upload=world.ids[1]))
    assert api.ok(f"/uploads/{world.ids[1]}/diff") == diff  # against the previous svc.log
    windows = api.ok("/diff", a="2024-05-01T12:00..2024-05-01T12:40", b="2024-05-01T12:40..",
                     upload=world.ids[0], rate="hour")  # fmt: skip
    assert windows["appeared"]["items"][0]["template"] == DB_TEMPLATE
    stats = api.ok(f"/uploads/{world.ids[0]}/stats")
    assert stats["anomalies"] == world.read("stats", Filters(upload=world.ids[0]), 5)["anomalies"]


def test_api_upload_endpoints_answer_404_and_409(world: World) -> None:
    for path in ("anomalies", "categories", "trend", "diff"):
        answer = world.api.get(f"/uploads/999999/{path}")
        assert answer.status == 404 and answer.body == {"detail": "upload 999999 does not exist"}
    first = world.api.get(f"/uploads/{world.ids[0]}/diff")
    assert first.status == 409
    assert (
        "no earlier analysed upload of 'svc.log' by alice: give against=ID" in first.body["detail"]
    )
    other = world.api.ok(f"/uploads/{world.ids[0]}/diff", against=world.ids[2])
    assert other["a"]["upload"] == world.ids[2] and other["b"]["upload"] == world.ids[0]


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/anomalies", {"kind": "spike"}, "kind"),
        ("/anomalies", {"min_score": "-1"}, "min_score"),
        ("/anomalies", {"min_score": "lots"}, "min_score"),
        ("/anomalies", {"sort": "size"}, "sort"),
        ("/anomalies", {"limit": "0"}, "limit"),
        ("/anomalies", {"start": "yesterday"}, "start"),
        ("/categories", {"shown": "101"}, "shown"),
        ("/categories", {"level": "LOUD"}, "level"),
        ("/trend", {"by": "size"}, "by"),
        ("/trend", {"bucket": "week"}, "bucket"),
        ("/trend", {"bucket": "minute", "by": "template", "level": "INFO"}, "level"),
        ("/trend", {"by": "level", "key": "LOUD"}, "key"),
        ("/trend", {"top": "0"}, "top"),
        ("/diff", {"a": "1"}, "b"),
        ("/diff", {"a": "1", "b": "soon"}, "b"),
        ("/diff", {"a": "2024-05-02..2024-05-01", "b": "1"}, "a"),
        ("/diff", {"a": "1", "b": "2", "rate": "speed"}, "rate"),
        ("/diff", {"a": "1", "b": "2", "top": "0"}, "top"),
        ("/uploads/1/diff", {"against": "0"}, "against"),
        ("/uploads/1/anomalies", {"kind": "x"}, "kind"),
    ],
)
def test_api_bad_parameters_answer_422_naming_them(
    world: World, path: str, params: dict[str, str], named: str
) -> None:
    answer = world.api.get(path, **params)
    assert answer.status == 422, answer.body
    assert re.search(rf"\b{named}\b", answer.body["detail"]), answer.body


def test_api_documents_the_findings_endpoints(world: World) -> None:
    spec = world.api.get("/openapi.json", token=None).body
    for path in ("/anomalies", "/categories", "/trend", "/diff", "/uploads/{upload_id}/anomalies",
                 "/uploads/{upload_id}/categories", "/uploads/{upload_id}/trend",
                 "/uploads/{upload_id}/diff"):  # fmt: skip
        operation = spec["paths"][path]["get"]
        assert operation["description"] and set(operation["responses"]) >= {"200", "401", "422"}
    schemas = spec["components"]["schemas"]
    assert {"Anomaly", "AnomalyPage", "Category", "Trend", "Diff"} <= set(schemas)
    assert schemas["Anomaly"]["properties"]["explanation"]["description"]
    assert world.api.get("/anomalies", token=None).status == 401


def test_loglens_query_help_lists_the_new_subcommands() -> None:
    listed = subprocess.run([sys.executable, "-m", "loglens", "query", "--help"],
                            capture_output=True, text=True, cwd=ROOT, check=False)  # fmt: skip
    for name in ("anomalies", "categories", "trend", "diff"):
        assert name in listed.stdout
