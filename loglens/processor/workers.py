"""Start-up of worker processes. This module must not import polars (see `limit_threads`)."""

from __future__ import annotations

import os


def limit_threads() -> None:
    """Give each worker one polars thread: the pool of processes is the parallelism.

    Polars reads POLARS_MAX_THREADS when it is first imported, so this runs as the pool's
    initializer, before the first task imports the engine.
    """
    os.environ["POLARS_MAX_THREADS"] = "1"
