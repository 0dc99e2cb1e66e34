"""Start-up of processes that run the engine. This module must not import polars.

Polars reads its settings when it is first imported, so these run before that: as the
worker pool's initializer, and first thing in the entry points.
"""

from __future__ import annotations

import os

# Polars' allocator (jemalloc) keeps freed pages for reuse; with many short-lived columns
# per block that held ~50 MB per process. Returning them at once keeps memory flat.
_ALLOCATOR = "_RJEM_MALLOC_CONF"
_RETURN_FREED_PAGES = "dirty_decay_ms:0,muzzy_decay_ms:0"


def configure_process() -> None:
    """Set the allocator to return freed memory promptly (unless the user set it)."""
    os.environ.setdefault(_ALLOCATOR, _RETURN_FREED_PAGES)


def limit_threads() -> None:
    """Initialise a pool worker: one polars thread (the pool is the parallelism)."""
    configure_process()
    os.environ["POLARS_MAX_THREADS"] = "1"
