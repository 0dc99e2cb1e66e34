"""`python -m loglens query …` as a user runs it, over a real server's database (SQLite,
then PostgreSQL)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loglens.storage.dialect import Target, is_postgres
from tests.conftest import ROOT, SETTINGS, Run, run_cli
from tests.integration.postgres import fresh_schema
from tests.integration.test_queries import World, build_world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One server and its uploads for the whole module (the tests only read), on each
    database in turn."""
    root = tmp_path_factory.mktemp(f"query-cli-{request.param}")
    if request.param == "sqlite":
        yield from build_world(root)
        return
    with fresh_schema() as url:
        yield from build_world(root, url)


def database_env(db: Target) -> dict[str, str]:
    """The setting that names `db`: DATABASE_URL for PostgreSQL, else DB_PATH."""
    return {"DATABASE_URL": str(db)} if is_postgres(db) else {"DB_PATH": str(db)}


def query(*args: str, db: Target | None = None, env: dict[str, str] | None = None) -> Run:
    """Run `python -m loglens query ARGS` (with `--db DB` first when given; a PostgreSQL
    database in DATABASE_URL)."""
    merged = {
        k: v for k, v in os.environ.items() if k not in (*SETTINGS, "DB_PATH", "DATABASE_URL")
    }
    merged.update(env or {})
    command = [sys.executable, "-m", "loglens", "query"]
    if db is not None and is_postgres(db):
        merged["DATABASE_URL"] = str(db)
    elif db is not None:
        command += ["--db", str(db)]
    done = subprocess.run(
        [*command, *args], capture_output=True, env=merged, cwd=ROOT, timeout=120, check=False
    )
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def test_stats_of_one_upload_prints_the_classic_report(world: World, tmp_path: Path) -> None:
    # processor.py on the file under its upload's name, so examples name the same file.
    named = tmp_path / "worker.log"
    shutil.copy2(world.files["worker.log"], named)
    local = run_cli("worker.log", "--quiet", cwd=tmp_path)
    assert local.code == 0, local.err
    run = query("stats", "--upload", str(world.ids["worker.log"]), db=world.db)
    assert run.code == 0, run.err
    # Everything up to the entries is the same report, categories and anomalies included.
    classic = local.out.split("\nEntries:")[0]
    # A steady generated log has no anomaly (test_findings compares a report with some).
    assert "\nCategories (entries;" in classic and "\nAnomalies: " in classic
    assert run.out.startswith(classic + "\nEntries:")
    assert run.out.splitlines()[-1] == "Uploads counted: 1"


def test_stats_json_options_and_db_from_the_environment(world: World) -> None:
    run = query("stats", "--operator", "alice", "--top", "2", "--json",
                env=database_env(world.db))  # fmt: skip
    assert run.code == 0, run.err
    stats = json.loads(run.out)
    expected = [world.reports[n] for n in ("app.log", "worker.log")]
    assert stats["entries"] == sum(r["entries"] for r in expected)
    assert len(stats["top_errors"]) == 2 and stats["uploads"] == 2
    everything = query("--json", "stats", db=world.db)
    assert "distinct" not in everything.out and json.loads(everything.out)["blobs"] == 3
    text = query("stats", db=world.db)
    assert "Uploads counted: 4 (3 distinct contents, each counted once)" in text.out


def test_uploads_table_and_json(world: World) -> None:
    run = query("uploads", "--operator", "bob", "--sort", "original_name", db=world.db)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[-1] == "uploads 1-2 of 2"
    assert run.out.index("copy-of-app.log") < run.out.index("events.log")
    assert all(len(line) <= 80 for line in lines)
    data = json.loads(query("uploads", "--limit", "1", "--json", db=world.db).out)
    assert data["total"] == 4 and len(data["uploads"]) == 1
    assert data["uploads"][0]["upload_id"] == max(world.ids.values())
    received = query("uploads", "--since", "-1d", "--until", "now", "--json", db=world.db)
    assert json.loads(received.out)["total"] == 4


