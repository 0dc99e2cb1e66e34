"""Start-up of processes that run the engine. This module must not import polars.

Polars reads its settings when it is first imported, so these run before that: as the
worker pool's initializer, and first thing in the entry points.
"""

from __future__ import annotations

import os

# Polars' allocator (jemalloc) keeps freed pages for reuse. The parent merges a little at a
# time and returns them at once; workers churn through a block's columns per second, so
# they keep freed pages for a second: returning them at once cost 30 % more time in page
# faults, keeping them longer cost ~50 MB per worker.
_ALLOCATOR = "_RJEM_MALLOC_CONF"
_SET_BY_US = "LOGLENS_ALLOCATOR_DEFAULT"
_PARENT = "dirty_decay_ms:0,muzzy_decay_ms:0"
_WORKER = "dirty_decay_ms:1000,muzzy_decay_ms:0"


def configure_process() -> None:
    """Tune the allocator of the main process, unless the user set it."""
    if _ALLOCATOR not in os.environ:
        os.environ[_ALLOCATOR] = _PARENT
        os.environ[_SET_BY_US] = "1"


def limit_threads() -> None:
    """Initialise a pool worker: its allocator, and one polars thread (the pool is the
    parallelism)."""
    if os.environ.get(_SET_BY_US) or _ALLOCATOR not in os.environ:
        os.environ[_ALLOCATOR] = _WORKER
    os.environ["POLARS_MAX_THREADS"] = "1"
