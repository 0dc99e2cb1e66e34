"""PostgreSQL as the results database (DATABASE_URL): the same schema and the same answers
as SQLite, writers at once, and a clear error when it is down.

The storage, query, CLI and API tests run on both databases too (the `database` fixture
and the parametrized `world`s); these compare the two side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loglens.errors import StorageError
from loglens.storage import Database
from loglens.storage.dialect import Target
from loglens.storage.read.filters import Filters, Page
from loglens.storage.read.queries import Reader
from loglens.storage.schema import SUMMED
from tests.conftest import ROOT, SETTINGS, MakeLog
from tests.integration.conftest import ServerHandle
from tests.integration.postgres import fresh_schema, sql_rows
from tests.integration.test_queries import World, build_world
from tests.integration.test_storage import analysed, stored_upload

# Nobody listens here: a PostgreSQL that is down.
DOWN_URL = "postgresql://postgres@127.0.0.1:1/test"
# Times of day the two servers cannot share: when each upload arrived and ran.
_WALL_TIMES = {"received_at", "started_at", "job_started_at", "job_finished_at"}


@dataclass
class Pair:
    """The same uploads analysed by a server on SQLite and by one on PostgreSQL."""

    sqlite: World
    postgres: World


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("postgres-pair")
    world = contextlib.contextmanager(build_world)
    with (
        fresh_schema() as url,
        world(root / "sqlite") as on_sqlite,
        world(root / "postgresql", url) as on_postgres,
    ):
        yield Pair(on_sqlite, on_postgres)


def query_json(db: Target, *args: str) -> Any:
    """`python -m loglens query ARGS --json` over `db`, as a user runs it: a SQLite file
    in DB_PATH, a PostgreSQL database in DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if k not in (*SETTINGS, "DB_PATH", "DATABASE_URL")}
    env["DATABASE_URL" if isinstance(db, str) else "DB_PATH"] = str(db)
    done = subprocess.run(
        [sys.executable, "-m", "loglens", "query", *args, "--json", "--env-file", os.devnull],
        capture_output=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def without_wall_times(value: Any) -> Any:
    """`value` with the times of day each server received and ran its uploads left out."""
    if isinstance(value, dict):
        return {k: without_wall_times(v) for k, v in value.items() if k not in _WALL_TIMES}
    if isinstance(value, list):
        return [without_wall_times(v) for v in value]
    return value


def test_the_query_cli_gives_the_same_json_on_both(pair: Pair) -> None:
    events = str(pair.sqlite.ids["events.log"])
    assert pair.postgres.ids == pair.sqlite.ids
    cases: list[tuple[str, ...]] = [
        ("uploads",),
        ("uploads", "--operator", "bob", "--sort", "original_name"),
        ("stats",),
        ("stats", "--operator", "alice"),
        ("stats", "--upload", events),
        ("stats", "--level", "error"),
        ("stats", "--start", "2000-01-01", "--end", "2100-01-01"),
        ("top-errors", "10"),
        ("templates", "--limit", "1000"),
        ("templates", "--search", "error"),
        ("timeline", "--bucket", "minute"),
        ("timeline", "--bucket", "hour", "--level", "warning"),
        ("timeline", "--bucket", "auto"),
        ("timeline", "--upload", events, "--bucket", "day"),
        ("rejected",),
        ("anomalies", "--limit", "1000"),
        ("categories",),
        ("trend", "--by", "template", "--bucket", "hour"),
        ("trend", "--by", "category", "--bucket", "minute"),
        ("trend", "--by", "level", "--bucket", "day"),
        ("diff", str(pair.sqlite.ids["app.log"]), events),
        ("diff", str(pair.sqlite.ids["worker.log"]), events, "--rate", "hour"),
    ]
    for case in cases:
        on_sqlite = query_json(pair.sqlite.db, *case)
        on_postgres = query_json(pair.postgres.db, *case)
        assert on_sqlite, case  # something to compare
        assert without_wall_times(on_postgres) == without_wall_times(on_sqlite), case


def test_the_reader_gives_the_same_upload_details_on_both(pair: Pair) -> None:
    async def details(db: Target) -> list[Any]:
        async with await Reader.open(db) as reader:
            found: list[Any] = [await reader.upload(i) for i in pair.sqlite.ids.values()]
            found.append(await reader.timeline_json(Filters(), "minute"))
            found.append(await reader.categories(Filters(level="ERROR"), shown=5))
            return found

    on_sqlite = asyncio.run(details(pair.sqlite.db))
    on_postgres = asyncio.run(details(pair.postgres.db))
    assert without_wall_times(on_postgres) == without_wall_times(on_sqlite)
    # The JSON text the API sends as it is: the same bytes from either database.
    assert on_postgres[-2] == on_sqlite[-2]


def test_the_schema_has_the_same_columns_on_both(pair: Pair) -> None:
    names = [
        name
        for (name,) in sql_rows(
            pair.sqlite.db,
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite%' ORDER BY name",
        )
    ]
    assert len(names) > 30
    for name in names:
        on_sqlite = [row[1] for row in sql_rows(pair.sqlite.db, f"PRAGMA table_info({name})")]
        on_postgres = [
            column
            for (column,) in sql_rows(
                pair.postgres.db,
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?"
                " ORDER BY ordinal_position",
                (name,),
            )
        ]
        # PostgreSQL's own rowid column stands for SQLite's hidden one.
        assert [c for c in on_postgres if c != "rowid"] == on_sqlite, name
    assert sql_rows(pair.postgres.db, "SELECT version FROM loglens_schema") == sql_rows(
        pair.sqlite.db, "PRAGMA user_version"
    )


async def test_writers_on_many_connections_keep_the_sums_right(
    postgres_url: str, make_log: MakeLog
) -> None:
    logs = [make_log(fmt, lines=400, seed=n)[0] for n, fmt in enumerate(("log4j", "python") * 3)]
    results = [analysed(path, f"{n}.log") for n, path in enumerate(logs)]
    databases = [await Database.open(postgres_url) for _ in range(3)]
    try:
        jobs = []
        for n, _path in enumerate(logs):
            upload_id = await stored_upload(databases[0], "alice", f"{n:064d}", f"{n}.log")
            job = await databases[0].job_for_upload(upload_id)
            assert job is not None and await databases[0].start_job(job.id, "r") is not None
            jobs.append(job.id)

        # Every connection finishes its jobs at once: PostgreSQL runs them together, but
        # the sums over every blob are kept by one at a time.
        async def finish(n: int) -> bool:
            return await databases[n % 3].finish_job(jobs[n], "r", results[n])

        assert all(await asyncio.gather(*(finish(n) for n in range(len(jobs)))))
    finally:
        for db in databases:
            await db.close()
    for table, (sums, keys) in SUMMED.items():
        kept = sql_rows(postgres_url, f"SELECT {keys}, count FROM {sums} ORDER BY {keys}")
        summed = sql_rows(
            postgres_url,
            f"SELECT {keys}, SUM(count) FROM {table} GROUP BY {keys} ORDER BY {keys}",
        )
        assert kept == summed and kept, sums
    assert sql_rows(postgres_url, "SELECT COUNT(*) FROM results") == [(len(logs),)]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    merged = {k: v for k, v in os.environ.items() if k not in (*SETTINGS, "DB_PATH")}
    merged.update(env)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=merged, cwd=ROOT,
        timeout=120, check=False,
    )  # fmt: skip


