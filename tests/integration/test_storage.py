"""The storage layer on real databases (SQLite files and PostgreSQL schemas): uploads,
duplicates, job leases, results, the documented SQL."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loglens.analysis.report import ERROR_LEVELS, build_report, render_text
from loglens.errors import StorageError
from loglens.processor.local import Options, analyse
from loglens.processor.options import file_source
from loglens.storage import SCHEMA_VERSION, Database, Results
from loglens.storage.dialect import Target, is_postgres
from loglens.storage.read.filters import Filters
from loglens.storage.read.queries import Reader
from loglens.storage.schema import SUMMED, format_time
from loglens.storage.write.results import results_from_analysis
from tests.conftest import ROOT, MakeLog
from tests.integration.conftest import make_version_5
from tests.integration.postgres import sql_rows

SENT = ("5" * 64, 1234, "none")  # sha256, size and compression of the bytes as sent
# create_upload takes them in another order: size, sha256, compression.
CREATE = (SENT[1], SENT[0], SENT[2])


def analysed(path: Path, name: str) -> Results:
    """The rows of a real analysis of `path`, shown as `name`."""
    analysis = analyse([file_source(path, name)], Options())
    assert not analysis.problems
    report = build_report(analysis.summary, analysis.templates)
    return results_from_analysis(analysis.summary, analysis.templates, report)


async def stored_upload(db: Database, operator: str, content: str, name: str = "a.log") -> int:
    """An upload of `operator` stored with content hash `content`; return its id."""
    upload_id = await db.create_upload(operator, name, *CREATE)
    await db.store_upload(upload_id, content, 10, f"blobs/{content}")
    return upload_id


def query(db: Target, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query run with the plain sqlite3 module or psycopg, as a person would."""
    return sql_rows(db, sql, params)


async def test_new_database_has_the_schema_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "loglens.db"
    async with await Database.open(path) as db:
        assert db.path == path
    assert query(path, "PRAGMA journal_mode") == [("wal",)]
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    names = {name for (name,) in query(path, "SELECT name FROM sqlite_master")}
    assert {"blobs", "uploads", "jobs", "results", "templates", "timeline"} <= names
    assert {"upload_levels", "upload_templates", "upload_timeline", "upload_rejected"} <= names
    assert {"upload_status", "uploads_operator_received", "jobs_state"} <= names
    async with await Database.open(path):  # opening it again keeps it as it is
        pass
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_create_and_resume_uploads(database: Target) -> None:
    async with await Database.open(database) as db:
        first = await db.create_upload("alice", "app.log", *CREATE)
        second = await db.create_upload("alice", "app.log", *CREATE)
        await db.create_upload("bob", "app.log", *CREATE)
        await db.create_upload("alice", "app.log", SENT[1], SENT[0], "gzip")
        upload = await db.upload(first)
        assert upload is not None
        assert (upload.operator, upload.original_name, upload.status) == (
            "alice",
            "app.log",
            "receiving",
        )
        assert (upload.size, upload.sha256, upload.received_at, upload.blob_id) == (
            SENT[1],
            SENT[0],
            None,
            None,
        )
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", upload.started_at)
        resumable = await db.resumable_uploads("alice", *SENT)
        assert [u.id for u in resumable] == [second, first]
        await db.fail_upload(second, "connection lost")
        failed = await db.upload(second)
        assert failed is not None and (failed.status, failed.error) == ("failed", "connection lost")
        assert [u.id for u in await db.resumable_uploads("alice", *SENT)] == [first]
        assert await db.upload(9999) is None


