"""Streams in the database: uploads that grow while they are analysed.

A stream is recorded whole when it opens: its upload (kind 'stream', status 'stored' from
the start, so that every query shows it while it runs), a blob of its own (named
`stream:<upload id>`, never shared: two streams with the same lines so far are still two
sources that go on differently) whose file is `streams/<upload id>.log`, and a queued job.
The processor keeps the job running and replaces the blob's results as the stream grows
(`Database.store_live_results`); END sets the upload's `ended_at`, size and SHA-256, and
the job then ends as any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from loglens.errors import StorageError
from loglens.storage.schema import now
from loglens.storage.write.writer import Writer

STREAM_BLOB_PREFIX = "stream:"
STREAMS_FOLDER = "streams"  # under STORAGE_PATH


def stream_path(upload_id: int) -> str:
    """The file of stream `upload_id`, relative to STORAGE_PATH."""
    return f"{STREAMS_FOLDER}/{upload_id}.log"


@dataclass(frozen=True)
class StreamRecord:
    """A stream's rows: its upload, its blob (and file) and its job."""

    upload_id: int
    blob_id: int
    job_id: int
    path: str
    ended: bool = False


class StreamStore(Writer):
    """What the server records of streams (see the module docstring)."""

    async def create_stream(self, operator: str, name: str) -> StreamRecord:
        """Record a new, empty stream: its upload, blob and queued job, in one transaction."""
        async with self._transaction("create stream") as conn:
            stamp = now()
            upload_id = await conn.insert(
                "INSERT INTO uploads (operator, original_name, size, sha256, compression,"
                " started_at, received_at, status, kind)"
                " VALUES (?, ?, 0, '', 'none', ?, ?, 'stored', 'stream')",
                (operator, name, stamp, stamp),
            )
            path = stream_path(upload_id)
            blob_id = await conn.insert(
                "INSERT INTO blobs (sha256, size, path, first_name, stored_at)"
                " VALUES (?, 0, ?, ?, ?)",
                (f"{STREAM_BLOB_PREFIX}{upload_id}", path, name, stamp),
            )
            await conn.execute("UPDATE uploads SET blob_id = ? WHERE id = ?", (blob_id, upload_id))
            job_id = await conn.insert(
                "INSERT INTO jobs (blob_id, created_at) VALUES (?, ?)", (blob_id, stamp)
            )
        return StreamRecord(upload_id, blob_id, job_id, path)

    async def stream(self, upload_id: int) -> StreamRecord | None:
        """The stream `upload_id` (open or ended), or None if it is no stream."""
        found = await self._fetch(
            "read stream",
            "SELECT u.id, u.blob_id, j.id, b.path, u.ended_at FROM uploads AS u"
            " JOIN blobs AS b ON b.id = u.blob_id JOIN jobs AS j ON j.blob_id = u.blob_id"
            " WHERE u.id = ? AND u.kind = 'stream'",
            (upload_id,),
        )
        if not found:
            return None
        row = found[0]
        return StreamRecord(int(row[0]), int(row[1]), int(row[2]), str(row[3]), row[4] is not None)

    async def stream_of_blob(self, blob_id: int) -> StreamRecord | None:
        """The stream whose blob is `blob_id`, or None (a file's blob)."""
        found = await self._fetch(
            "read stream of blob",
            "SELECT id FROM uploads WHERE blob_id = ? AND kind = 'stream'",
            (blob_id,),
        )
        return await self.stream(int(found[0][0])) if found else None

    async def end_stream(self, upload_id: int, size: int, sha256: str) -> None:
        """Record the end of an open stream: its final size and SHA-256."""
        async with self._transaction(f"end stream {upload_id}") as conn:
            ended = await conn.execute(
                "UPDATE uploads SET ended_at = ?, size = ?, sha256 = ?"
                " WHERE id = ? AND kind = 'stream' AND ended_at IS NULL",
                (now(), size, sha256, upload_id),
            )
            if ended != 1:
                raise StorageError(f"end stream {upload_id}: it is no open stream")
            await conn.execute(
                "UPDATE blobs SET size = ? WHERE id = (SELECT blob_id FROM uploads WHERE id = ?)",
                (size, upload_id),
            )