def test_a_database_that_is_down_is_named_at_start(tmp_path: Path) -> None:
    down = {"DATABASE_URL": DOWN_URL}
    for command in (
        ("-m", "loglens", "query", "stats", "--env-file", os.devnull),
        ("-m", "loglens", "jobs", "list", "--env-file", os.devnull),
        ("-m", "loglens", "alerts", "list", "--env-file", os.devnull),
        ("-m", "loglens", "api", "--port", "0", "--env-file", os.devnull),
    ):
        done = _run(*command, env=down)
        assert done.returncode != 0, command
        assert "DATABASE_URL" in done.stderr and "127.0.0.1:1" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
    server = ServerHandle(tmp_path / "server", down)
    server.root.mkdir()
    try:
        with pytest.raises(RuntimeError, match="exited at start") as failed:
            server.start()
    finally:
        server.cleanup()
    log = str(failed.value)
    assert "DATABASE_URL" in log and "Traceback" not in log, log


async def test_open_names_the_url_without_its_password() -> None:
    with pytest.raises(StorageError) as failed:
        await Database.open("postgresql://alice:s3cret@127.0.0.1:1/test")
    message = str(failed.value)
    assert "DATABASE_URL" in message and "alice:***@127.0.0.1:1" in message
    assert "s3cret" not in message


async def test_the_data_version_moves_when_a_writer_commits(postgres_url: str) -> None:
    # The API's cache key: it must change with every commit (other databases of the same
    # server may move it too: that only costs a cache miss, so it is not asserted).
    async with await Database.open(postgres_url) as db, await Reader.open(postgres_url) as reader:
        for n in range(3):
            before = await reader.data_version()
            await stored_upload(db, "alice", f"{n:064d}")
            assert await reader.data_version() != before


async def test_connections_the_server_dropped_are_opened_again(postgres_url: str) -> None:
    # A restart of PostgreSQL, or a network cut, as the connections see it: terminated.
    name = f"loglens-{uuid.uuid4().hex[:12]}"
    url = f"{postgres_url}&application_name={name}"

    def drop_them() -> int:
        found = sql_rows(
            url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = ? AND pid <> pg_backend_pid()",
            (name,),
        )
        return len(found)

    async with await Database.open(url) as db, await Reader.open(url, connections=1) as reader:
        first = await stored_upload(db, "alice", "a" * 64)
        assert (await reader.uploads(Filters(), Page()))[1] == 1
        assert drop_them() >= 2  # the writer, the reader's connection and its version one
        # The next transaction of each goes on, on a new connection.
        second = await stored_upload(db, "alice", "b" * 64)
        assert second == first + 1
        uploads, total = await reader.uploads(Filters(), Page())
        assert total == 2 and {u["upload_id"] for u in uploads} == {first, second}
        assert await reader.data_version() != 0
        upload = await db.upload(first)
        assert upload is not None and upload.status == "stored"
