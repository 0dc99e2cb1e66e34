"""The Reader over a real server's database (SQLite, then PostgreSQL): against processor.py,
hand SQL, and writes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loglens.errors import StorageError
from loglens.protocol import FrameType
from loglens.storage.dialect import Target, is_postgres
from loglens.storage.read.filters import Filters, Page, QueryError, parse_time
from loglens.storage.read.queries import Reader
from loglens.synth import SAMPLE_MESS, write_log
from tests.conftest import ROOT, run_cli
from tests.integration.conftest import ServerFactory, ServerHandle
from tests.integration.postgres import fresh_schema, sql_rows
from tests.integration.wire import upload

# (operator, file, format, seed, lines): bob uploads alice's app.log again under another
# name; events.log is long enough to span several minutes.
UPLOADS = (
    ("alice", "app.log", "log4j", 3, 600),
    ("alice", "worker.log", "python", 4, 1500),  # enough entries to judge what is new
    ("bob", "events.log", "jsonl", 5, 4000),
    ("bob", "copy-of-app.log", "log4j", 3, 600),
)
TOKENS = {"alice": "s3cret", "bob": "hunter2"}


@dataclass
class World:
    """A server's database holding UPLOADS, and what processor.py says of each file."""

    server: ServerHandle
    database: Target  # the server's DB_PATH, or its DATABASE_URL
    ids: dict[str, int]  # file name -> upload id
    files: dict[str, Path]
    reports: dict[str, dict[str, Any]]  # file name -> processor.py --json

    @property
    def db(self) -> Target:
        """The server's database."""
        return self.database

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of hand-written SQL, run with the sqlite3 module or psycopg."""
        return sql_rows(self.database, query, params)


def generated(folder: Path, fmt: str, seed: int, lines: int = 600) -> Path:
    """A generated log, last modified after its last entry (year-less stamps need it)."""
    path = folder / f"{fmt}-{seed}-{lines}.log"
    if not path.exists():
        truth = write_log(path, fmt, lines=lines, seed=seed, mess=SAMPLE_MESS)
        assert truth.last_timestamp is not None
        last = datetime.fromisoformat(truth.last_timestamp).timestamp()
        os.utime(path, (last + 60, last + 60))
    return path


def send(server: ServerHandle, operator: str, path: Path, name: str) -> int:
    """Upload a file and wait for its analysis; return the upload id."""
    frames = asyncio.run(
        upload(server.address, TOKENS[operator], path.read_bytes(), name=name,
               mtime=path.stat().st_mtime, wait=True)
    )  # fmt: skip
    assert frames[-1].type is FrameType.PROCESSED, frames[-1]
    return int(frames[0].field("upload_id"))


def build_world(root: Path, database_url: str = "") -> Iterator[World]:
    """Start a server (on PostgreSQL with `database_url`), upload UPLOADS, run processor.py
    on each file; stop it at the end."""
    server = ServerHandle(root / "server", {"DATABASE_URL": database_url})
    server.root.mkdir(parents=True)
    try:
        server.start()
        files = {name: generated(root, fmt, seed, n) for _op, name, fmt, seed, n in UPLOADS}
        ids = {name: send(server, op, files[name], name) for op, name, *_ in UPLOADS}
        reports = {}
        for name, path in files.items():
            run = run_cli(str(path), "--json", "--quiet")
            assert run.code == 0, run.err
            reports[name] = json.loads(run.out)
        yield World(server, database_url or server.db_path, ids, files, reports)
    finally:
        server.cleanup()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One server and its uploads for the whole module (the tests only read), on each
    database in turn: every test must hold on both."""
    root = tmp_path_factory.mktemp(f"queries-{request.param}")
    if request.param == "sqlite":
        yield from build_world(root)
        return
    with fresh_schema() as url:
        yield from build_world(root, url)


def read(db: Target, method: str, *args: Any) -> Any:
    """Open a Reader, call one method, close it."""

    async def go() -> Any:
        async with await Reader.open(db) as reader:
            return await getattr(reader, method)(*args)

    return asyncio.run(go())


def summed(*reports: dict[str, Any]) -> Counter[str]:
    """Levels of several reports added up."""
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report["levels"])
    return total


