"""The results database: uploads, blobs, jobs and results, in SQLite (WAL, via aiosqlite)
or PostgreSQL (via psycopg 3): `dialect` holds what differs.

One `Database` holds one connection and may be shared by many tasks of one event loop:
statements and transactions take turns on a lock, so a transaction never sees another
task's statements. Other connections (other processes) are serialised by the database:
SQLite's write transactions are `BEGIN IMMEDIATE` and wait up to `BUSY_TIMEOUT_MS` for
their turn; PostgreSQL's run at once, but those that keep the sums over every blob
(`finish_job`) take turns on an advisory lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Collection
from typing import Any

from loglens.errors import StorageError
from loglens.storage import migrate
from loglens.storage.dialect import (
    BUSY_TIMEOUT_MS,
    Connection,
    DriverError,
    Target,
    connect_writer,
    describe,
)
from loglens.storage.models import Blob, Results, Stored, Upload
from loglens.storage.schema import (
    ADD_TO_SUMS,
    DROP_EMPTY_SUMS,
    RESULT_TABLES,
    ROLLUPS,
    SUMMED,
    now,
)
from loglens.storage.write import rows
from loglens.storage.write.jobs import REQUEUE_FAILED, JobQueue
from loglens.storage.write.streams import StreamStore

logger = logging.getLogger(__name__)

__all__ = ["BUSY_TIMEOUT_MS", "Database"]

SUMMED_TABLES = tuple(sums for sums, _keys in SUMMED.values())


class Database(JobQueue, StreamStore):
    """The loglens database; open it with `await Database.open(path)`."""

    @classmethod
    async def open(cls, path: Target) -> Database:
        """Open the database at `path`: a SQLite file (created with its folder if needed)
        or a `postgresql://` URL; its schema is created or upgraded."""
        conn = await connect_writer(path)
        try:
            await migrate.create(conn, describe(path))
        except BaseException:
            with contextlib.suppress(DriverError):
                await conn.close()
            raise
        logger.debug("opened database %s", describe(path))
        return cls(conn, path)

    # uploads ----------------------------------------------------------------------------

    async def create_upload(
        self, operator: str, name: str, size: int, sha256: str, compression: str
    ) -> int:
        """Record a new upload, status 'receiving'; return its id."""
        async with self._transaction("create upload") as conn:
            return await conn.insert(
                "INSERT INTO uploads (operator, original_name, size, sha256, compression,"
                " started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (operator, name, size, sha256, compression, now()),
            )

    async def upload(self, upload_id: int) -> Upload | None:
        """The upload `upload_id`, or None."""
        found = await self._fetch(
            "read upload", f"SELECT {rows.UPLOAD_COLUMNS} FROM uploads WHERE id = ?", (upload_id,)
        )
        return rows.upload(found[0]) if found else None

    async def resumable_uploads(
        self, operator: str, sha256: str, size: int, compression: str
    ) -> list[Upload]:
        """This operator's uploads of these bytes still receiving, newest first."""
        found = await self._fetch(
            "find resumable uploads",
            f"SELECT {rows.UPLOAD_COLUMNS} FROM uploads WHERE operator = ? AND sha256 = ?"
            " AND size = ? AND compression = ? AND status = 'receiving' ORDER BY id DESC",
            (operator, sha256, size, compression),
        )
        return [rows.upload(row) for row in found]

    async def stored_blob_for(self, sha256: str, size: int, compression: str) -> Blob | None:
        """The blob of an earlier stored upload of exactly these sent bytes, or None."""
        found = await self._fetch(
            "find stored blob",
            f"SELECT {rows.BLOB_COLUMNS} FROM blobs AS b WHERE b.id = (SELECT blob_id FROM"
            " uploads WHERE sha256 = ? AND size = ? AND compression = ? AND status = 'stored'"
            " ORDER BY id LIMIT 1)",
            (sha256, size, compression),
        )
        return rows.blob(found[0]) if found else None

    async def blob(self, blob_id: int) -> Blob | None:
        """The blob `blob_id`, or None."""
        found = await self._fetch(
            "read blob", f"SELECT {rows.BLOB_COLUMNS} FROM blobs AS b WHERE b.id = ?", (blob_id,)
        )
        return rows.blob(found[0]) if found else None

    async def store_upload(
        self,
        upload_id: int,
        content_sha256: str,
        content_size: int,
        path: str,
        *,
        sha256: str | None = None,
    ) -> Stored:
        """Mark an upload stored, with its blob (new, or the one of the same content) and the
        blob's job (queued if new), in one transaction. `sha256`, the verified hash of the
        sent bytes, is recorded when given (an upload whose header deferred it has "").

        When `duplicate` is true the blob was already stored at `blob_path`: the file at
        `path` is not referenced (delete it unless it is the same path).
        """
        async with self._transaction(f"store upload {upload_id}") as conn:
            upload = await conn.fetchone(
                "SELECT status, original_name FROM uploads WHERE id = ?", (upload_id,)
            )
            if upload is None:
                raise StorageError(f"store upload {upload_id}: no such upload")
            if upload[0] != "receiving":
                raise StorageError(
                    f"store upload {upload_id}: it is {upload[0]}, only an upload still "
                    "receiving can be stored"
                )
            stamp = now()
            inserted = await conn.execute(
                "INSERT INTO blobs (sha256, size, path, first_name, stored_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                (content_sha256, content_size, path, upload[1], stamp),
            )
            duplicate = inserted != 1
            blob = await conn.fetchone(
                "SELECT id, path FROM blobs WHERE sha256 = ?", (content_sha256,)
            )
            assert blob is not None  # inserted or already there, in this transaction
            blob_id, blob_path = int(blob[0]), str(blob[1])
            await conn.execute(
                "UPDATE uploads SET status = 'stored', received_at = ?, blob_id = ?,"
                " duplicate = ?, error = NULL, sha256 = coalesce(?, sha256) WHERE id = ?",
                (stamp, blob_id, int(duplicate), sha256, upload_id),
            )
            job_created = (
                await conn.execute(
                    "INSERT INTO jobs (blob_id, created_at) VALUES (?, ?)"
                    " ON CONFLICT (blob_id) DO NOTHING",
                    (blob_id, stamp),
                )
                == 1
            )
            job = await conn.fetchone("SELECT id FROM jobs WHERE blob_id = ?", (blob_id,))
            assert job is not None
            # Content whose analysis failed is analysed again when it comes again: the
            # failure may have been the processor's (or fixed since), and the uploader
            # wants results, not the old error.
            requeued = await conn.execute(f"{REQUEUE_FAILED} AND id = ?", (int(job[0]),)) == 1
        if requeued:
            logger.info("job %d had failed: queued again for upload %d", job[0], upload_id)
        return Stored(blob_id, int(job[0]), job_created, duplicate, blob_path, requeued)

    async def fail_upload(self, upload_id: int, error: str) -> None:
        """Mark an upload still receiving as failed, with why."""
        async with self._transaction(f"fail upload {upload_id}") as conn:
            await conn.execute(
                "UPDATE uploads SET status = 'failed', error = ?"
                " WHERE id = ? AND status = 'receiving'",
                (error, upload_id),
            )

    async def abandon_uploads(self, started_before: str, keep: Collection[int] = ()) -> list[int]:
        """Mark uploads still receiving that started before `started_before` (storage time
        form) as failed, but those in `keep`; return their ids (their bytes can go)."""
        async with self._transaction("abandon stale uploads") as conn:
            found = await conn.fetchall(
                "SELECT id FROM uploads WHERE status = 'receiving' AND started_at < ?",
                (started_before,),
            )
            stale = [int(row[0]) for row in found if int(row[0]) not in keep]
            await conn.executemany(
                "UPDATE uploads SET status = 'failed', error = 'abandoned: never finished'"
                " WHERE id = ? AND status = 'receiving'",
                [(upload_id,) for upload_id in stale],
            )
        return stale

    # jobs (see also JobQueue) ----------------------------------------------------------

    async def finish_job(self, job_id: int, runner: str, results: Results) -> bool:
        """Replace the blob's results and mark the job done, in one transaction; False (and
        nothing written) unless the job is running under `runner`."""
        async with self._transaction(f"finish job {job_id}", exclusive=True) as conn:
            blob_id = await self._replace_results(conn, job_id, runner, results)
            if blob_id is None:
                return False
            await conn.execute(
                "UPDATE jobs SET state = 'done', finished_at = ?, error = NULL WHERE id = ?",
                (now(), job_id),
            )
        await self._refresh_statistics()
        return True

    async def store_live_results(
        self, job_id: int, runner: str, results: Results, size: int
    ) -> bool:
        """Replace the results of a stream's blob, its job still running under `runner`,
        and record the `size` they cover; False (nothing written) if the job is not."""
        async with self._transaction(f"store live results of job {job_id}", exclusive=True) as conn:
            blob_id = await self._replace_results(conn, job_id, runner, results)
            if blob_id is None:
                return False
            await conn.execute("UPDATE blobs SET size = ? WHERE id = ?", (size, blob_id))
            await conn.execute(
                "UPDATE uploads SET size = ? WHERE blob_id = ? AND kind = 'stream'"
                " AND ended_at IS NULL",
                (size, blob_id),
            )
        return True

    @staticmethod
    async def _replace_results(
        conn: Connection, job_id: int, runner: str, results: Results
    ) -> int | None:
        """In a transaction: put `results` in place of the blob's, the sums over every blob
        kept; the blob's id, or None (nothing written) unless the job runs under `runner`."""
        blob = await conn.fetchone(
            "SELECT blob_id FROM jobs WHERE id = ? AND state = 'running' AND runner = ?",
            (job_id, runner),
        )
        if blob is None:
            return None
        blob_id = int(blob[0])
        for sql in ADD_TO_SUMS:  # a rerun: its earlier rows leave the sums first
            await conn.execute(sql, (-1, blob_id))
        for sql in DROP_EMPTY_SUMS:
            await conn.execute(sql, (blob_id,))
        await conn.execute("DELETE FROM results WHERE blob_id = ?", (blob_id,))
        for sql, params in rows.result_inserts(blob_id, job_id, results):
            await conn.executemany(sql, params)
        for rollup in ROLLUPS:
            await conn.execute(rollup, (blob_id,))
        for sql in ADD_TO_SUMS:
            await conn.execute(sql, (1, blob_id))
        return blob_id

    async def _refresh_statistics(self) -> None:
        """Refresh the query planner's statistics each time the analysed blobs double.

        Without them SQLite joined the per-template tables through the wrong index (a
        category trend over 1,000 uploads took 20 s instead of 0.2 s); ANALYZE there takes
        about 0.1 s, so doing it at 1, 2, 4, ... blobs costs little over a database's life.
        """
        found = await self._fetch("count results", "SELECT COUNT(*) FROM results")
        blobs = int(found[0][0])
        if blobs & (blobs - 1) == 0:
            async with self._lock:
                try:
                    await self._conn.execute(
                        self._conn.dialect.analyze(
                            ("blobs", "uploads", "jobs", "results", *SUMMED_TABLES, *RESULT_TABLES)
                        )
                    )
                except DriverError as exc:  # the results are stored: only speed is at stake
                    logger.warning("cannot refresh the query statistics: %s", exc)

    async def job_report(self, job_id: int) -> dict[str, Any] | None:
        """The stored report of a done job, or None."""
        found = await self._fetch(
            "read job report",
            "SELECT r.report_json FROM jobs AS j JOIN results AS r ON r.blob_id = j.blob_id"
            " WHERE j.id = ? AND j.state = 'done'",
            (job_id,),
        )
        if not found:
            return None
        report: dict[str, Any] = json.loads(found[0][0])
        return report

    async def source_history(self, blob_id: int) -> tuple[frozenset[str], int, int] | None:
        """What earlier analysed uploads of the same source (the same original name, by the
        same operator: two operators' `<stdin>` or `app.log` are two sources) tell about
        this blob's: their template ids, entries and errors; None if there are none.
        (A tuple, not the analysis' `History`: the server process never loads polars.)"""
        earlier = await self._fetch(
            "read the history of a source",
            "WITH me AS (SELECT original_name, operator, MIN(received_at) AS at FROM uploads"
            "  WHERE blob_id = ? AND status = 'stored' GROUP BY original_name, operator)"
            " SELECT DISTINCT u.blob_id FROM uploads AS u JOIN me"
            "  ON u.original_name = me.original_name AND u.operator = me.operator"
            "  AND u.received_at < me.at"
            " JOIN results AS r ON r.blob_id = u.blob_id"
            " WHERE u.status = 'stored' AND u.blob_id != ?",
            (blob_id, blob_id),
        )
        blobs = [int(row[0]) for row in earlier]
        if not blobs:
            return None
        marks = ",".join("?" * len(blobs))
        templates = await self._fetch(
            "read the templates of a source",
            f"SELECT DISTINCT template_id FROM templates WHERE blob_id IN ({marks})",
            blobs,
        )
        totals = await self._fetch(
            "read the counts of a source",
            "SELECT COALESCE(SUM(count), 0),"
            " COALESCE(SUM(CASE WHEN level IN ('ERROR', 'CRITICAL') THEN count END), 0)"
            f" FROM level_counts WHERE blob_id IN ({marks})",
            blobs,
        )
        entries, errors = (int(value) for value in totals[0])
        return frozenset(str(row[0]) for row in templates), entries, errors
