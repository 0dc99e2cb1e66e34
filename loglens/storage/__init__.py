"""Storage: the only package that speaks SQL. See docs/schema.md for the tables.

- `write/`: what writes — `Database` (uploads, blobs, jobs, results), its job queue.
- `read/`: what reads — `Reader` (`read/queries.py`) and the SQL of each kind of answer.
- `alerts/`: the alerts table — `AlertStore` writes it, `AlertReader` reads it.
- `schema.py`: tables, views, indexes, migrations; `migrate.py` applies them (either
  database); `models.py`: the dataclasses.
- `dialect/`: all that differs between SQLite (DB_PATH) and PostgreSQL (DATABASE_URL).

`results_from_analysis` lives in `loglens.storage.write.results`, imported on its own: it
needs the analysis engine (polars), which the server process never loads.
"""

from __future__ import annotations

from loglens.storage.models import (
    Blob,
    FormatInfo,
    Job,
    JobState,
    LevelCount,
    MinuteCount,
    ReasonCount,
    RejectedSample,
    Results,
    RuleCount,
    Stored,
    TemplateCount,
    Upload,
    UploadStatus,
)
from loglens.storage.schema import SCHEMA_VERSION
from loglens.storage.write.database import BUSY_TIMEOUT_MS, Database

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "Blob",
    "Database",
    "FormatInfo",
    "Job",
    "JobState",
    "LevelCount",
    "MinuteCount",
    "ReasonCount",
    "RejectedSample",
    "Results",
    "RuleCount",
    "Stored",
    "TemplateCount",
    "Upload",
    "UploadStatus",
]
