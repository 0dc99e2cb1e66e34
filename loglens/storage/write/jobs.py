"""The job queue of the results database: jobs taken, failed, requeued and retried.

`Database` inherits it; `Database.store_upload` queues jobs and `Database.finish_job`
ends them with their results.
"""

from __future__ import annotations

import logging

from loglens.storage.models import Job
from loglens.storage.schema import now
from loglens.storage.write import rows
from loglens.storage.write.writer import Writer

logger = logging.getLogger(__name__)

JOB_QUERY = f"SELECT {rows.JOB_COLUMNS} FROM jobs AS j JOIN blobs AS b ON b.id = j.blob_id"
# A failed job back in the queue, as if new (its caller adds `AND id = ?`).
REQUEUE_FAILED = (
    "UPDATE jobs SET state = 'queued', attempts = 0, interrupted = 0, runner = NULL,"
    " error = NULL, started_at = NULL, finished_at = NULL WHERE state = 'failed'"
)


class JobQueue(Writer):
    """The jobs of a write connection: what the server and the processor do to them."""

    async def requeue_unfinished(self, *, interrupted: bool = True) -> list[Job]:
        """Put running jobs back in the queue; return every queued job, oldest first.

        `interrupted` (the default: a start of the server) says the server was stopped or
        killed under them: their start does not count against their file (see
        `Job.counted_attempts`). False says the processor died under them while the server
        ran: their start counts.
        """
        async with self._transaction("requeue unfinished jobs") as conn:
            requeued = await conn.execute(
                "UPDATE jobs SET state = 'queued', runner = NULL, started_at = NULL,"
                " interrupted = interrupted + ? WHERE state = 'running'",
                (int(interrupted),),
            )
            if requeued:
                logger.info(
                    "requeued %d unfinished jobs (%s)",
                    requeued,
                    "the server was stopped under them" if interrupted else "the processor died",
                )
            found = await conn.fetchall(f"{JOB_QUERY} WHERE j.state = 'queued' ORDER BY j.id")
        return [rows.job(row) for row in found]

    async def queued_jobs(self) -> list[Job]:
        """Every queued job, oldest first."""
        found = await self._fetch(
            "read queued jobs", f"{JOB_QUERY} WHERE j.state = 'queued' ORDER BY j.id"
        )
        return [rows.job(row) for row in found]

    async def job(self, job_id: int) -> Job | None:
        """The job `job_id`, or None."""
        found = await self._fetch("read job", f"{JOB_QUERY} WHERE j.id = ?", (job_id,))
        return rows.job(found[0]) if found else None

    async def job_for_upload(self, upload_id: int) -> Job | None:
        """The job of a stored upload's blob, or None."""
        found = await self._fetch(
            "read job of upload",
            f"{JOB_QUERY} JOIN uploads AS u ON u.blob_id = j.blob_id WHERE u.id = ?",
            (upload_id,),
        )
        return rows.job(found[0]) if found else None

    async def start_job(self, job_id: int, runner: str) -> Job | None:
        """Take a queued job for `runner` (running, one more attempt); None if not queued."""
        async with self._transaction(f"start job {job_id}") as conn:
            started = await conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, runner = ?,"
                " started_at = ?, finished_at = NULL, error = NULL"
                " WHERE id = ? AND state = 'queued'",
                (runner, now(), job_id),
            )
            if started != 1:
                return None
            found = await conn.fetchall(f"{JOB_QUERY} WHERE j.id = ?", (job_id,))
        return rows.job(found[0])

    async def fail_job(self, job_id: int, runner: str, error: str) -> bool:
        """Mark a job running under `runner` failed, with why; False if it is not."""
        async with self._transaction(f"fail job {job_id}") as conn:
            failed = await conn.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?"
                " WHERE id = ? AND state = 'running' AND runner = ?",
                (error, now(), job_id, runner),
            )
            return failed == 1

    async def retry_job(self, job_id: int) -> Job | None:
        """Queue a failed job again with its attempts reset; return the job as it was
        before (None if there is none): only a job that was failed is changed."""
        async with self._transaction(f"retry job {job_id}") as conn:
            found = await conn.fetchall(f"{JOB_QUERY} WHERE j.id = ?", (job_id,))
            if not found:
                return None
            before = rows.job(found[0])
            if before.state == "failed":
                await conn.execute(f"{REQUEUE_FAILED} AND id = ?", (job_id,))
        return before
