"""The task messages of the distributed mode, as JSON, and the leases that vouch for them.

A task message names its job, the job's lease nonce, the blob as a path relative to
STORAGE_PATH, the byte ranges to read and everything else `run_task` needs as plain data
(the format's fields, the time zone, the filters). A stream's block (a gzip upload) has
no ranges to read: its bytes travel in the message, base64-encoded.

A worker trusts none of it until `open_task` has checked it against its own storage:

- the job has a lease, ``STORAGE_PATH/jobs/<job>/lease.json``, that the processor
  wrote when it started the job and removes when the job ends: no lease, unknown job;
- the message carries that lease's nonce (so an old or forged message of the job is not
  run: whoever can publish to the broker cannot read the storage);
- the blob path is relative, lies inside STORAGE_PATH once symlinks are resolved, and is
  the blob of the lease.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loglens.errors import LoglensError

if TYPE_CHECKING:
    from loglens.processor.local import BlockTask

PARTIALS = "jobs"  # beside the server's partial/ (uploads in progress) and blobs/
LEASE = "lease.json"


class RefusedTask(LoglensError):
    """A task message that a worker will not run (unknown job, path outside storage...)."""


def job_folder(storage: Path, job_id: int) -> Path:
    """Where the lease and the partial summaries of a job live."""
    return storage / PARTIALS / str(job_id)


def partial_name(job_id: int, index: int, run: str = "") -> str:
    """The partial summary of task `index` of a job, relative to STORAGE_PATH; each run of
    a task (a redelivery runs it twice) writes its own, named by `run`."""
    return f"{PARTIALS}/{job_id}/{index:06d}{'.' + run if run else ''}.summary"


def is_partial_of(name: object, job_id: int, index: int) -> bool:
    """Whether `name` (from an answer) is a partial summary of task `index` of that job."""
    pattern = rf"{re.escape(PARTIALS)}/{job_id}/{index:06d}(?:\.[0-9a-f]{{8,32}})?\.summary"
    return isinstance(name, str) and re.fullmatch(pattern, name) is not None


def write_lease(storage: Path, job_id: int, blob: str) -> str:
    """Open the lease of a job on `blob` (relative to `storage`); return its nonce."""
    nonce = secrets.token_hex(16)
    folder = job_folder(storage, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{LEASE}.tmp"
    temporary.write_text(json.dumps({"nonce": nonce, "blob": blob}), encoding="utf-8")
    temporary.replace(folder / LEASE)
    return nonce


def relative_blob(storage: Path, path: Path) -> str:
    """The path of a blob relative to `storage`; RefusedTask if it lies outside."""
    root = storage.resolve()
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise RefusedTask(
            f"{path} is not inside STORAGE_PATH={storage}: workers on other machines read "
            "blobs from their own STORAGE_PATH (a shared file system), so only stored "
            "uploads can be analysed on them"
        ) from None


def task_message(job_id: int, nonce: str, blob: str, task: BlockTask) -> dict[str, Any]:
    """The JSON message of one task of a job."""
    ctx = task.ctx
    return {
        "job": job_id,
        "nonce": nonce,
        "index": task.index,
        "source": task.source,
        "file": task.file,
        "blob": blob if task.path is not None else None,
        "format": asdict(task.detection.format),
        "confidence": task.detection.confidence,
        "tz": ctx.tz,
        "reference": None if ctx.reference is None else ctx.reference.isoformat(),
        "drop_levels": sorted(task.filters.drop_levels),
        "drop_regex": task.filters.drop_regex,
        "blocks": [list(block) for block in task.blocks],
        "data": None if task.data is None else base64.b64encode(task.data).decode("ascii"),
        "max_line_bytes": task.max_line_bytes,
        "whole_bytes": task.whole_bytes,
    }


def open_task(storage: Path, message: object) -> tuple[int, BlockTask]:
    """Check a task message against this worker's storage; return its job and task.

    RefusedTask says why a message is not run (see the module docstring).
    """
    from loglens.analysis.chunk import Filters
    from loglens.analysis.formats import FormatKind, LogFormat
    from loglens.analysis.parse import Detection, ParseContext
    from loglens.processor.local import BlockTask

    if not isinstance(message, dict):
        raise RefusedTask(f"refused: a task message is a JSON object, not {type(message)}")
    try:
        job_id = message["job"]
        if not isinstance(job_id, int) or isinstance(job_id, bool) or job_id < 1:
            raise RefusedTask(f"refused: job {job_id!r} is not a job id")
        lease = _lease(storage, job_id)
        nonce = message["nonce"]
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, lease["nonce"]):
            raise RefusedTask(f"refused: job {job_id}: the message's lease nonce is not the job's")
        blob = message["blob"]
        path = None if blob is None else _blob_path(storage, str(blob), lease["blob"])
        raw_format = dict(message["format"])
        raw_format["kind"] = FormatKind(raw_format["kind"])
        raw_format["examples"] = tuple(raw_format["examples"])
        raw_format["json_paths"] = tuple(tuple(pair) for pair in raw_format["json_paths"])
        reference = message["reference"]
        data = message["data"]
        task = BlockTask(
            index=int(message["index"]),
            source=int(message["source"]),
            file=str(message["file"]),
            detection=Detection(LogFormat(**raw_format), float(message["confidence"])),
            ctx=ParseContext(
                tz=str(message["tz"]),
                reference=None if reference is None else datetime.fromisoformat(reference),
            ),
            filters=Filters(frozenset(message["drop_levels"]), str(message["drop_regex"])),
            path=path,
            blocks=tuple((int(offset), int(length)) for offset, length in message["blocks"]),
            data=None if data is None else base64.b64decode(data, validate=True),
            events_dir=None,
            max_line_bytes=int(message["max_line_bytes"]),
            whole_bytes=int(message["whole_bytes"]),
        )
    except RefusedTask:
        raise
    except (KeyError, TypeError, ValueError, binascii.Error, LoglensError) as exc:
        raise RefusedTask(f"refused: a malformed task message ({exc!r:.200})") from exc
    if (path is None) == (task.data is None) or not task.blocks:
        raise RefusedTask(f"refused: job {job_id}: a task reads a blob or carries its bytes")
    if any(offset < 0 or length < 0 for offset, length in task.blocks):
        raise RefusedTask(f"refused: job {job_id}: a negative byte range")
    return job_id, task


def _lease(storage: Path, job_id: int) -> dict[str, str]:
    """The lease of a running job; RefusedTask for an unknown or finished one."""
    where = job_folder(storage, job_id) / LEASE
    try:
        lease = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RefusedTask(
            f"refused: job {job_id} is unknown here: no lease at {where} (it is not running, "
            "or this worker's STORAGE_PATH is not the processor's)"
        ) from None
    except (OSError, ValueError) as exc:
        raise RefusedTask(f"refused: job {job_id}: cannot read its lease {where}: {exc}") from exc
    if not isinstance(lease, dict) or not all(
        isinstance(lease.get(k), str) for k in ("nonce", "blob")
    ):
        raise RefusedTask(f"refused: job {job_id}: its lease {where} is not one")
    return {"nonce": lease["nonce"], "blob": lease["blob"]}


def _blob_path(storage: Path, blob: str, leased: str) -> Path:
    """The blob a message names, resolved in `storage`: inside it, and the leased one."""
    given = Path(blob)
    if given.is_absolute() or ".." in given.parts:
        raise RefusedTask(f"refused: blob path {blob!r} is not a path inside STORAGE_PATH")
    root = storage.resolve()
    path = (root / given).resolve()
    if not path.is_relative_to(root):
        raise RefusedTask(f"refused: blob path {blob!r} leads outside STORAGE_PATH={storage}")
    if blob != leased:
        raise RefusedTask(f"refused: blob {blob!r} is not the blob of its job's lease")
    return path
