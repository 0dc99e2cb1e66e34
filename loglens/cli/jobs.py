"""`python -m loglens jobs SUBCOMMAND`: the analysis jobs in the results database.

    loglens jobs list [--state queued|running|done|failed] [--limit N] [--json]
    loglens jobs retry ID

`list` shows the jobs, newest first. `retry` puts a failed job back in the queue with its
attempts reset; a running server hands it to its processor within a few seconds
(QUEUE_POLL_SECONDS), and a stopped one at its next start. Exit status: 0 ok, 1 for a
missing database, an unknown job, a job that is not failed or a storage error, 2 for a
usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loglens.cli.plain import cut, write_json, write_table
from loglens.config import config_from_environment
from loglens.errors import ConfigError, StorageError
from loglens.storage import Database, Job
from loglens.storage.dialect import describe
from loglens.storage.read.jobs import JOB_STATES, JobReader

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
_ERROR_CHARS = 100


def build_parser() -> argparse.ArgumentParser:
    """The jobs command's flags."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="results database (DB_PATH, data/loglens.db)")
    common.add_argument("--env-file", default=".env", help="settings file (.env)")
    parser = argparse.ArgumentParser(
        prog="loglens jobs", description="The analysis jobs of the uploads."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    listing = sub.add_parser("list", parents=[common], help="jobs, newest first")
    listing.add_argument("--state", choices=JOB_STATES, help="only jobs in this state")
    listing.add_argument("--limit", type=int, default=100, help="jobs to show (100)")
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    retry = sub.add_parser(
        "retry", parents=[common], help="queue a failed job again, its attempts reset"
    )
    retry.add_argument("job_id", type=int, metavar="ID", help="the id of a failed job")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one jobs subcommand; return the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        db_path = (
            args.db or config_from_environment(args.env_file, ("DB_PATH", "DATABASE_URL")).database
        )
        if args.command == "list":
            if args.limit < 1:
                raise ConfigError(f"--limit {args.limit}: show at least 1 job")
            return asyncio.run(_list(args, db_path))
        return asyncio.run(_retry(args.job_id, db_path))
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except StorageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR


async def _list(args: argparse.Namespace, db_path: Path | str) -> int:
    async with await JobReader.open(db_path) as reader:
        jobs, total = await reader.jobs(args.state, args.limit)
    if args.json:
        write_json({"total": total, "jobs": [_job_dict(job) for job in jobs]})
        return EXIT_OK
    if not jobs:
        sys.stdout.write("no jobs\n")
        return EXIT_OK
    header = ("ID", "STATE", "ATTEMPTS", "NAME", "FINISHED", "ERROR")
    write_table([header, *(_job_row(job) for job in jobs)])
    if total > len(jobs):
        sys.stdout.write(f"({len(jobs)} of {total} jobs: --limit to see more)\n")
    return EXIT_OK


async def _retry(job_id: int, db_path: Path | str) -> int:
    # Opening a missing SQLite file would create an empty one.
    if isinstance(db_path, Path) and not await asyncio.to_thread(db_path.is_file):
        raise StorageError(
            f"no results database at {db_path} (DB_PATH): point DB_PATH / --db at the "
            "server's database"
        )
    async with await Database.open(db_path) as db:
        before = await db.retry_job(job_id)
    if before is None:
        sys.stderr.write(f"error: there is no job {job_id} in {describe(db_path)}\n")
        return EXIT_ERROR
    if before.state != "failed":
        sys.stderr.write(
            f"error: job {job_id} ({before.name}) is {before.state}: only a failed job can "
            "be retried\n"
        )
        return EXIT_ERROR
    sys.stdout.write(
        f"job {job_id} ({before.name}) queued again (it had failed: {before.error}); a "
        "running server starts it within seconds, a stopped one when it starts\n"
    )
    return EXIT_OK


def _job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "blob_id": job.blob_id,
        "name": job.name,
        "state": job.state,
        "attempts": job.attempts,
        "interrupted": job.interrupted,
        "counted_attempts": job.counted_attempts,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _job_row(job: Job) -> tuple[str, ...]:
    attempts = str(job.attempts)
    if job.interrupted:
        attempts += f" ({job.interrupted} by restarts)"
    return (
        str(job.id),
        job.state,
        attempts,
        job.name,
        (job.finished_at or "")[:19],
        cut(job.error or "", _ERROR_CHARS),
    )