def test_one_upload_gives_the_processors_report(world: World) -> None:
    for name, upload_id in world.ids.items():
        expected = world.reports[name]
        stats = read(world.db, "stats", Filters(upload=upload_id), 5)
        for key in ("levels", "entries", "lines", "first_timestamp", "last_timestamp",
                    "rejected", "templates", "untimed_entries", "continuation_lines",
                    "directive_lines", "repaired", "filtered"):  # fmt: skip
            assert stats[key] == expected[key], (name, key)
        keys = ("template", "template_id", "count", "example", "line")
        mine = [{k: t[k] for k in keys} for t in stats["top_errors"]]
        assert mine == [{k: t[k] for k in keys} for t in expected["top_errors"]], name
        assert all(t["upload_id"] == upload_id for t in stats["top_errors"])
        assert list(stats["levels"]) == list(expected["levels"])  # same order
        assert (stats["uploads"], stats["blobs"], stats["window"]) == (1, 1, None)


def test_each_content_counts_once(world: World) -> None:
    everything = read(world.db, "stats", Filters(), 5)
    distinct = [world.reports[n] for n in ("app.log", "worker.log", "events.log")]
    assert Counter(everything["levels"]) == summed(*distinct)
    assert everything["entries"] == sum(r["entries"] for r in distinct)
    assert (everything["uploads"], everything["blobs"]) == (4, 3)
    assert everything["first_timestamp"] == min(r["first_timestamp"] for r in distinct)
    assert everything["last_timestamp"] == max(r["last_timestamp"] for r in distinct)
    hand = dict(world.sql(
        "SELECT level, SUM(count) FROM level_counts WHERE blob_id IN"
        " (SELECT blob_id FROM uploads WHERE status = 'stored') GROUP BY level"
    ))  # fmt: skip
    assert everything["levels"] == {k: hand[k] for k in everything["levels"]}
    assert set(hand) == set(everything["levels"])

    bob = read(world.db, "stats", Filters(operator="bob"), 5)
    assert Counter(bob["levels"]) == summed(world.reports["events.log"], world.reports["app.log"])
    assert (bob["uploads"], bob["blobs"]) == (2, 2)
    # bob's copy of app.log is named after bob's upload, not alice's
    assert {f["file"] for f in bob["formats"]} == {"events.log", "copy-of-app.log"}


def test_the_documented_read_layer_query_gives_the_readers_levels(world: World) -> None:
    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "docs/schema.md").read_text(), re.S)
    [sql] = [b for b in blocks if b.startswith("-- levels of alice's analysed uploads")]
    assert dict(world.sql(sql)) == read(world.db, "stats", Filters(operator="alice"), 5)["levels"]


def test_top_errors_match_hand_sql_with_examples_from_the_first_upload(world: World) -> None:
    top = read(world.db, "top_errors", Filters(), 8)
    hand = world.sql(
        "SELECT template_id, SUM(count) AS n, MIN(template) AS t FROM templates"
        " WHERE level IN ('ERROR', 'CRITICAL') AND blob_id IN (SELECT blob_id FROM uploads)"
        " GROUP BY template_id ORDER BY n DESC, t, template_id LIMIT 8"
    )
    assert [(t["template_id"], t["count"], t["template"]) for t in top] == hand
    for item in top:
        first_upload = min(
            uid for (uid,) in world.sql(
                "SELECT u.id FROM uploads u JOIN templates t ON t.blob_id = u.blob_id"
                " WHERE t.template_id = ? AND t.level IN ('ERROR', 'CRITICAL')",
                item["template_id"],
            )
        )  # fmt: skip
        assert item["upload_id"] == first_upload
        lines = world.files[item["original_name"]].read_bytes().split(b"\n")
        line = lines[item["line"] - 1].decode("utf-8", "replace")
        assert item["example"][:20] in line, (item, line)
    warnings = read(world.db, "top_errors", Filters(level="WARNING", operator="alice"), 3)
    hand = world.sql(
        "SELECT template_id, SUM(count) AS n FROM templates WHERE level = 'WARNING' AND blob_id"
        " IN (SELECT blob_id FROM uploads WHERE operator = 'alice')"
        " GROUP BY template_id ORDER BY n DESC, MIN(template) LIMIT 3"
    )
    assert [(t["template_id"], t["count"]) for t in warnings] == hand