def test_top_errors_templates_and_rejected(world: World) -> None:
    top = json.loads(query("top-errors", "3", "--json", db=world.db).out)
    assert len(top) == 3 and top[0]["count"] >= top[-1]["count"]
    table = query("top-errors", "3", db=world.db)
    assert table.code == 0 and top[0]["template"][:15] in table.out.replace("\n", " ")
    found = json.loads(query("templates", "--search", "error", "--json", db=world.db).out)
    assert found["total"] >= 1
    assert all("error" in t["template"].lower() for t in found["templates"])
    table = query("templates", "--search", "error", "--limit", "2", db=world.db)
    assert table.out.splitlines()[-1] == f"templates 1-2 of {found['total']}"
    rejected = json.loads(query("rejected", "--operator", "bob", "--json", db=world.db).out)
    assert {r["reason"] for r in rejected} >= set(world.reports["events.log"]["rejected"])
    table = query("rejected", db=world.db)
    total = sum(sum(world.reports[n]["rejected"].values()) for n in ("app.log", "worker.log",
                                                                       "events.log"))  # fmt: skip
    assert table.out.splitlines()[-1] == f"rejected lines: {total:,}"


def test_timeline_draws_an_ascii_chart(world: World) -> None:
    run = query("timeline", "--upload", str(world.ids["events.log"]), db=world.db)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith(": DEBUG") or "= INFO" in lines[0]  # the legend
    bars = [line for line in lines if " |" in line]
    assert len(bars) >= 3 and all(len(line) <= 80 for line in lines)
    assert sum(int(line.rsplit(" ", 1)[1].replace(",", "")) for line in bars) == (
        world.reports["events.log"]["entries"] - world.reports["events.log"]["untimed_entries"]
    )
    assert any("=" in bar for bar in bars)
    data = json.loads(query("timeline", "--bucket", "hour", "--level", "error", "--json",
                            db=world.db).out)  # fmt: skip
    assert data["bucket"] == "hour" and {p["level"] for p in data["timeline"]} == {"ERROR"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("stats", "--upload", "999"), 1, "no upload 999 in "),
        (("stats", "--start", "yesterday-ish"), 2, "--start='yesterday-ish' is not a time"),
        (("stats", "--start", "2024-05-02", "--end", "2024-05-01"), 2, "is not before end="),
        (("timeline", "--level", "LOUD"), 2, "level='LOUD' is unknown"),
        (("timeline", "--bucket", "week"), 2, "invalid choice: 'week'"),
        (("uploads", "--sort", "sha256"), 2, "sort='sha256' is unknown: use one of entries"),
        (("uploads", "--limit", "0"), 2, "limit=0 must be from 1 to 1000"),
        (("top-errors", "0"), 2, "N=0 must be from 1 to 1000"),
        (("diff", "999", "1"), 1, "no upload 999 in "),
        (("diff", "1", "999"), 1, "no upload 999 in "),
        (("diff", "99999999999999999999", "1"), 2, "A='99999999999999999999' is not an upload id"),
        (("stats", "--upload", "99999999999999999999"), 2, "upload=99999999999999999999 is not"),
        (
            ("uploads", "--offset", "99999999999999999999"),
            2,
            "offset must be a whole number from 0 to 1000000000, got 99999999999999999999",
        ),
        (("stats", "--start", "-99999999d"), 2, "--start='-99999999d' is out of range"),
        (("stats", "--since", "-999999999999w"), 2, "--start='-999999999999w' is out of range"),
        (("stats", "--end", "9999-12-31T23:59:59"), 2, "--end='9999-12-31T23:59:59' is out of"),
        (("anomalies", "--min-score", "1e400"), 2, "min_score=inf must be a number >= 0"),
    ],
)
def test_errors_and_exit_codes(
    world: World, args: tuple[str, ...], code: int, message: str
) -> None:
    run = query(*args, db=world.db)
    assert run.code == code, (run.out, run.err)
    assert message in run.err and run.out == ""


def test_a_missing_database_exits_1_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    run = query("stats", db=missing)
    assert run.code == 1
    assert f"no results database at {missing} (DB_PATH)" in run.err
    assert not missing.exists()
    listed = subprocess.run([sys.executable, "-m", "loglens", "--help"], capture_output=True,
                            text=True, cwd=ROOT, check=False)  # fmt: skip
    assert "query SUBCOMMAND" in listed.stdout
