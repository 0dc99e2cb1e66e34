"""Storage: the only package that speaks SQL. See docs/schema.md for the tables.

`results_from_analysis` lives in `loglens.storage.results`, imported on its own: it needs
the analysis engine (polars), which the server process never loads.
"""

from __future__ import annotations

from loglens.storage.database import BUSY_TIMEOUT_MS, Database
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
