"""Many operators at once: 50 real clients, different files and the same file, one server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from loglens.client.upload import upload_file
from tests.conftest import MakeLog, run_cli
from tests.integration.conftest import ServerHandle
from tests.integration.test_jobs import comparable

FORMATS = ("log4j", "syslog", "python", "jsonl", "apache_access", "hdfs", "spark", "logfmt",
           "bgl", "zookeeper")  # fmt: skip
UPLOADS_PER_FILE = 5


def test_fifty_clients_at_once_are_each_verified_and_analysed_once(
    loglens_server: ServerHandle, make_log: MakeLog
) -> None:
    files = [make_log(fmt, lines=700, seed=11 + i)[0] for i, fmt in enumerate(FORMATS)]
    operators = list(loglens_server.tokens.items())

    async def everyone() -> list[Any]:
        uploads = [
            upload_file(
                path,
                loglens_server.address,
                operators[(i + j) % len(operators)][1],
                wait=True,
                retries=10,
            )
            for i, path in enumerate(files)
            for j in range(UPLOADS_PER_FILE)
        ]
        return await asyncio.gather(*uploads)

    results = asyncio.run(everyone())
    assert len(results) == len(files) * UPLOADS_PER_FILE >= 50

    with ThreadPoolExecutor(2) as pool:
        local = dict(zip(files, pool.map(lambda p: run_cli(str(p), "--json"), files), strict=True))
    for result in results:
        path = next(p for p in files if p.name == result.name)
        assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert result.state == "done", result.error
        expected = local[path]
        assert expected.code == 0, expected.err
        assert comparable(result.report) == comparable(json.loads(expected.out)), path.name

    with sqlite3.connect(loglens_server.db_path) as db:
        assert db.execute("SELECT count(*), count(DISTINCT blob_id) FROM uploads "
                          "WHERE status = 'stored'").fetchone() == (50, 10)  # fmt: skip
        # Each content analysed once, however many uploaded it at the same time.
        assert db.execute("SELECT count(*), sum(attempts), min(state) FROM jobs").fetchone() == (
            10,
            10,
            "done",
        )
        per_operator = dict(db.execute("SELECT operator, count(*) FROM uploads GROUP BY 1"))
    assert per_operator == {"alice": 25, "bob": 25}
    blobs = loglens_server.storage_path / "blobs"
    stored = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    assert stored == sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
