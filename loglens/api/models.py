"""The HTTP API's response bodies (pydantic models; they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Bucket = Literal["minute", "hour", "day"]


class Problem(BaseModel):
    """An error answer: what was wrong, naming the parameter, and what to do."""

    detail: str = Field(description="What was wrong, e.g. `start='yesterday' is not a time: ...`")


class Health(BaseModel):
    """The service answers."""

    status: Literal["ok"] = "ok"


class Me(BaseModel):
    """Who the bearer token belongs to, and what it reads."""

    operator: str
    read_all: bool = Field(
        description="True: reads every operator's uploads (a token marked `:read-all`); "
        "false: only this operator's"
    )


class FormatInfo(BaseModel):
    """A log format detected in the content, and how much of its entries was understood."""

    format: str
    confidence: float = Field(
        description="Share of entries with a timestamp or a level read from the line (0-1); "
        "0 without entries. Contents analysed before schema version 2: the share of sampled "
        "lines the format parsed"
    )
    timestamps: float | None = Field(
        None, description="Share of entries with a timestamp (0-1); null if not counted"
    )
    levels: float | None = Field(
        None,
        description="Share of entries whose level was read from the line (a level field, "
        "a syslog PRI, an HTTP status) rather than guessed from its words (0-1); null if not "
        "counted",
    )
    layout: str | None = Field(
        None, description="One line on the format's layout (a learned one says what it learned)"
    )
    expects_levels: bool | None = Field(
        None, description="The format's entries carry a level, so none read means misread"
    )
    lines: int
    entries: int
    bytes: int
    timed: int | None = Field(None, description="Entries with a timestamp")
    leveled: int | None = Field(None, description="Entries with a level read from the line")
    understood: int | None = Field(
        None, description="Entries with a timestamp or a level read from the line"
    )
    file: str | None = Field(None, description="The upload it was found in, or `N files`")
    files: int | None = Field(None, description="Contents it was found in")


class TopError(BaseModel):
    """An error template: entries counted over the selection, and one real example."""

    template_id: str = Field(description="Stable hash of the template")
    template: str = Field(description="The message with variables shown as `<*>`")
    count: int = Field(description="Entries of this template at the error levels")
    example: str | None = Field(None, description="The earliest such entry's message")
    upload_id: int | None = Field(None, description="Upload the example comes from")
    original_name: str | None = Field(None, description="That upload's file name")
    file: str | None = Field(None, description="Same as original_name (as in the report)")
    line: int | None = Field(None, description="Line of the example in that upload")
    categories: list[str] = Field(
        default_factory=list, description="The template's categories (database, network, ...)"
    )


class AnomalyExample(BaseModel):
    """Where to look: an entry the anomaly covers."""

    file: str = Field(description="The upload's file name (or the file within it)")
    line: int = Field(description="1-based line of the entry")


class Anomaly(BaseModel):
    """Something unusual in an upload: what, how unusual, when, and where to look."""

    kind: str = Field(
        description="error_spike, volume_spike, silence, level_shift, new_template or rare_template"
    )
    score: float = Field(description="How unusual (higher is more; comparable within a kind)")
    start: str = Field(description="Start of its time window (ISO-8601, UTC)")
    end: str = Field(description="End of its time window (exclusive)")
    explanation: str = Field(description="What happened, in a sentence a person reads at once")
    template_ids: list[str] = Field(description="Templates of the entries it covers")
    source: str | None = Field(description="The file it was found in, when an upload has several")
    examples: list[AnomalyExample] = Field(description="Example entries: file and line")
    anomaly_id: int | None = Field(None, description="Its id in the database")
    flag_levels: list[str] = Field(
        default_factory=list, description="Levels of the entries it covers"
    )
    upload_id: int | None = Field(None, description="The upload it was found in")
    original_name: str | None = Field(None, description="That upload's file name")


class AnomalyPage(BaseModel):
    """One page of anomalies, highest score first unless sorted otherwise."""

    total: int
    limit: int
    offset: int
    items: list[Anomaly]


class IncidentTemplate(BaseModel):
    """A template of an incident: its entries in the incident's window, and how many its
    usual rate (over the rest of the log) would give there."""

    template_id: str
    template: str
    entries: int
    expected: float


class Incident(BaseModel):
    """Related findings of one upload taken together: what a person reads first."""

    incident_id: str = Field(description="Stable hash of its source and findings")
    id: int | None = Field(None, description="Its row id in the database")
    title: str = Field(description="What happened, after its best finding")
    score: float = Field(description="Its best finding's score, plus 1 per further kind")
    start: str = Field(description="Start of its time window (ISO-8601, UTC)")
    end: str = Field(description="End of its time window (exclusive)")
    source: str | None = Field(description="The file it was found in, when an upload has several")
    kinds: list[str] = Field(description="Kinds of its findings, most telling first")
    categories: list[str] = Field(description="Categories of the templates it concerns")
    finding_count: int = Field(description="How many findings (anomalies) it groups")
    templates: list[IncidentTemplate] = Field(
        description="The templates of its findings that changed most in its window"
    )
    upload_id: int | None = Field(None, description="The upload it was found in")
    original_name: str | None = Field(None, description="That upload's file name")
    findings: list[Anomaly] = Field(
        description="Its findings, best first (at most `findings` of them)"
    )


class IncidentPage(BaseModel):
    """One page of incidents, highest score first unless sorted otherwise."""

    total: int
    limit: int
    offset: int
    items: list[Incident]


class CategoryTemplate(BaseModel):
    """A template of a category and its entries."""

    template_id: str
    template: str
    count: int


class Category(BaseModel):
    """Entries of one category (an entry counts in each category of its template)."""

    category: str = Field(description="database, network, security, storage, ...")
    count: int = Field(description="Entries of templates in this category")
    templates: int = Field(description="Distinct templates in it")
    top_templates: list[CategoryTemplate] = Field(description="Its biggest templates")


class Categories(BaseModel):
    """Categories over the selection, most entries first (counts overlap)."""

    items: list[Category]


class TrendKey(BaseModel):
    """One line of a trend: a level, template or category, and its entries in all."""

    key: str = Field(description="The level, template id or category")
    label: str = Field(description="What it stands for (a template's text)")
    count: int


class TrendPoint(BaseModel):
    """Entries of one key in one bucket."""

    bucket: str = Field(description="Start of the minute, hour or day (ISO-8601, UTC)")
    key: str
    count: int


class Trend(BaseModel):
    """Entries over time per level, template or category; empty buckets are left out."""

    by: Literal["level", "template", "category"]
    bucket: Bucket
    key: str | None = Field(description="The one key asked for, or null")
    levels: list[str] | None = Field(
        description="Levels counted (null: all); minute trends of templates and categories "
        "count WARNING, ERROR and CRITICAL only"
    )
    keys: list[TrendKey]
    points: list[TrendPoint]


class DiffSide(BaseModel):
    """What one side of a comparison covers."""

    upload: int | None = Field(description="The upload, when the side is one")
    start: str | None = Field(description="Start of the side (its window, or first entry)")
    end: str | None = Field(description="End of the side (its window, or last entry)")
    uploads: int
    blobs: int
    first_timestamp: str | None
    last_timestamp: str | None
    hours: float = Field(description="Hours from start to end (at least a minute)")
    levels: dict[str, int]
    entries: int = Field(description="Entries of its templates (at the level, if given)")
    templates: int


class DiffItem(BaseModel):
    """A template on both sides of a comparison, with its rates and an example."""

    template_id: str
    template: str
    count_a: int
    count_b: int
    rate_a: float = Field(description="Share of side a's entries, or entries per hour")
    rate_b: float
    change: float = Field(description="rate_b - rate_a")
    ratio: float | None = Field(description="rate_b / rate_a (null when rate_a is 0)")
    score: float = Field(description="The change in standard errors of the two rates")
    example: str | None = None
    upload_id: int | None = None
    original_name: str | None = None
    file: str | None = None
    line: int | None = None


class DiffList(BaseModel):
    """Some of the templates of one kind of change, and how many there are."""

    total: int
    items: list[DiffItem]


class Diff(BaseModel):
    """What changed from a to b: templates that appeared, vanished, or moved most."""

    a: DiffSide
    b: DiffSide
    rate: Literal["share", "hour"]
    appeared: DiffList = Field(description="Entries in b, none in a; most entries first")
    vanished: DiffList = Field(description="Entries in a, none in b; most entries first")
    changed: DiffList = Field(
        description="In both, at another rate in b than in a; the biggest moves first"
    )
    no_change: bool = Field(
        description="True when no template appeared, vanished or moved (the same content)"
    )


class RejectedSample(BaseModel):
    """One rejected line."""

    upload_id: int | None = None
    original_name: str | None = None
    file: str | None = None
    line: int
    text: str


class Window(BaseModel):
    """The time window a report covers, cut to whole minutes."""

    start: str | None
    end: str | None


class Stats(BaseModel):
    """The classic report (as `processor.py --json` prints it) over the selected uploads;
    each distinct content counts once however many uploads share it."""

    entries: int
    lines: int
    bytes: int
    continuation_lines: int
    directive_lines: int = Field(
        description="Directive and comment lines of the files (W3C `#Fields:`, `# notes`): "
        "neither entries nor rejected"
    )
    levels: dict[str, int] = Field(description="Entries per level, TRACE to CRITICAL, UNKNOWN")
    top_errors: list[TopError]
    first_timestamp: str | None = Field(description="Earliest entry (ISO-8601, UTC)")
    last_timestamp: str | None = Field(description="Latest entry (ISO-8601, UTC)")
    untimed_entries: int
    templates: int = Field(description="Distinct message templates")
    templates_approximate: bool
    rejected: dict[str, int] = Field(description="Rejected lines per reason")
    rejected_samples: dict[str, list[RejectedSample]]
    repaired: dict[str, int]
    filtered: dict[str, int]
    filtered_lines: int
    formats: list[FormatInfo]
    categories: dict[str, int] = Field(
        description="Entries per category, most first (an entry counts in each category of "
        "its template)"
    )
    anomalies: list[Anomaly] = Field(description="Anomalies, highest score first (at most 200)")
    anomalies_total: int = Field(description="Anomalies of the selection in all")
    incidents: list[Incident] = Field(
        default_factory=list,
        description="Incidents, highest score first (at most 200; `findings` left empty)",
    )
    incidents_total: int = Field(0, description="Incidents of the selection in all")
    uploads: int = Field(description="Uploads selected")
    blobs: int = Field(description="Distinct contents among them (each counted once)")
    window: Window | None = Field(description="The time window, when start or end is given")
    templates_scope: str = Field(description="What templates, top errors and rejections cover")


class Upload(BaseModel):
    """An upload, its analysis job and, once analysed, its headline figures."""

    upload_id: int
    operator: str
    original_name: str
    received_at: str | None
    blob_id: int | None
    size: int = Field(description="Bytes as sent")
    sha256: str
    compression: str
    started_at: str | None
    status: str = Field(description="receiving, stored or failed")
    duplicate: bool = Field(description="The content was stored before by another upload")
    upload_error: str | None
    job_id: int | None
    job_state: str | None = Field(description="queued, running, done or failed")
    attempts: int | None
    job_error: str | None
    job_started_at: str | None
    job_finished_at: str | None
    entries: int | None = Field(description="Entries, once analysed")
    first_timestamp: str | None
    last_timestamp: str | None
    kind: str = Field(
        "file", description="file (sent whole), or stream (followed: analysed as it grows)"
    )
    ended_at: str | None = Field(
        None, description="When a stream ended (null while it runs, and for a file)"
    )


class UploadResults(BaseModel):
    """The figures of one analysed upload."""

    entries: int
    lines: int
    bytes: int
    continuation_lines: int
    directive_lines: int = Field(description="Directive and comment lines (0 before counted)")
    untimed_entries: int
    filtered_lines: int
    templates: int
    templates_approximate: bool
    first_timestamp: str | None
    last_timestamp: str | None
    levels: dict[str, int]
    rejected: dict[str, int]


class UploadDetail(Upload):
    """An upload with its results (null until analysed) and the formats found in it."""

    results: UploadResults | None
    formats: list[FormatInfo]


class UploadPage(BaseModel):
    """One page of uploads and how many match in all."""

    total: int
    limit: int
    offset: int
    items: list[Upload]


class Template(BaseModel):
    """A message template over the selection, with its count per level and an example."""

    template_id: str
    template: str
    count: int
    levels: dict[str, int]
    categories: list[str] = Field(default_factory=list)
    example: str | None = None
    upload_id: int | None = None
    original_name: str | None = None
    file: str | None = None
    line: int | None = None


class TemplatePage(BaseModel):
    """One page of templates and how many match in all."""

    total: int
    limit: int
    offset: int
    items: list[Template]


class TimelinePoint(BaseModel):
    """Entries of one level in one bucket."""

    bucket: str = Field(description="Start of the minute, hour or day (ISO-8601, UTC)")
    level: str
    count: int


class Timeline(BaseModel):
    """Entries per bucket and level; buckets without entries are left out."""

    bucket: Bucket
    points: list[TimelinePoint]


class RejectedReason(BaseModel):
    """Lines rejected for one reason, with up to three samples."""

    reason: str
    count: int
    samples: list[RejectedSample]


class Rejected(BaseModel):
    """Rejected lines per reason, most first."""

    total: int
    reasons: list[RejectedReason]
