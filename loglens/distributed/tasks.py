"""The worker's side: run one task message on this machine and write its partial summary.

This module loads no polars when it is imported (a prefork worker forks its children
from the main process, and polars' threads do not survive a fork): the engine is
imported by the first task a child runs, after `limit_threads`.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from loglens.distributed.wire import RefusedTask, open_task, partial_name

logger = logging.getLogger(__name__)

TASK_NAME = "loglens.analyse_blocks"


def run_message(storage: Path, message: object, worker: str) -> dict[str, Any]:
    """Run one task message; answer with its partial summary's name and SHA-256, or why
    it was refused or failed (as data: the answer is JSON, never an exception to unpickle).
    """
    started = time.monotonic()
    try:
        job_id, task = open_task(storage, message)
    except RefusedTask as exc:
        logger.warning("%s", exc)
        return {"refused": str(exc), "worker": worker}
    from loglens.distributed.partials import dump_summary, write_partial
    from loglens.errors import InputError
    from loglens.processor.local import run_task

    try:
        summary = run_task(task)
    except InputError as exc:
        logger.warning("job %d task %d (%s): %s", job_id, task.index, task.file, exc)
        return {"error": str(exc), "worker": worker}
    # A run of its own: a redelivered task run twice must not rewrite the partial file
    # the first run answered with (its hash would no longer be the answer's).
    name = partial_name(job_id, task.index, secrets.token_hex(8))
    sha256 = write_partial(storage / name, dump_summary(summary, worker))
    logger.info(
        "job %d task %d (%s, %d bytes at %d): done in %.3f s",
        job_id, task.index, task.file, task.length, task.blocks[0][0],
        time.monotonic() - started,
    )  # fmt: skip
    return {"partial": name, "sha256": sha256, "worker": worker}
