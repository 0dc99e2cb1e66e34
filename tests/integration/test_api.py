"""The HTTP API over real uploads: a real `server.py`, real analyses, then a real
`python -m loglens api` (uvicorn on port 0) queried over HTTP and compared with
`processor.py --json` and the Reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from loglens.api import models
from loglens.protocol import FrameType
from loglens.storage.dialect import Target, is_postgres
from loglens.storage.read.filters import Filters, Page, parse_time
from loglens.storage.read.queries import Reader
from loglens.synth import SAMPLE_MESS, write_log
from tests.conftest import ROOT, MakeLog, run_cli
from tests.integration.conftest import SERVER_SETTINGS, TOKENS, ServerHandle
from tests.integration.postgres import fresh_schema, sql_rows
from tests.integration.wire import upload

T = TypeVar("T")
# A token that reads every operator's uploads (`:read-all`): most tests compare with all.
ADMIN, ADMIN_TOKEN = "root", "r00t-reads-all"
_LISTENING = re.compile(r"loglens api listening on (http://\S+)")
_START_SECONDS = 60
# (operator, file, format, lines, seed): bob uploads alice's log4j again (one content).
UPLOADS = (
    ("alice", "app-log4j.log", "log4j", 900, 21),
    ("alice", "worker-python.log", "python", 600, 22),
    ("bob", "events.jsonl", "jsonl", 500, 23),
    ("bob", "app-log4j.log", "log4j", 900, 21),
)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, headers (lower-case names) and the decoded JSON body."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class ApiHandle:
    """A running `python -m loglens api` process."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def log(self) -> str:
        """What the API process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, token: str | None = ADMIN_TOKEN, **params: Any) -> Answer:
        """GET `path` with query `params`, as the operator of `token` (None: no header)."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(self.url + path + (f"?{query}" if query else ""))
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, exc.headers, exc.read()
        kind = headers.get("content-type", "")
        body = json.loads(raw) if kind.startswith("application/json") else raw.decode()
        return Answer(status, {k.lower(): v for k, v in headers.items()}, body)

    def ok(self, path: str, **params: Any) -> Any:
        """The JSON body of a GET that must answer 200."""
        answer = self.get(path, **params)
        assert answer.status == 200, (path, params, answer.body)
        return answer.body

    def stop(self) -> int:
        """SIGTERM the API and wait for its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def api_command(*args: str) -> list[str]:
    """The command line of `python -m loglens api ARGS`."""
    return [sys.executable, "-m", "loglens", "api", "--env-file", os.devnull, *args]


def api_env(**settings: str) -> dict[str, str]:
    """The environment of an API process: the test operators, none of the developer's."""
    env = {
        k: v for k, v in os.environ.items() if k not in (*SERVER_SETTINGS, "API_HOST", "API_PORT")
    }
    env["PYTHONPATH"] = str(ROOT)
    tokens = [f"{op}:{tok}" for op, tok in TOKENS.items()] + [f"{ADMIN}:{ADMIN_TOKEN}:read-all"]
    env["AUTH_TOKENS"] = ",".join(tokens)
    # The tests of one module share an API from one address: no lockout unless a test asks.
    env["AUTH_FAILURE_LIMIT"] = "1000"
    env.update(settings)
    return env


