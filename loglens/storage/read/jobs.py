"""Read-only access to the jobs (for `loglens jobs list`)."""

from __future__ import annotations

from loglens.storage.models import Job
from loglens.storage.read.pool import PooledReader
from loglens.storage.write.jobs import JOB_QUERY
from loglens.storage.write.rows import job as job_from_row

JOB_STATES = ("queued", "running", "done", "failed")


class JobReader(PooledReader):
    """Read-only access to the jobs; `await JobReader.open(path)`."""

    async def jobs(self, state: str | None = None, limit: int = 100) -> tuple[list[Job], int]:
        """Jobs (in `state` if given), newest first, and how many match in all."""
        where, params = (" WHERE j.state = ?", (state,)) if state is not None else ("", ())
        async with self._pool.transaction("read jobs") as conn:
            found = await conn.fetchall(
                f"{JOB_QUERY}{where} ORDER BY j.id DESC LIMIT ?", (*params, limit)
            )
            total = await conn.fetchall(f"SELECT count(*) FROM jobs AS j{where}", params)
        return [job_from_row(row) for row in found], int(next(iter(total))[0])