async def test_same_content_twice_is_one_blob_and_one_job(database: Target) -> None:
    async with await Database.open(database) as db:
        first = await db.create_upload("alice", "one.log", *CREATE)
        assert await db.stored_blob_for(*SENT) is None
        stored = await db.store_upload(first, "c" * 64, 10, "blobs/first")
        assert (stored.job_created, stored.duplicate, stored.blob_path) == (
            True,
            False,
            "blobs/first",
        )
        second = await db.create_upload("bob", "two.log", 99, "9" * 64, "gzip")
        again = await db.store_upload(second, "c" * 64, 10, "blobs/second")
        assert (again.blob_id, again.job_id) == (stored.blob_id, stored.job_id)
        assert (again.job_created, again.duplicate, again.blob_path) == (
            False,
            True,
            "blobs/first",
        )
        uploads = [await db.upload(first), await db.upload(second)]
        assert [(u.status, u.blob_id, u.duplicate) for u in uploads if u] == [
            ("stored", stored.blob_id, False),
            ("stored", stored.blob_id, True),
        ]
        assert all(u is not None and u.received_at for u in uploads)
        blob = await db.stored_blob_for(*SENT)
        assert blob is not None and (blob.path, blob.first_name) == ("blobs/first", "one.log")
        assert await db.stored_blob_for(SENT[0], SENT[1], "gzip") is None
        job = await db.job(stored.job_id)
        assert job is not None and (job.state, job.path, job.name) == (
            "queued",
            "blobs/first",
            "one.log",
        )
        assert await db.job_for_upload(second) == job
        with pytest.raises(StorageError, match="only an upload still receiving"):
            await db.store_upload(second, "d" * 64, 10, "blobs/third")
        await db.fail_upload(first, "too late")  # a stored upload stays stored
        kept = await db.upload(first)
        assert kept is not None and kept.status == "stored"
    assert query(database, "SELECT COUNT(*) FROM blobs") == [(1,)]
    assert query(database, "SELECT COUNT(*) FROM jobs") == [(1,)]


async def test_concurrent_stores_of_the_same_content(database: Target) -> None:
    path = database
    databases = [await Database.open(path) for _ in range(4)]  # four connections
    try:
        ids = [await databases[0].create_upload(f"op{n}", f"{n}.log", *CREATE) for n in range(40)]
        stores = [
            databases[n % 4].store_upload(upload_id, "e" * 64, 10, f"blobs/{n}")
            for n, upload_id in enumerate(ids)
        ]
        results = await asyncio.gather(*stores)
    finally:
        for db in databases:
            await db.close()
    assert len({(r.blob_id, r.job_id, r.blob_path) for r in results}) == 1
    assert sum(r.job_created for r in results) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert query(path, "SELECT COUNT(*) FROM blobs") == [(1,)]
    assert query(path, "SELECT COUNT(*) FROM jobs") == [(1,)]
    assert query(path, "SELECT status, SUM(duplicate), COUNT(*) FROM uploads GROUP BY 1") == [
        ("stored", 39, 40)
    ]


async def test_a_job_finishes_once_under_its_runner(database: Target, make_log: MakeLog) -> None:
    path, _ = make_log("log4j", lines=300)
    results = analysed(path, "app.log")
    async with await Database.open(database) as db:
        upload_id = await stored_upload(db, "alice", "f" * 64)
        job = await db.job_for_upload(upload_id)
        assert job is not None and job.state == "queued"
        running = await db.start_job(job.id, "runner-a")
        assert running is not None
        assert (running.state, running.attempts, running.runner) == ("running", 1, "runner-a")
        assert running.started_at is not None
        assert await db.start_job(job.id, "runner-b") is None  # a duplicate message
        assert not await db.finish_job(job.id, "runner-b", results)
        assert not await db.fail_job(job.id, "runner-b", "no")
        assert query(database, "SELECT COUNT(*) FROM results") == [(0,)]
        assert query(database, "SELECT COUNT(*) FROM templates") == [(0,)]
        assert await db.job_report(job.id) is None

        requeued = await db.requeue_unfinished()  # the server restarted
        assert [(j.id, j.state, j.runner) for j in requeued] == [(job.id, "queued", None)]
        assert await db.start_job(job.id, "runner-c") is not None
        assert not await db.finish_job(job.id, "runner-a", results)  # an orphan wakes up
        assert await db.finish_job(job.id, "runner-c", results)
        done = await db.job(job.id)
        assert done is not None
        assert (done.state, done.attempts, done.runner) == ("done", 2, "runner-c")
        assert done.finished_at is not None and done.error is None
        assert await db.job_report(job.id) == results.report
        assert not await db.finish_job(job.id, "runner-c", results)  # exactly once
        assert not await db.fail_job(job.id, "runner-c", "late")
        assert await db.requeue_unfinished() == []