@contextlib.contextmanager
def running_api(db_path: Target, log_dir: Path, **settings: str) -> Iterator[ApiHandle]:
    """Start the API on port 0 over `db_path` (a SQLite file as --db-path, a PostgreSQL
    URL as DATABASE_URL; with `settings` in its environment), wait until it listens, stop
    it after."""
    log_path = log_dir / "api.log"
    where = ["--db-path", str(db_path)]
    if is_postgres(db_path):
        where, settings = [], {**settings, "DATABASE_URL": str(db_path)}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            api_command("--host", "127.0.0.1", "--port", "0", *where),
            stdout=log, stderr=log, env=api_env(**settings), cwd=log_dir, start_new_session=True,
        )  # fmt: skip
    handle = ApiHandle(process, log_path)
    try:
        deadline = time.monotonic() + _START_SECONDS
        while not handle.url:
            match = _LISTENING.search(handle.log())
            if match:
                handle.url = match.group(1)
            elif process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{handle.log()}")
            else:
                time.sleep(0.05)
        yield handle
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@dataclass
class World:
    """A server holding the UPLOADS, analysed, and an API over its database."""

    server: ServerHandle
    api: ApiHandle
    ids: list[int]  # upload ids, in UPLOADS order
    reports: dict[str, dict[str, Any]]  # processor.py --json of each file
    database_url: str = ""  # the server's DATABASE_URL, if on PostgreSQL

    @property
    def database(self) -> Target:
        """The server's database: its DATABASE_URL, or its DB_PATH."""
        return self.database_url or self.server.db_path

    def read(self, call: Callable[[Reader], Awaitable[T]]) -> T:
        """What the Reader answers over the same database."""

        async def run() -> T:
            async with await Reader.open(self.database) as reader:
                return await call(reader)

        return asyncio.run(run())


