"""The messages the server and its processor process exchange over a `multiprocessing.Pipe`.

They are the whole contract between the two (with the database tables): neither imports
the other. Every message is a small dict that pickles cheaply; big things (the files, the
results) go through the storage folder and the database, never through the pipe.

    server → processor   {"type": "job", "job_id": int, "path": str, "name": str}
                         {"type": "stream", "job_id": int, "path": str, "name": str,
                          "offset": int, "final": bool}   a stream's file is durable up
                                                      to `offset` (and ends there if final)
                         {"type": "stop"}             finish the running jobs, then exit
    processor → server   {"type": "ready", "workers": int}
                         {"type": "state", "job_id": int, "state": "running"|"done"|"failed",
                          "error": str | None}
"""

from __future__ import annotations

from typing import Literal, TypedDict

JobState = Literal["queued", "running", "done", "failed"]


class JobMessage(TypedDict):
    """Run job `job_id` on the stored file at `path` (shown to people as `name`)."""

    type: Literal["job"]
    job_id: int
    path: str
    name: str


class StreamMessage(TypedDict):
    """Stream job `job_id`'s file at `path` is durable up to `offset`: analyse it that far
    (not further: the bytes after it may be lost); `final`: the stream ends there."""

    type: Literal["stream"]
    job_id: int
    path: str
    name: str
    offset: int
    final: bool


class StopMessage(TypedDict):
    """Finish the running jobs and exit; queued jobs stay queued in the database."""

    type: Literal["stop"]


class ReadyMessage(TypedDict):
    """The processor has started its worker pool."""

    type: Literal["ready"]
    workers: int


class StateMessage(TypedDict):
    """A job changed state (its row in the database already says so)."""

    type: Literal["state"]
    job_id: int
    state: JobState
    error: str | None


def job(job_id: int, path: str, name: str) -> JobMessage:
    """A job message."""
    return {"type": "job", "job_id": job_id, "path": path, "name": name}


def state(job_id: int, new_state: JobState, error: str | None = None) -> StateMessage:
    """A state message."""
    return {"type": "state", "job_id": job_id, "state": new_state, "error": error}


def stream(job_id: int, path: str, name: str, offset: int, final: bool) -> StreamMessage:
    """A stream message."""
    return {
        "type": "stream", "job_id": job_id, "path": path, "name": name, "offset": offset,
        "final": final,
    }  # fmt: skip
