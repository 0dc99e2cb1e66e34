"""Read-only access to the jobs (for `loglens jobs list`)."""

from __future__ import annotations

from loglens.closing import AsyncClosing
from loglens.storage.dialect import Target
from loglens.storage.models import Job
from loglens.storage.read.pool import ReadPool
from loglens.storage.write.jobs import JOB_QUERY
from loglens.storage.write.rows import job as job_from_row

JOB_STATES = ("queued", "running", "done", "failed")


class JobReader(AsyncClosing):
    """Read-only access to the jobs; `await JobReader.open(path)`."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool
        self.path = pool.path
        self.where = pool.where

    @classmethod
    async def open(cls, path: Target) -> JobReader:
        """Open the database at `path` (a SQLite file or a `postgresql://` URL)
        read-only; StorageError if there is none."""
        return cls(await ReadPool.open(path, 1))

    async def close(self) -> None:
        """Close the connections."""
        await self._pool.close()

    async def jobs(self, state: str | None = None, limit: int = 100) -> tuple[list[Job], int]:
        """Jobs (in `state` if given), newest first, and how many match in all."""
        where, params = (" WHERE j.state = ?", (state,)) if state is not None else ("", ())
        async with self._pool.transaction("read jobs") as conn:
            found = await conn.fetchall(
                f"{JOB_QUERY}{where} ORDER BY j.id DESC LIMIT ?", (*params, limit)
            )
            total = await conn.fetchall(f"SELECT count(*) FROM jobs AS j{where}", params)
        return [job_from_row(row) for row in found], int(next(iter(total))[0])
