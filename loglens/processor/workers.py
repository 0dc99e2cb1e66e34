"""Start-up of processes that run the engine. This module must not import polars.

Polars reads its settings when it is first imported, so these run before that: as the
worker pool's initializer, and first thing in the entry points.
"""

from __future__ import annotations

import ctypes
import os
import signal

# Polars' allocator (jemalloc) keeps freed pages for reuse. The parent merges a little at a
# time and returns them at once; workers churn through a block's columns per second, so
# they keep freed pages for a second: returning them at once cost 30 % more time in page
# faults, keeping them longer cost ~50 MB per worker. One arena per process: with one per
# thread (polars' and Python's) each kept its own free pages, ~8 MB more per worker.
_ALLOCATOR = "_RJEM_MALLOC_CONF"
_SET_BY_US = "LOGLENS_ALLOCATOR_DEFAULT"
_PARENT = "dirty_decay_ms:0,muzzy_decay_ms:0,narenas:1"
_WORKER = "dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1"
# Python's own big buffers (a block's bytes, its translated copy) come from the C
# allocator. glibc serves each from a fresh mmap and unmaps it when freed, so every block
# page-faulted 8 MiB in again: a third of the workers' system time. Kept below these sizes
# in its heap, the buffers are reused.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_FROM_BYTES = 32 * 1024 * 1024  # glibc's maximum
_TRIM_FROM_BYTES = 64 * 1024 * 1024


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
    _reuse_big_buffers()


def ignore_ctrl_c() -> None:
    """Load the engine, then ignore SIGINT in this process and in those it starts (they
    inherit it), and unblock it (the server starts the processor with it blocked).

    The server alone acts on a Ctrl-C, which reaches the whole process group. Polars puts
    its own SIGINT handler in place when it is imported (so that a Ctrl-C stops a query
    with KeyboardInterrupt): it must be replaced after that import, so call this after
    `configure_process` or `limit_threads`. Only from the main thread.
    """
    import polars  # noqa: F401

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _reuse_big_buffers() -> None:
    """Have glibc keep freed buffers of up to a few blocks for reuse (no-op elsewhere)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_FROM_BYTES)