def test_a_time_window_cuts_levels_and_timeline_by_minute(world: World) -> None:
    blob = world.sql("SELECT blob_id FROM uploads WHERE id = ?", world.ids["events.log"])[0][0]
    minutes = [m for (m,) in world.sql(
        "SELECT DISTINCT minute FROM timeline WHERE blob_id = ? ORDER BY minute", blob
    )]  # fmt: skip
    assert len(minutes) >= 3, minutes
    low, high = minutes[1], minutes[-2]
    start = parse_time(low) + timedelta(seconds=20)  # inside the minute: that minute counts
    end = parse_time(high) + timedelta(seconds=30)  # so does the minute of the end
    f = Filters(start=start, end=end)
    stats = read(world.db, "stats", f, 5)
    hand = dict(world.sql(
        "SELECT level, SUM(count) FROM timeline WHERE minute >= ? AND minute <= ? AND blob_id IN"
        " (SELECT blob_id FROM uploads) GROUP BY level", low, high
    ))  # fmt: skip
    assert stats["levels"] == {k: hand[k] for k in stats["levels"]} and set(hand) == set(
        stats["levels"]
    )
    assert stats["entries"] == sum(hand.values()) < world.reports["events.log"]["entries"]
    assert stats["templates_scope"] == "uploads in window"
    assert stats["window"] == {"start": low[:19] + "Z", "end": _next_minute(high)}
    assert stats["first_timestamp"][:16] == low[:16]
    assert stats["last_timestamp"][:16] == high[:16]
    in_window = world.sql(
        "SELECT COUNT(DISTINCT u.id) FROM uploads u JOIN timeline t ON t.blob_id = u.blob_id"
        " WHERE t.minute >= ? AND t.minute <= ?", low, high
    )[0][0]  # fmt: skip
    assert stats["uploads"] == in_window >= 1
    timeline = read(world.db, "timeline", f, "minute")
    assert sum(p["count"] for p in timeline) == stats["entries"]
    assert {p["bucket"] for p in timeline} >= {low[:19] + "Z", high[:19] + "Z"}
    assert all(low[:19] <= p["bucket"][:19] <= high[:19] for p in timeline)
    assert timeline == sorted(timeline, key=lambda p: p["bucket"]) and timeline


