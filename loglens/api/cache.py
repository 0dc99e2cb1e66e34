"""Serialised answers kept until the database changes (the Reader's `data_version`)."""

from __future__ import annotations

import logging
from collections import OrderedDict

logger = logging.getLogger(__name__)


class ResponseCache:
    """An LRU of response bodies by request, bounded in bytes, emptied on a new version.

    Results only change when the server commits, and `PRAGMA data_version` tells when: an
    answer computed after reading version v is right for as long as the version is still v.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._version: int | None = None
        self.hits = 0
        self.misses = 0

    def get(self, key: str, version: int) -> bytes | None:
        """The body stored for `key` at `version`, or None."""
        self._check(version)
        body = self._entries.get(key)
        if body is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return body

    def put(self, key: str, version: int, body: bytes) -> None:
        """Keep `body` for `key`, computed from data at `version` or newer."""
        if len(body) > self.max_bytes // 4:
            return  # one huge answer must not push out everything else
        self._check(version)
        old = self._entries.pop(key, None)
        self._size -= len(old) if old is not None else 0
        self._entries[key] = body
        self._size += len(body)
        while self._size > self.max_bytes:
            _key, dropped = self._entries.popitem(last=False)
            self._size -= len(dropped)

    def _check(self, version: int) -> None:
        """Forget everything when the database has changed since it was stored."""
        if version != self._version:
            if self._entries:
                logger.debug(
                    "database changed (version %s): %d answers dropped", version, len(self)
                )
            self._entries.clear()
            self._size = 0
            self._version = version

    def __len__(self) -> int:
        return len(self._entries)