@contextlib.contextmanager
def build_world(root: Path, database_url: str = "") -> Iterator[World]:
    """Generate the logs, upload them to a real server (on PostgreSQL with `database_url`)
    and wait for their analyses, then start the API; `processor.py --json` analyses each
    file for comparison."""
    logs = root / "logs"
    logs.mkdir(parents=True)
    (root / "server").mkdir()
    server = ServerHandle(root / "server", {"DATABASE_URL": database_url}).start()
    database: Target = database_url or server.db_path
    try:
        ids: list[int] = []
        reports: dict[str, dict[str, Any]] = {}
        for operator, name, fmt, lines, seed in UPLOADS:
            path = logs / name
            if not path.exists():
                write_log(path, fmt, lines=lines, seed=seed, mess=SAMPLE_MESS)
                done = run_cli("--json", name, cwd=logs)
                assert done.code == 0, done.err
                reports[name] = json.loads(done.out)
            frames = asyncio.run(
                upload(server.address, TOKENS[operator], path.read_bytes(), name=name, wait=True)
            )
            assert frames[-1].type is FrameType.PROCESSED, frames[-1]
            assert (frames[-1].body or {})["state"] == "done", frames[-1].body
            ids.append(int(frames[0].field("upload_id")))
        with running_api(database, root) as api:
            yield World(server, api, ids, reports, database_url)
    finally:
        server.cleanup()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One server, four uploads and one API for every test of this module, on each
    database in turn."""
    root = tmp_path_factory.mktemp(f"api-{request.param}")
    if request.param == "sqlite":
        with build_world(root) as built:
            yield built
        return
    with fresh_schema() as url, build_world(root, url) as built:
        yield built


def like(value: Any, model: Any) -> Any:
    """`value` cut to the keys `model` has, recursively (the API may add fields)."""
    if isinstance(model, dict) and isinstance(value, dict):
        return {k: like(value.get(k), v) for k, v in model.items()}
    if isinstance(model, list) and isinstance(value, list) and len(model) == len(value):
        return [like(v, m) for v, m in zip(value, model, strict=True)]
    return value


def summed(reports: list[dict[str, Any]], key: str) -> dict[str, int]:
    """A per-name count of several reports added up."""
    total: dict[str, int] = {}
    for report in reports:
        for name, count in report[key].items():
            total[name] = total.get(name, 0) + count
    return total


def test_each_upload_report_equals_processor_json(world: World) -> None:
    for (_op, name, *_), upload_id in zip(UPLOADS, world.ids, strict=True):
        api = world.api.ok(f"/uploads/{upload_id}/stats")
        assert like(api, world.reports[name]) == world.reports[name], name


def test_global_stats_add_each_content_once(world: World) -> None:
    stats = world.api.ok("/logs/stats")
    reports = list(world.reports.values())  # three contents: bob's log4j is alice's
    assert (stats["uploads"], stats["blobs"]) == (4, 3)
    assert stats["levels"] == summed(reports, "levels")
    assert stats["rejected"] == summed(reports, "rejected")
    assert stats["entries"] == sum(r["entries"] for r in reports)
    assert stats["first_timestamp"] == min(r["first_timestamp"] for r in reports)
    assert stats["last_timestamp"] == max(r["last_timestamp"] for r in reports)
    assert stats == world.read(lambda r: r.stats(Filters(), 5))
    assert stats["top_errors"] and all(e["example"] for e in stats["top_errors"])


def test_operator_and_level_filters(world: World) -> None:
    bob = world.api.ok("/logs/stats", operator="bob")
    expected = summed([world.reports["events.jsonl"], world.reports["app-log4j.log"]], "levels")
    assert bob["levels"] == expected
    errors = world.api.ok("/logs/stats", level="error")
    assert errors["levels"] == {"ERROR": summed(list(world.reports.values()), "levels")["ERROR"]}
    assert world.api.ok("/logs/stats", operator="carol")["entries"] == 0


def test_time_window(world: World) -> None:
    everything = world.api.ok("/logs/stats")
    wide = world.api.ok("/logs/stats", start="2000-01-01", end="2100-01-01T00:00:00Z")
    assert wide["levels"] == everything["levels"]
    assert world.api.ok("/logs/stats", end="2000-01-01")["entries"] == 0
    python = world.reports["worker-python.log"]
    start, end = python["first_timestamp"], python["last_timestamp"]
    windowed = world.api.ok("/timeline", start=start, end=end, bucket="minute")
    expected = world.read(
        lambda r: r.timeline(Filters(start=parse_time(start), end=parse_time(end)), "minute")
    )
    assert windowed["points"] == expected and expected


def test_timeline_counts_every_timed_entry(world: World) -> None:
    levels = world.api.ok("/logs/stats")["levels"]
    for bucket in ("minute", "hour", "day"):
        timeline = world.api.ok("/timeline", bucket=bucket)
        assert timeline["bucket"] == bucket
        assert timeline["points"] == world.read(
            partial(Reader.timeline, f=Filters(), bucket=bucket)
        )
        per_level: dict[str, int] = {}
        for point in timeline["points"]:
            per_level[point["level"]] = per_level.get(point["level"], 0) + point["count"]
        assert per_level == levels  # every generated entry has a timestamp
    auto = world.api.ok("/timeline")
    assert auto["bucket"] == world.read(partial(Reader.auto_bucket, f=Filters())) == "day"
    assert auto == world.api.ok("/timeline", bucket="auto")
    assert (auto["bucket"], auto["points"]) == world.read(
        partial(Reader.timeline_auto, f=Filters())
    )
    # Served without validating each point: the body must still be what the schema says.
    assert models.Timeline.model_validate(auto).model_dump() == auto
    one = world.api.ok("/timeline", upload=world.ids[1])  # one log spans minutes
    assert one["bucket"] == "minute" and one["points"]


def test_top_errors_templates_and_rejected_equal_the_reader(world: World) -> None:
    top = world.api.ok("/errors/top", n=3)
    assert top == like(top, world.read(lambda r: r.top_errors(Filters(), 3)))
    assert len(top) == 3 and top[0]["count"] >= top[-1]["count"]
    word = top[0]["template"].split()[0]
    found = world.api.ok("/errors/top", q=word, n=50)
    assert found and all(word in e["template"] for e in found)
    assert world.api.ok("/errors/top", search=word, n=50) == found
    rejected = world.api.ok("/rejected")
    assert {r["reason"]: r["count"] for r in rejected["reasons"]} == summed(
        list(world.reports.values()), "rejected"
    )
    assert rejected["total"] == sum(r["count"] for r in rejected["reasons"])
    reader = world.read(lambda r: r.rejected(Filters()))
    assert like(rejected["reasons"], reader) == reader


def test_templates_pages_cover_every_template_once(world: World) -> None:
    first = world.api.ok("/templates", limit=25)
    total = first["total"]
    assert total == world.api.ok("/logs/stats")["templates"]
    seen: list[str] = []
    counts: list[int] = []
    for offset in range(0, total, 25):
        page = world.api.ok("/templates", limit=25, offset=offset)
        assert page["total"] == total
        seen += [t["template_id"] for t in page["items"]]
        counts += [t["count"] for t in page["items"]]
    assert len(seen) == len(set(seen)) == total
    assert counts == sorted(counts, reverse=True)
    items, _ = world.read(lambda r: r.templates(Filters(), Page(limit=25)))
    assert like(first["items"], items) == items
    by_name = world.api.ok("/templates", sort="template", limit=1000)["items"]
    assert [t["template"] for t in by_name] == sorted(t["template"] for t in by_name)


def test_uploads_list_pages_and_detail(world: World) -> None:
    ids = [world.api.ok("/uploads", limit=1, offset=i)["items"][0]["upload_id"] for i in range(4)]
    assert ids == sorted(world.ids, reverse=True)
    assert world.api.ok("/uploads", limit=1, offset=4)["items"] == []
    ascending = world.api.ok("/uploads", sort="id")
    assert [u["upload_id"] for u in ascending["items"]] == sorted(world.ids)
    bob = world.api.ok("/uploads", operator="bob")
    assert bob["total"] == 2 and {u["operator"] for u in bob["items"]} == {"bob"}
    items, total = world.read(lambda r: r.uploads(Filters(), Page()))
    assert world.api.ok("/uploads") == {"total": total, "limit": 50, "offset": 0, "items": items}
    again = world.api.ok(f"/uploads/{world.ids[3]}")
    report = world.reports["app-log4j.log"]
    assert (again["operator"], again["duplicate"], again["job_state"]) == ("bob", True, "done")
    assert again["results"]["levels"] == report["levels"]
    assert again["results"]["entries"] == report["entries"]


def test_authentication(world: World) -> None:
    for token in (None, "", "wrong", TOKENS["alice"] + "x", TOKENS["alice"][:-1]):
        answer = world.api.get("/logs/stats", token=token)
        assert answer.status == 401, token
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.body["detail"]
    basic = urllib.request.Request(world.api.url + "/uploads")
    basic.add_header("Authorization", "Basic YWxpY2U6czNjcmV0")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(basic, timeout=30)
    assert refused.value.code == 401
    assert world.api.ok("/me") == {"operator": ADMIN, "read_all": True}
    me = world.api.get("/me", token=TOKENS["bob"]).body
    assert me == {"operator": "bob", "read_all": False}
    assert world.api.get("/healthz", token=None).body == {"status": "ok"}
    page = world.api.get("/", token=None)
    assert page.status == 200 and "<title>loglens dashboard</title>" in page.body
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert world.api.get("/static/dashboard.js", token=None).status == 200


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/logs/stats", {"start": "yesterday"}, "start"),
        ("/logs/stats", {"end": "2024-13-45"}, "end"),
        ("/logs/stats", {"start": "2024-05-02", "end": "2024-05-01"}, "start"),
        ("/logs/stats", {"level": "LOUD"}, "level"),
        ("/logs/stats", {"upload": "abc"}, "upload"),
        ("/logs/stats", {"upload": "0"}, "upload"),
        ("/logs/stats", {"n": "0"}, "n"),
        ("/uploads", {"limit": "0"}, "limit"),
        ("/uploads", {"limit": "1001"}, "limit"),
        ("/uploads", {"offset": "-1"}, "offset"),
        ("/uploads", {"sort": "bogus"}, "sort"),
        ("/uploads", {"status": "lost"}, "status"),
        ("/templates", {"sort": "entries"}, "sort"),
        ("/templates", {"q": "a", "search": "b"}, "search"),
        ("/timeline", {"bucket": "week"}, "bucket"),
        ("/errors/top", {"n": "many"}, "n"),
        ("/uploads/x", {}, "upload_id"),
    ],
)
def test_bad_parameters_answer_422_naming_them(
    world: World, path: str, params: dict[str, str], named: str
) -> None:
    answer = world.api.get(path, **params)
    assert answer.status == 422, answer.body
    assert re.search(rf"\b{named}\b", answer.body["detail"]), answer.body


def test_unknown_upload_is_404(world: World) -> None:
    for path in ("/uploads/999999", "/uploads/999999/stats"):
        answer = world.api.get(path)
        assert answer.status == 404
        assert answer.body == {"detail": "upload 999999 does not exist"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/uploads", {"sort": "id; DROP TABLE uploads"}),
        ("/uploads", {"sort": "id DESC, (SELECT 1)"}),
        ("/templates", {"sort": "count)--"}),
        ("/uploads", {"operator": "alice' OR '1'='1"}),
        ("/logs/stats", {"operator": "x' UNION SELECT sqlite_version() --"}),
        ("/templates", {"q": "%' OR 1=1 --"}),
        ("/templates", {"search": "'; DELETE FROM uploads; --"}),
        ("/errors/top", {"q": '" OR ""="'}),
        ("/logs/stats", {"level": "ERROR' OR 1=1 --"}),
        ("/timeline", {"bucket": "minute'); DROP TABLE timeline; --"}),
    ],
)
def test_injection_attempts_select_nothing_and_change_nothing(
    world: World, path: str, params: dict[str, str]
) -> None:
    answer = world.api.get(path, **params)
    assert answer.status in (200, 422), answer.body
    if answer.status == 200:
        body = answer.body
        found = body.get("total", body.get("entries")) if isinstance(body, dict) else len(body)
        assert found == 0, body
    assert sql_rows(world.database, "SELECT COUNT(*) FROM uploads") == [(4,)]
    assert sql_rows(world.database, "SELECT COUNT(*) FROM timeline")[0][0] > 0
    assert world.api.ok("/uploads")["total"] == 4


def test_openapi_documents_every_endpoint(world: World) -> None:
    spec = world.api.get("/openapi.json", token=None).body
    paths = set(spec["paths"])
    assert {"/logs/stats", "/uploads", "/uploads/{upload_id}", "/uploads/{upload_id}/stats",
            "/errors/top", "/templates", "/timeline", "/rejected"} <= paths  # fmt: skip
    stats = spec["paths"]["/logs/stats"]["get"]
    assert {p["name"] for p in stats["parameters"]} >= {"start", "end", "operator", "level", "n"}
    assert set(stats["responses"]) >= {"200", "401", "422"}
    assert "Stats" in spec["components"]["schemas"]
    assert world.api.get("/docs", token=None).status == 200


def test_answers_follow_new_uploads(
    loglens_server: ServerHandle, make_log: MakeLog, tmp_path: Path
) -> None:
    first, _ = make_log("log4j", lines=300, seed=31)
    second, _ = make_log("python", lines=300, seed=32)
    reports = [json.loads(run_cli("--json", str(path)).out) for path in (first, second)]

    def send(path: Path) -> None:
        frames = asyncio.run(
            upload(loglens_server.address, TOKENS["bob"], path.read_bytes(), wait=True)
        )
        assert frames[-1].type is FrameType.PROCESSED

    with running_api(loglens_server.db_path, tmp_path) as api:
        assert api.ok("/logs/stats")["entries"] == 0
        send(first)
        assert api.ok("/logs/stats")["levels"] == reports[0]["levels"]
        assert api.ok("/logs/stats")["levels"] == reports[0]["levels"]  # kept, still right
        send(second)
        assert api.ok("/logs/stats")["levels"] == summed(reports, "levels")
        assert api.ok("/uploads")["total"] == 2
        assert api.stop() == 0  # SIGTERM: a graceful stop
        assert "Application shutdown complete" in api.log()


def test_cli_refuses_bad_settings_and_a_missing_database(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            api_command(*args), capture_output=True, text=True, env=api_env(), timeout=60
        )

    bad_port = run("--port", "70000", "--db-path", str(tmp_path / "x.db"))
    assert bad_port.returncode == 2 and "--port 70000" in bad_port.stderr
    bad_cache = run("--cache-mb", "-1", "--db-path", str(tmp_path / "x.db"))
    assert bad_cache.returncode == 2 and "--cache-mb -1" in bad_cache.stderr
    missing = run("--port", "0", "--db-path", str(tmp_path / "none.db"))
    assert missing.returncode == 1 and "no results database" in missing.stderr


EXTREME = "99999999999999999999"


@pytest.mark.parametrize(
    ("path", "params", "named", "given"),
    [
        (f"/uploads/{EXTREME}", {}, "upload_id", EXTREME),
        (f"/uploads/{EXTREME}/stats", {}, "upload_id", EXTREME),
        (f"/uploads/{EXTREME}/diff", {}, "upload_id", EXTREME),
        ("/uploads/1/diff", {"against": EXTREME}, "against", EXTREME),
        ("/uploads", {"offset": EXTREME}, "offset", EXTREME),
        ("/templates", {"offset": "1000000001"}, "offset", "1000000001"),
        ("/anomalies", {"offset": EXTREME}, "offset", EXTREME),
        ("/alerts", {"offset": EXTREME}, "offset", EXTREME),
        ("/logs/stats", {"upload": EXTREME}, "upload", EXTREME),
        ("/logs/stats", {"start": "-99999999d"}, "start", "-99999999d"),
        ("/logs/stats", {"start": "-999999999999w"}, "start", "-999999999999w"),
        ("/timeline", {"end": f"-{EXTREME}{EXTREME}s"}, "end", EXTREME),
        ("/uploads", {"start": "-99999999d"}, "start", "-99999999d"),
        ("/logs/stats", {"end": "9999-12-31T23:59:59"}, "end", "9999-12-31T23:59:59"),
        ("/logs/stats", {"start": "0001-01-01T00:00+05:00"}, "start", "0001-01-01"),
        ("/diff", {"a": EXTREME, "b": "1"}, "a", EXTREME),
        ("/diff", {"a": "-99999999d..", "b": "1"}, "a", "-99999999d"),
        ("/anomalies", {"min_score": "1e400"}, "min_score", "1e400"),
        ("/anomalies", {"min_score": "nan"}, "min_score", "nan"),
    ],
)
def test_extreme_values_answer_422_naming_them(
    world: World, path: str, params: dict[str, str], named: str, given: str
) -> None:
    answer = world.api.get(path, **params)
    assert answer.status == 422, answer.body
    assert re.search(rf"\b{named}\b", answer.body["detail"]), answer.body
    assert given in answer.body["detail"], answer.body


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/logs/stats", {"upload": "999999"}),
        ("/timeline", {"upload": "999999"}),
        ("/templates", {"upload": "999999"}),
        ("/errors/top", {"upload": "999999"}),
        ("/rejected", {"upload": "999999"}),
        ("/anomalies", {"upload": "999999"}),
        ("/categories", {"upload": "999999"}),
        ("/trend", {"upload": "999999"}),
        ("/diff", {"a": "999999", "b": "1"}),
        ("/diff", {"a": "1", "b": "999999"}),
        ("/diff", {"a": "-2h..", "b": "-1h..", "upload": "999999"}),
        ("/uploads/999999/anomalies", {}),
        ("/uploads/999999/diff", {}),
        ("/uploads/1/diff", {"against": "999999"}),
    ],
)
def test_an_unknown_upload_in_any_parameter_is_404(
    world: World, path: str, params: dict[str, str]
) -> None:
    answer = world.api.get(path, **params)
    assert answer.status == 404, answer.body
    assert answer.body == {"detail": "upload 999999 does not exist"}


# ---- who reads what --------------------------------------------------------------------


def own_ids(world: World, operator: str) -> set[int]:
    """The ids of the uploads `operator` sent."""
    return {i for (op, *_), i in zip(UPLOADS, world.ids, strict=True) if op == operator}


def test_an_operator_reads_only_its_own_uploads(world: World) -> None:
    alice, bob = TOKENS["alice"], TOKENS["bob"]
    listed = world.api.get("/uploads", token=alice).body
    assert listed["total"] == 2
    assert {u["upload_id"] for u in listed["items"]} == own_ids(world, "alice")
    # The same request, admin then operator: the cache keeps their answers apart.
    assert world.api.ok("/logs/stats")["uploads"] == 4
    for path in ("/logs/stats", "/timeline", "/templates", "/errors/top", "/rejected",
                 "/anomalies", "/categories", "/trend"):  # fmt: skip
        mine = world.api.get(path, token=bob)
        assert mine.status == 200, (path, mine.body)
        assert mine.body == world.api.ok(path, operator="bob"), path
    # Nothing of another operator leaks through its filters, examples or ids.
    nothing = world.api.get("/logs/stats", token=alice, operator="bob").body
    assert (nothing["uploads"], nothing["entries"], nothing["top_errors"]) == (0, 0, [])
    templates = world.api.get("/templates", token=bob, limit=1000).body["items"]
    assert templates and {t["upload_id"] for t in templates} <= own_ids(world, "bob")
    anomalies = world.api.get("/anomalies", token=alice, limit=1000).body["items"]
    assert {a["upload_id"] for a in anomalies} <= own_ids(world, "alice")


def test_another_operators_upload_is_404_to_an_operator(world: World) -> None:
    alice = TOKENS["alice"]
    [bobs_events] = [i for (op, name, *_), i in zip(UPLOADS, world.ids, strict=True)
                     if (op, name) == ("bob", "events.jsonl")]  # fmt: skip
    mine = world.ids[0]
    message = (
        f"upload {bobs_events} does not exist or is not alice's: this token reads only the "
        "uploads of alice"
    )
    for path, params in (
        (f"/uploads/{bobs_events}", {}),
        (f"/uploads/{bobs_events}/stats", {}),
        (f"/uploads/{bobs_events}/anomalies", {}),
        (f"/uploads/{bobs_events}/categories", {}),
        (f"/uploads/{bobs_events}/trend", {}),
        (f"/uploads/{bobs_events}/diff", {"against": mine}),
        (f"/uploads/{mine}/diff", {"against": bobs_events}),
        ("/logs/stats", {"upload": bobs_events}),
        ("/timeline", {"upload": bobs_events}),
        ("/diff", {"a": mine, "b": bobs_events}),
    ):
        answer = world.api.get(path, token=alice, **params)
        assert answer.status == 404, (path, answer.body)
        assert answer.body == {"detail": message}, path
    # The admin reads it, and an unknown id gets the very same answer as bob's upload.
    assert world.api.ok(f"/uploads/{bobs_events}")["operator"] == "bob"
    unknown = world.api.get("/uploads/999999", token=alice).body["detail"]
    assert unknown == message.replace(str(bobs_events), "999999")
    assert world.api.get(f"/uploads/{mine}", token=alice).status == 200


def test_wrong_tokens_from_one_address_are_refused_for_a_while(
    world: World, tmp_path: Path
) -> None:
    window = 2.0
    settings = {"AUTH_FAILURE_LIMIT": "3", "AUTH_LOCKOUT_SECONDS": str(window)}
    with running_api(world.database, tmp_path, **settings) as api:
        for attempt in range(3):
            assert api.get("/me", token=f"guess-{attempt}").status == 401
        began = time.monotonic()
        refused = api.get("/me", token=TOKENS["alice"])  # the right one, too late
        assert refused.status == 429, refused.body
        assert 1 <= int(refused.headers["retry-after"]) <= window + 1
        assert refused.body["detail"].startswith(
            "too many wrong tokens from 127.0.0.1: 3 failures within 2s; try again in"
        )
        assert api.get("/logs/stats", token=None).status == 429
        assert api.get("/healthz", token=None).status == 200  # no token: not refused
        log = api.log()
        assert log.count("WARNING loglens.api.auth: API: wrong bearer token from 127.0.0.1") == 3
        assert "sent 3 wrong tokens within 2s: refused (429)" in log
        time.sleep(max(0.0, began + window + 0.2 - time.monotonic()))
        assert api.get("/me", token=TOKENS["alice"]).body == {
            "operator": "alice",
            "read_all": False,
        }


def test_fuzzed_requests_never_get_a_5xx(world: World) -> None:
    """schemathesis cases from /openapi.json, valid and broken, as an admin and an operator
    (benchmarks/bench_fuzz_api.py runs many more)."""
    from benchmarks.bench_fuzz_api import fuzz_api

    counts = fuzz_api(world.api.url, [ADMIN_TOKEN, TOKENS["bob"]], examples=4, seed=13)
    assert counts.server_errors == [], counts.server_errors[:5]
    assert counts.operations >= 19 and counts.requests >= 200, counts.describe()
    assert counts.statuses[200] > 0 and counts.statuses[422] > 0, counts.describe()
    assert "Traceback" not in world.api.log()