def _next_minute(stored: str) -> str:
    moment = parse_time(stored) + timedelta(minutes=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_timeline_buckets_add_up_and_filter_by_level(world: World) -> None:
    minute = read(world.db, "timeline", Filters(), "minute")
    entries = read(world.db, "stats", Filters(), 5)["entries"]
    untimed = sum(r["untimed_entries"] for n, r in world.reports.items() if n != "copy-of-app.log")
    for bucket, width in (("hour", 13), ("day", 10)):
        coarse = read(world.db, "timeline", Filters(), bucket)
        expected: Counter[tuple[str, str]] = Counter()
        for point in minute:
            expected[point["bucket"][:width], point["level"]] += point["count"]
        assert {(p["bucket"][:width], p["level"]): p["count"] for p in coarse} == expected
        assert sum(p["count"] for p in coarse) == entries - untimed
    errors = read(world.db, "timeline", Filters(level="error"), "hour")
    assert {p["level"] for p in errors} == {"ERROR"}
    assert (
        sum(p["count"] for p in errors) == read(world.db, "stats", Filters(), 5)["levels"]["ERROR"]
    )
    with pytest.raises(QueryError, match="bucket='week'"):
        read(world.db, "timeline", Filters(), "week")


def test_an_auto_timeline_fits_its_span(world: World) -> None:
    first, last = read(world.db, "span", Filters())
    minutes = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() / 60
    chosen = read(world.db, "auto_bucket", Filters())
    assert chosen == ("minute" if minutes < 1500 else "hour" if minutes < 90_000 else "day")
    assert read(world.db, "timeline", Filters(), "auto") == read(
        world.db, "timeline", Filters(), chosen
    )
    one = Filters(upload=world.ids["app.log"])
    assert read(world.db, "auto_bucket", one) == "minute"  # one generated log spans minutes
    for f in (Filters(), one, Filters(operator="bob", level="ERROR")):
        for bucket in ("minute", "hour", "day"):  # the same points as JSON text, in order
            as_json = read(world.db, "timeline_json", f, bucket)
            assert (as_json[0], json.loads(as_json[1])) == (
                bucket,
                read(world.db, "timeline", f, bucket),
            )
        bucket, points = read(world.db, "timeline_auto", f)  # both from one snapshot
        assert read(world.db, "timeline_json", f) == (
            bucket,
            json.dumps(points, separators=(",", ":")),
        )
        assert bucket == read(world.db, "auto_bucket", f)
        assert (
            points == read(world.db, "timeline", f, bucket) == read(world.db, "timeline", f, "auto")
        )


def test_top_errors_at_every_cut_match_hand_sql(world: World) -> None:
    # Ties in count at the cut are ordered by template text, then id, as processor.py does.
    for f, where in ((Filters(), ""), (Filters(operator="bob"), " WHERE operator = 'bob'")):
        hand = world.sql(
            "SELECT template_id, SUM(count) AS n, MIN(template) AS t FROM templates"
            " WHERE level IN ('ERROR', 'CRITICAL') AND blob_id IN"
            f" (SELECT blob_id FROM uploads{where}) GROUP BY template_id"
            " ORDER BY n DESC, t, template_id"
        )
        assert len({n for _tid, n, _t in hand}) < len(hand)  # some counts tie
        for n in range(1, len(hand) + 2):
            top = read(world.db, "top_errors", f, n)
            assert [(t["template_id"], t["count"], t["template"]) for t in top] == hand[:n]
        stats = read(world.db, "stats", f, len(hand))
        assert [t["template_id"] for t in stats["top_errors"]] == [i for i, _n, _t in hand]


def test_every_blob_at_once_reads_like_a_selection_of_them(world: World, tmp_path: Path) -> None:
    # With every analysed blob selected, the Reader reads whole tables; otherwise it reads
    # the selected blobs' rows. A copy holding one more blob whose job failed (its rows
    # must not count) takes the second way: both must give the same answers.
    if is_postgres(world.db):
        pytest.skip("copies the SQLite file (the Reader's SQL is the same on PostgreSQL)")
    assert isinstance(world.db, Path)
    copy = tmp_path / "copy.db"
    with sqlite3.connect(world.db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as conn:
        blob = conn.execute("SELECT MIN(blob_id) FROM results").fetchone()[0]
        extra = conn.execute(
            "INSERT INTO blobs (sha256, size, path, first_name, stored_at)"
            " SELECT 'f' || sha256, size, path, first_name, stored_at FROM blobs WHERE id = ?",
            (blob,),
        ).lastrowid
        job = conn.execute(
            "INSERT INTO jobs (blob_id, state, created_at) VALUES (?, 'failed', '')", (extra,)
        ).lastrowid
        conn.execute(
            "INSERT INTO uploads (operator, original_name, size, sha256, compression,"
            " started_at, received_at, status, blob_id) SELECT operator, original_name, size,"
            " sha256, compression, started_at, received_at, status, ? FROM uploads"
            " WHERE blob_id = ?",
            (extra, blob),
        )
        columns = {
            "results": "job_id, entries, lines, bytes, continuation_lines, untimed_entries,"
            " filtered_lines, first_ts, last_ts, templates, templates_approximate, report_json,"
            " directive_lines",
            "level_counts": "level, count",
            "templates": "template_id, level, template, count, example, line",
            "timeline": "minute, level, count",
            "timeline_hour": "hour, level, count",
            "timeline_day": "day, level, count",
            "rejected": "reason, count",
            "rejected_samples": "reason, line, text",
            "repaired": "kind, count",
            "filtered": "rule, count",
            "formats": "format, confidence, lines, entries, bytes, timed, leveled, understood,"
            " layout, expects_levels",
        }
        for table, names in columns.items():
            conn.execute(
                f"INSERT INTO {table} (blob_id, {names}) SELECT ?, {names} FROM {table}"
                " WHERE blob_id = ?",
                (extra, blob),
            )
        conn.execute("UPDATE results SET job_id = ? WHERE blob_id = ?", (job, extra))
        assert conn.execute(
            "SELECT COUNT(*) FROM templates WHERE blob_id = ?", (extra,)
        ).fetchone()[0]
    window = Filters(start=parse_time("2000-01-01"), end=parse_time("2100-01-01"))
    for f in (Filters(), Filters(level="ERROR"), Filters(level="INFO"), window):
        for method, *args in (
            ("stats", f, 10),
            ("top_errors", f, 20),
            ("templates", f, Page(limit=1000)),
            ("rejected", f),
            ("span", f),
            ("timeline", f, "minute"),
            ("timeline", f, "hour"),
            ("timeline", f, "day"),
            ("timeline_auto", f),
            ("timeline_json", f, "minute"),
        ):
            assert read(copy, method, *args) == read(world.db, method, *args), (method, f)


def test_reads_of_many_tasks_share_a_few_connections(world: World) -> None:
    alone = read(world.db, "stats", Filters(), 5)

    async def together() -> list[Any]:
        async with await Reader.open(world.db, connections=2) as reader:
            return await asyncio.gather(
                *(reader.stats(Filters(), 5) for _ in range(6)),
                *(reader.timeline_auto(Filters()) for _ in range(3)),
                reader.data_version(),
            )

    answers = asyncio.run(together())
    assert answers[:6] == [alone] * 6
    assert answers[6:9] == [read(world.db, "timeline_auto", Filters())] * 3

    async def closed() -> None:
        reader = await Reader.open(world.db, connections=1)
        await reader.close()
        await reader.stats(Filters(), 5)

    with pytest.raises(StorageError, match="closed"):
        asyncio.run(closed())


def test_level_and_upload_filters(world: World) -> None:
    stats = read(world.db, "stats", Filters(level="ERROR"), 5)
    assert list(stats["levels"]) == ["ERROR"]
    assert stats["entries"] == stats["levels"]["ERROR"]
    mismatch = read(world.db, "stats", Filters(upload=world.ids["app.log"], operator="bob"), 5)
    assert (mismatch["uploads"], mismatch["entries"], mismatch["levels"]) == (0, 0, {})
    assert read(world.db, "upload", 99_999) is None
    one = read(world.db, "upload", world.ids["worker.log"])
    expected = world.reports["worker.log"]
    assert one["operator"] == "alice" and one["job_state"] == "done"
    assert one["results"]["levels"] == expected["levels"]
    assert one["formats"][0]["format"] == expected["formats"][0]["format"]


def test_uploads_pages_sorts_and_status(world: World) -> None:
    rows, total = read(world.db, "uploads", Filters(), Page(limit=3))
    assert total == 4 and [r["upload_id"] for r in rows] == sorted(world.ids.values())[::-1][:3]
    rest, total = read(world.db, "uploads", Filters(), Page(limit=3, offset=3))
    assert total == 4 and len(rest) == 1
    names, _ = read(world.db, "uploads", Filters(operator="bob"), Page(sort="original_name"))
    assert [r["original_name"] for r in names] == ["copy-of-app.log", "events.log"]
    done, total = read(world.db, "uploads", Filters(status="done"), Page())
    assert total == 4 and all(r["job_state"] == "done" for r in done)
    assert read(world.db, "uploads", Filters(status="receiving"), Page()) == ([], 0)
    future = datetime.now(UTC) + timedelta(days=1)
    assert read(world.db, "uploads", Filters(start=future), Page()) == ([], 0)
    with pytest.raises(QueryError, match="sort='size; DROP TABLE uploads'"):
        Page(sort="size; DROP TABLE uploads")
    with pytest.raises(QueryError, match="use one of entries, id, "):
        read(world.db, "uploads", Filters(), Page(sort="sha256"))
    with pytest.raises(QueryError, match="use one of count, template, template_id"):
        read(world.db, "templates", Filters(), Page(sort="-id"))


def test_templates_search_and_pages(world: World) -> None:
    everything, total = read(world.db, "templates", Filters(), Page(limit=1000))
    hand = world.sql(
        "SELECT template_id, SUM(count), MIN(template) FROM templates WHERE blob_id IN"
        " (SELECT blob_id FROM uploads) GROUP BY template_id"
    )
    assert total == len(hand) == len(everything)
    assert {(t["template_id"], t["count"]) for t in everything} == {(i, n) for i, n, _ in hand}
    assert all(sum(t["levels"].values()) == t["count"] for t in everything)
    assert [t["count"] for t in everything] == sorted(
        (t["count"] for t in everything), reverse=True
    )
    page, total_again = read(world.db, "templates", Filters(), Page(limit=7, offset=7))
    assert total_again == total and page == everything[7:14]
    for text in ("error", "%", "_", "<*>"):
        found, count = read(world.db, "templates", Filters(text=text), Page(limit=1000))
        expected = {i for i, _n, t in hand if text.lower() in t.lower()}
        assert {t["template_id"] for t in found} == expected and count == len(expected), text


def test_injection_attempts_are_only_values(world: World) -> None:
    for operator in ("alice' OR 1=1 --", 'alice" OR "1"="1', "%"):
        assert read(world.db, "stats", Filters(operator=operator), 5)["uploads"] == 0
        assert read(world.db, "uploads", Filters(operator=operator), Page()) == ([], 0)
    assert read(world.db, "templates", Filters(text="') OR 1=1 --"), Page()) == ([], 0)
    assert world.sql("SELECT COUNT(*) FROM uploads") == [(4,)]


def test_rejected_lines_by_reason(world: World) -> None:
    rejected = read(world.db, "rejected", Filters(operator="alice"))
    expected: Counter[str] = Counter()
    for name in ("app.log", "worker.log"):
        expected.update(world.reports[name]["rejected"])
    assert {r["reason"]: r["count"] for r in rejected} == expected
    assert [r["count"] for r in rejected] == sorted((r["count"] for r in rejected), reverse=True)
    for item in rejected:
        assert 1 <= len(item["samples"]) <= 3
        first = item["samples"][0]
        assert (
            first["upload_id"] == world.ids["app.log"]
            or item["reason"] not in (world.reports["app.log"]["rejected"])
        )


def test_bad_filters_name_the_field() -> None:
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"level": "LOUD"}, "level='LOUD'"),
        ({"start": moment, "end": moment}, "start=2024-05-01T00:00:00+00:00 is not before"),
        ({"start": datetime(2024, 5, 1)}, "start=2024-05-01T00:00:00 has no time zone"),
        ({"status": "lost"}, "status='lost'"),
        ({"upload": 0}, "upload=0"),
        ({"text": ""}, "text=''"),
    ]
    for fields, message in cases:
        with pytest.raises(QueryError, match=message.replace("+", r"\+")):
            Filters(**fields)
    with pytest.raises(ValueError, match="limit=0"):  # QueryError is a ValueError too
        Page(limit=0)
    with pytest.raises(QueryError, match="'yesterday-ish' is not a time"):
        parse_time("yesterday-ish", "--start")
    assert parse_time("2024-05-01T12:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    now = datetime(2024, 5, 2, tzinfo=UTC)
    assert parse_time("-2d", now=now) == datetime(2024, 4, 30, tzinfo=UTC)


def test_a_missing_database_is_named_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing" / "loglens.db"
    with pytest.raises(StorageError, match=f"no results database at {missing} \\(DB_PATH\\)"):
        read(missing, "stats", Filters(), 5)
    assert not missing.exists() and not missing.parent.exists()


def test_snapshots_stay_consistent_while_results_land(
    server_factory: ServerFactory, database: Target, tmp_path: Path
) -> None:
    postgres = is_postgres(database)
    loglens_server = server_factory(**({"DATABASE_URL": str(database)} if postgres else {}))
    db: Target = database if postgres else loglens_server.db_path
    first = generated(tmp_path, "log4j", 8, lines=800)
    send(loglens_server, "alice", first, "first.log")
    files = [generated(tmp_path, fmt, 9, lines=3000) for fmt in ("python", "jsonl", "logfmt")]

    async def scenario() -> list[dict[str, Any]]:
        snapshots: list[dict[str, Any]] = []
        async with await Reader.open(db) as reader:
            version = await reader.data_version()
            if not postgres:  # PostgreSQL's moves with other databases of the server too
                assert await reader.data_version() == version  # nothing written meanwhile
            uploads = asyncio.gather(*(
                asyncio.to_thread(send, loglens_server, "bob", path, path.name) for path in files
            ))  # fmt: skip
            while not uploads.done():
                snapshots.append(await reader.stats(Filters(), 3))
                await asyncio.sleep(0.01)
            await uploads
            snapshots.append(await reader.stats(Filters(), 3))
            assert await reader.data_version() != version
        return snapshots

    snapshots = asyncio.run(scenario())
    assert len(snapshots) >= 3
    seen = [s["blobs"] for s in snapshots]
    assert seen == sorted(seen) and 1 <= seen[0] < 4 and seen[-1] == 4
    for snapshot in snapshots:
        assert sum(snapshot["levels"].values()) == snapshot["entries"]
        assert sum(snapshot["rejected"].values()) >= 0
        assert snapshot["uploads"] == snapshot["blobs"]
