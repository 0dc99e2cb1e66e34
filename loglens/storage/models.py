"""The rows the storage layer reads and writes, as plain frozen dataclasses and tuples.

This module imports nothing of the database driver, so services can type their code
against it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

UploadStatus = Literal["receiving", "stored", "failed"]
JobState = Literal["queued", "running", "done", "failed"]
# A file is sent whole, then analysed; a stream grows while it is analysed (`ended_at`
# is set when its client ends it).
UploadKind = Literal["file", "stream"]


@dataclass(frozen=True)
class Upload:
    """One upload of one operator: what was announced, and what became of it."""

    id: int
    operator: str
    original_name: str
    size: int
    sha256: str
    compression: str
    started_at: str
    received_at: str | None
    status: UploadStatus
    blob_id: int | None
    duplicate: bool
    error: str | None
    kind: UploadKind = "file"
    ended_at: str | None = None


@dataclass(frozen=True)
class Blob:
    """Stored content, once per distinct SHA-256 of the decompressed bytes."""

    id: int
    sha256: str
    size: int
    path: str
    first_name: str
    stored_at: str


@dataclass(frozen=True)
class Job:
    """The analysis of one blob, with the blob's path and first name to run it."""

    id: int
    blob_id: int
    state: JobState
    attempts: int  # times a processor started it
    interrupted: int  # of those, starts a stop or kill of the server interrupted
    runner: str | None
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    path: str
    name: str

    @property
    def counted_attempts(self) -> int:
        """Starts that count against the file: those the processor died under while the
        server ran (and the one running now); a stop or kill of the server does not count."""
        return self.attempts - self.interrupted


@dataclass(frozen=True)
class Stored:
    """What `store_upload` did: the blob and job of the upload, whether they are new, and
    whether the job was queued again."""

    blob_id: int
    job_id: int
    job_created: bool
    duplicate: bool
    blob_path: str
    job_requeued: bool = False  # the blob's job had failed: it is queued again


@dataclass(frozen=True, slots=True)
class LevelCount:
    """Entries of one level."""

    level: str
    count: int


@dataclass(frozen=True, slots=True)
class TemplateCount:
    """Entries of one template at one level, with the earliest one and its 1-based line."""

    template_id: str
    level: str
    template: str
    count: int
    example: str
    line: int


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """Entries of one level in one minute (`minute` in the storage's timestamp form)."""

    minute: str
    level: str
    count: int


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """Rejected lines for one reason."""

    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class RejectedSample:
    """An example of a rejected line: its reason, 1-based line number and printable text."""

    reason: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class RuleCount:
    """Entries dropped by one filter rule."""

    rule: str
    count: int


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """The format detected in the content, its line, entry and byte counts, and how much of
    it was understood: the entries with a timestamp, with a level read from the line, with
    either (`confidence` is their share); its layout, and whether its entries carry levels."""

    format: str
    confidence: float
    lines: int
    entries: int
    bytes: int
    timed: int
    leveled: int
    understood: int
    layout: str
    expects_levels: bool


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """Entries of one category (an entry counts in each category of its template), and the
    category's place in the report (most entries first)."""

    category: str
    count: int
    rank: int


@dataclass(frozen=True, slots=True)
class TemplateCategory:
    """One category of a template, and its place among that template's categories."""

    template_id: str
    category: str
    position: int


@dataclass(frozen=True, slots=True)
class StoredAnomaly:
    """An anomaly as stored: its place in the report, times in the storage form, and its
    template ids, flagged levels and examples (`{file, line}` objects) as JSON text."""

    rank: int
    kind: str
    score: float
    start_ts: str
    end_ts: str
    explanation: str
    template_ids: str
    flag_levels: str
    examples: str
    source: str | None


@dataclass(frozen=True, slots=True)
class SeriesCount:
    """Entries of one template at one level in one bucket: a minute for WARNING, ERROR and
    CRITICAL, an hour (`minute` is its first minute) for the other levels."""

    minute: str
    template_id: str
    level: str
    count: int


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """An incident as stored: its place among the blob's incidents, its stable key, times
    in the storage form, and its kinds, categories and changed templates as JSON text."""

    rank: int
    incident_key: str
    title: str
    score: float
    start_ts: str
    end_ts: str
    source: str | None
    kinds: str
    categories: str
    templates: str
    findings: int  # how many


@dataclass(frozen=True, slots=True)
class IncidentFinding:
    """A finding of an incident: the anomaly's place in the report, and its place in the
    incident (best first)."""

    incident_rank: int
    anomaly_rank: int
    position: int


@dataclass(frozen=True)
class Results:
    """Everything stored about the analysis of one blob: the `results` row and its details."""

    entries: int
    lines: int
    bytes: int
    continuation_lines: int
    directive_lines: int
    untimed_entries: int
    filtered_lines: int
    first_ts: str | None
    last_ts: str | None
    templates: int
    templates_approximate: bool
    report: dict[str, Any]
    level_counts: tuple[LevelCount, ...] = ()
    template_counts: tuple[TemplateCount, ...] = ()
    timeline: tuple[MinuteCount, ...] = ()
    rejected: tuple[ReasonCount, ...] = ()
    rejected_samples: tuple[RejectedSample, ...] = ()
    filtered: tuple[RuleCount, ...] = ()
    formats: tuple[FormatInfo, ...] = ()
    category_counts: tuple[CategoryCount, ...] = ()
    template_categories: tuple[TemplateCategory, ...] = ()
    anomalies: tuple[StoredAnomaly, ...] = ()
    incidents: tuple[StoredIncident, ...] = ()
    incident_findings: tuple[IncidentFinding, ...] = ()
    template_series: tuple[SeriesCount, ...] = ()
