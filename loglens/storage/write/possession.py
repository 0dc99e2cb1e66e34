"""Content an operator has shown it holds: the blobs of its own stored uploads.

Dedup must not tell an operator what another operator's content says: knowing a file's
SHA-256 and size is not holding it. The server skips the bytes of an upload only when
this operator has sent the same bytes before.
"""

from __future__ import annotations

from loglens.storage.models import Blob
from loglens.storage.write import rows
from loglens.storage.write.database import Database


async def blob_stored_by(
    db: Database, operator: str, sha256: str, size: int, compression: str
) -> Blob | None:
    """The blob of an earlier stored upload of exactly these sent bytes by `operator`, or
    None (uploads of them by other operators do not count)."""
    found = await db._fetch(  # the Database's own query runner, shared within storage
        "find a stored blob of this operator",
        f"SELECT {rows.BLOB_COLUMNS} FROM blobs AS b WHERE b.id = (SELECT blob_id FROM"
        " uploads WHERE sha256 = ? AND size = ? AND compression = ? AND status = 'stored'"
        " AND operator = ? ORDER BY id LIMIT 1)",
        (sha256, size, compression, operator),
    )
    return rows.blob(found[0]) if found else None