async def test_failed_job_records_why(database: Target) -> None:
    async with await Database.open(database) as db:
        upload_id = await stored_upload(db, "alice", "f" * 64)
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.fail_job(job.id, "r", "a.log: binary file, not a text log")
        failed = await db.job(job.id)
        assert failed is not None
        assert (failed.state, failed.error) == ("failed", "a.log: binary file, not a text log")
        assert await db.job_report(job.id) is None
    rows = query(database, "SELECT status, job_state, job_error FROM upload_status")
    assert rows == [("stored", "failed", "a.log: binary file, not a text log")]


async def test_results_round_trip(database: Target, make_log: MakeLog) -> None:
    path, truth = make_log("log4j", lines=1500)
    results = analysed(path, "app.log")
    db_path = database
    async with await Database.open(db_path) as db:
        upload_id = await stored_upload(db, "alice", "a" * 64)
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", results)
        # A blob analysed again (a rerun) has its rows replaced, not added to.
        query(db_path, "UPDATE jobs SET state = 'queued' WHERE id = ?", (job.id,))
        assert await db.start_job(job.id, "r2") is not None
        assert await db.finish_job(job.id, "r2", results)
        report = results.report
        levels = query(db_path, "SELECT level, count FROM upload_levels WHERE upload_id = ?",
                       (upload_id,))  # fmt: skip
    assert dict(levels) == report["levels"] == {k: v for k, v in truth.levels.items() if v}
    figures = query(
        db_path,
        "SELECT entries, lines, bytes, first_ts, last_ts, templates, templates_approximate,"
        " continuation_lines, untimed_entries, directive_lines FROM upload_results",
    )
    assert figures == [
        (
            report["entries"],
            report["lines"],
            report["bytes"],
            report["first_timestamp"] and _fixed(report["first_timestamp"]),
            report["last_timestamp"] and _fixed(report["last_timestamp"]),
            report["templates"],
            0,
            report["continuation_lines"],
            report["untimed_entries"],
            report["directive_lines"],
        )
    ]
    timed = report["entries"] - report["untimed_entries"]
    assert query(db_path, "SELECT SUM(count) FROM upload_timeline") == [(timed,)]
    repaired = query(db_path, "SELECT kind, count FROM repaired ORDER BY kind")
    assert repaired == sorted(report["repaired"].items())
    # The sums over every blob hold this blob's rows once, though its job ran twice.
    for table, (sums, keys) in SUMMED.items():
        assert query(db_path, f"SELECT {keys}, count FROM {sums} ORDER BY {keys}") == query(
            db_path, f"SELECT {keys}, count FROM {table} ORDER BY {keys}"
        ), sums
    minutes = [m for (m,) in query(db_path, "SELECT DISTINCT minute FROM timeline")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000000Z", m) for m in minutes)
    assert query(db_path, "SELECT SUM(count) FROM templates") == [(report["entries"],)]
    rejected = query(db_path, "SELECT reason, count FROM upload_rejected")
    assert dict(rejected) == report["rejected"]
    samples = query(db_path, "SELECT reason, line, text FROM rejected_samples")
    assert sorted(samples) == sorted(
        (reason, s["line"], s["text"])
        for reason, items in report["rejected_samples"].items()
        for s in items
    )
    stored_formats = query(
        db_path,
        "SELECT format, confidence, lines, entries, bytes, timed, leveled, understood, layout,"
        " expects_levels FROM formats",
    )
    assert stored_formats == [
        (
            f["format"],
            f["confidence"],
            f["lines"],
            f["entries"],
            f["bytes"],
            f["timed"],
            f["leveled"],
            f["understood"],
            f["layout"],
            int(f["expects_levels"]),
        )
        for f in report["formats"]
    ]
    # A log4j file is understood: every entry has its timestamp and, but a few, its level.
    (log4j,) = report["formats"]
    assert log4j["timed"] == log4j["entries"] == report["entries"] > 0
    assert log4j["leveled"] >= 0.95 * log4j["entries"]
    assert log4j["confidence"] == 1.0 and log4j["expects_levels"] is True
    # The report's top errors come back from the templates table with one query.
    top = query(
        db_path,
        "SELECT MIN(template) AS template, SUM(count) AS n, MIN(line) FROM templates WHERE level IN"
        f" ({', '.join(repr(level) for level in sorted(ERROR_LEVELS))})"
        " GROUP BY template_id ORDER BY n DESC, template LIMIT 5",
    )
    assert top == [(t["template"], t["count"], t["line"]) for t in report["top_errors"]]
    lines = path.read_bytes().split(b"\n")
    for template, _count, line in top:
        example = query(db_path, "SELECT example FROM templates WHERE template = ? AND line = ?",
                        (template, line))  # fmt: skip
        assert lines[int(str(line)) - 1].decode().endswith(str(example[0][0]).split("\n")[0])


def _fixed(iso: str) -> str:
    """The report's ISO time in the storage's fixed-width form."""
    return format_time(datetime.fromisoformat(iso))


def _blocks(postgres: bool) -> list[str]:
    """The SQL blocks of docs/schema.md a database runs: for SQLite the ```sql ones; for
    PostgreSQL its own (```sql postgresql) and the others that name no SQLite function."""
    text = (ROOT / "docs/schema.md").read_text()
    blocks: list[str] = re.findall(r"```sql\n(.*?)```", text, re.S)
    if not postgres:
        return blocks
    sqlite_only = re.compile(r"date\(|julianday|json_each|json_extract|SELECT template,")
    own: list[str] = re.findall(r"```sql postgresql\n(.*?)```", text, re.S)
    return own + [block for block in blocks if not sqlite_only.search(block)]


def _documented(title: str, postgres: bool = False) -> str:
    """The SQL block of docs/schema.md that starts with the comment `-- title`."""
    blocks = _blocks(postgres)
    found = [block for block in blocks if block.startswith(f"-- {title}\n")]
    assert len(found) == 1, f"docs/schema.md has no single query titled {title!r}"
    return str(found[0])


async def test_a_source_is_a_file_name_of_one_operator(database: Target, make_log: MakeLog) -> None:
    # Two operators' uploads of one name (two `<stdin>`, two `app.log`) are two sources:
    # neither is the other's history, earlier upload or alert.
    path, _truth = make_log("log4j", lines=400)
    results = analysed(path, "<stdin>")

    async def analysed_upload(db: Database, operator: str, content: str) -> tuple[int, int]:
        upload_id = await stored_upload(db, operator, content, name="<stdin>")
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", results)
        return upload_id, job.blob_id

    async with await Database.open(database) as db:
        alice_first, _blob = await analysed_upload(db, "alice", "a" * 64)
        bob_first, bob_blob = await analysed_upload(db, "bob", "b" * 64)
        alice_next, alice_blob = await analysed_upload(db, "alice", "c" * 64)
        assert await db.source_history(bob_blob) is None
        history = await db.source_history(alice_blob)
        assert history is not None and history[1] == results.report["entries"]
    async with await Reader.open(database) as reader:
        assert await reader.previous_upload(bob_first) is None
        assert await reader.previous_upload(alice_next) == alice_first
        assert await reader.previous_upload(alice_next, owner="bob") is None
        same = await reader.diff(Filters(upload=alice_first), Filters(upload=alice_next))
    # The same analysis on both sides: nothing appeared, vanished or moved.
    assert same["no_change"] is True
    assert [same[key]["total"] for key in ("appeared", "vanished", "changed")] == [0, 0, 0]


async def test_the_documented_alice_query(database: Target, make_log: MakeLog) -> None:
    db_path = database
    yesterday = format_time(datetime.now(UTC).replace(hour=12) - timedelta(days=1))
    today = format_time(datetime.now(UTC).replace(hour=0, minute=0, second=1))
    uploads: list[tuple[str, str, str, Results]] = []  # operator, when, content, results
    for n, (fmt, operator, when) in enumerate(
        [
            ("log4j", "alice", yesterday),
            ("python", "alice", yesterday),
            ("log4j", "alice", yesterday),  # the same content again: another upload
            ("syslog", "alice", today),
            ("python", "bob", yesterday),
        ]
    ):
        seed = 1 if n == 2 else n + 1
        path, _ = make_log(fmt, lines=400, seed=seed, name=f"{n}.log")
        uploads.append((operator, when, f"{fmt}-{seed}", analysed(path, f"{n}.log")))
    async with await Database.open(db_path) as db:
        for operator, when, content, results in uploads:
            upload_id = await stored_upload(db, operator, content.ljust(64, "0"))
            job = await db.job_for_upload(upload_id)
            assert job is not None
            if job.state == "queued":
                assert await db.start_job(job.id, "r") is not None
                assert await db.finish_job(job.id, "r", results)
            query(db_path, "UPDATE uploads SET received_at = ? WHERE id = ?", (when, upload_id))
    expected: dict[str, int] = {}
    for operator, when, _content, results in uploads:
        if operator == "alice" and when == yesterday:
            for t in results.template_counts:
                if t.level in ERROR_LEVELS:
                    expected[t.template] = expected.get(t.template, 0) + t.count
    top = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert len(top) == 5
    documented = _documented("top errors of yesterday's uploads by alice", is_postgres(database))
    assert query(db_path, documented) == top


async def test_every_documented_query_runs(database: Target, make_log: MakeLog) -> None:
    path, _ = make_log("log4j", lines=300)
    async with await Database.open(database) as db:
        upload_id = await stored_upload(db, "alice", "b" * 64)
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", analysed(path, "a.log"))
    blocks = _blocks(is_postgres(database))
    assert len(blocks) >= 13
    for block in blocks:
        for statement in filter(str.strip, block.split(";")):
            query(database, statement)


# The columns version 2 added to `formats`.
_V2_COLUMNS = ("timed", "leveled", "understood", "layout", "expects_levels")


def make_version_2(conn: sqlite3.Connection) -> None:
    """Make a database what loglens wrote before version 3: no `results.directive_lines`
    (nor `jobs.interrupted`, of version 4)."""
    make_version_5(conn)
    conn.execute("DROP VIEW upload_results")  # it names the column: it must go first
    conn.execute("ALTER TABLE results DROP COLUMN directive_lines")
    conn.execute("ALTER TABLE jobs DROP COLUMN interrupted")
    conn.execute("PRAGMA user_version = 2")


async def database_with_one_result(db_path: Path, log: Path) -> None:
    """Make a database holding one upload of ``log`` by alice, analysed and written."""
    async with await Database.open(db_path) as db:
        upload_id = await stored_upload(db, "alice", "c" * 64, "old.log")
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", analysed(log, "old.log"))


async def test_a_version_1_database_is_upgraded_and_keeps_its_rows(
    tmp_path: Path, make_log: MakeLog
) -> None:
    path, _ = make_log("log4j", lines=300)
    db_path = tmp_path / "db"
    await database_with_one_result(db_path, path)
    # Make it what loglens wrote before version 2: no such columns, version 1.
    with sqlite3.connect(db_path) as conn:
        make_version_2(conn)
        for column in _V2_COLUMNS:
            conn.execute(f"ALTER TABLE formats DROP COLUMN {column}")
        conn.execute("UPDATE formats SET confidence = 0.96")  # then: a share of sample lines
        conn.execute("PRAGMA user_version = 1")
    old_row = query(db_path, "SELECT * FROM formats")
    assert len(old_row) == 1 and len(old_row[0]) == 6
    # The read-only tools cannot upgrade it, and say who can.
    with pytest.raises(StorageError, match=r"schema version 1\b.*start the server"):
        await Reader.open(db_path)

    # A writer upgrades it; two at once (the server and the processor) upgrade it once.
    for db in await asyncio.gather(Database.open(db_path), Database.open(db_path)):
        await db.close()
    assert query(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert query(db_path, "SELECT * FROM formats") == [(*old_row[0], *[None] * 5)]
    async with await Database.open(db_path):  # an upgraded file opens as it is
        pass
    # New results fill the new columns; the old row reads as "not counted".
    async with await Database.open(db_path) as db:
        upload_id = await stored_upload(db, "alice", "d" * 64, "new.log")
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", analysed(path, "new.log"))
    counted = query(db_path, f"SELECT {', '.join(_V2_COLUMNS)} FROM formats ORDER BY rowid")
    assert counted[0] == (None,) * 5
    assert None not in counted[1] and counted[1][-1] == 1
    async with await Reader.open(db_path) as reader:
        old, new = await reader.upload(1), await reader.upload(2)
        stats = await reader.stats(Filters())
    assert old is not None and new is not None
    assert old["formats"][0]["confidence"] == 0.96
    assert (old["formats"][0]["timestamps"], old["formats"][0]["layout"]) == (None, None)
    assert new["formats"][0]["timestamps"] == 1.0
    # In the stats the two log4j rows stay apart, their layouts differing (the old row has
    # none): the counted one with its shares, the other without; neither is warned about.
    shares = sorted((item["timestamps"] is None, item["file"]) for item in stats["formats"])
    assert shares == [(False, "new.log"), (True, "old.log")]
    text = render_text(stats)
    assert "  - old.log: log4j, 300 lines, " in text and "  ! " not in text


async def test_a_version_2_database_is_upgraded_and_its_results_count_no_directives(
    tmp_path: Path,
) -> None:
    log = tmp_path / "commented.log"
    log.write_text(
        "# export of app.log\n"
        "#Fields: ts level thread logger message\n"
        "2024-03-01 10:00:00,001 INFO [main] org.app.Server: Server started\n"
        "2024-03-01 10:00:01,002 ERROR [main] org.app.Db: query failed\n"
    )
    db_path = tmp_path / "db"
    await database_with_one_result(db_path, log)
    with sqlite3.connect(db_path) as conn:
        make_version_2(conn)
    for db in await asyncio.gather(Database.open(db_path), Database.open(db_path)):
        await db.close()
    assert query(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    # The old row reads as none counted; new results store their count.
    async with await Database.open(db_path) as db:
        upload_id = await stored_upload(db, "alice", "d" * 64, "new.log")
        job = await db.job_for_upload(upload_id)
        assert job is not None and await db.start_job(job.id, "r") is not None
        assert await db.finish_job(job.id, "r", analysed(log, "new.log"))
    rows = "SELECT upload_id, directive_lines, lines FROM upload_results ORDER BY upload_id"
    assert query(db_path, rows) == [(1, 0, 4), (2, 2, 4)]
    async with await Reader.open(db_path) as reader:
        new = await reader.upload(2)
        stats = await reader.stats(Filters())
    assert new is not None and new["results"]["directive_lines"] == 2
    assert (stats["directive_lines"], stats["lines"], stats["entries"]) == (2, 8, 4)
    assert "Directive and comment lines: 2" in render_text(stats).splitlines()


async def test_unusable_paths_give_storage_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database, it only has a name like one\n" * 100)
    with pytest.raises(StorageError, match=r"garbage\.db"):
        await Database.open(garbage)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StorageError, match="cannot create its folder"):
        await Database.open(a_file / "loglens.db")
    with pytest.raises(StorageError, match="cannot open"):
        await Database.open(tmp_path)  # a directory
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="schema version"):
        await Database.open(newer)


async def test_a_closed_database_gives_storage_errors(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db")
    await db.close()
    with pytest.raises(StorageError):
        await db.create_upload("alice", "a.log", *CREATE)
    with pytest.raises(StorageError):
        await db.upload(1)
