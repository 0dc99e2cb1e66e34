"""The database schema (tables, views, indexes) and the one form of its timestamps.

Every time is text of fixed width in UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 characters):
times sort and compare as text, and SQLite's date functions read them. Timeline minutes
are in the same form with zero seconds (`2024-05-01T13:07:00.000000Z`). See docs/schema.md.

The text is written for SQLite; `Dialect.ddl` (loglens/storage/dialect/) makes PostgreSQL's
of it (the same tables, columns and views). The version is `PRAGMA user_version` (SQLite)
or the table `loglens_schema` (PostgreSQL). `SCHEMA` makes a new database of
`SCHEMA_VERSION`; `MIGRATIONS[n]` takes a database of version n to n + 1, so that a
database made by an older loglens keeps working: `migrate.create` (run by each writer that
opens one) upgrades it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

SCHEMA_VERSION = 6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """An aware datetime in the storage's fixed-width UTC form."""
    t = moment.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T"
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}Z"
    )


def now() -> str:
    """The current time in the storage's form."""
    return format_time(datetime.now(UTC))


def from_micros(micros: int | None) -> str | None:
    """Microseconds since the epoch in the storage's form, or None."""
    return None if micros is None else format_time(_EPOCH + timedelta(microseconds=micros))


def from_minutes(minutes: int) -> str:
    """Minutes since the epoch (a timeline bucket) in the storage's form."""
    return format_time(_EPOCH + timedelta(minutes=minutes))


# Columns of `formats` added in version 2: how much of the entries was understood. Null in
# rows written before (a migrated file keeps its rows as they were).
_FORMATS_V2_COLUMNS = (
    "timed          INTEGER",
    "leveled        INTEGER",
    "understood     INTEGER",
    "layout         TEXT",
    "expects_levels INTEGER CHECK (expects_levels IN (0, 1))",
)
_FORMATS_V2 = ",\n    ".join(_FORMATS_V2_COLUMNS)

_TABLES = f"""
CREATE TABLE IF NOT EXISTS blobs (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT    NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    path        TEXT    NOT NULL,
    first_name  TEXT    NOT NULL,
    stored_at   TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id            INTEGER PRIMARY KEY,
    operator      TEXT    NOT NULL,
    original_name TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    compression   TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    received_at   TEXT,
    status        TEXT    NOT NULL DEFAULT 'receiving'
                  CHECK (status IN ('receiving', 'stored', 'failed')),
    blob_id       INTEGER REFERENCES blobs (id),
    duplicate     INTEGER NOT NULL DEFAULT 0 CHECK (duplicate IN (0, 1)),
    error         TEXT,
    kind          TEXT    NOT NULL DEFAULT 'file' CHECK (kind IN ('file', 'stream')),
    ended_at      TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY,
    blob_id     INTEGER NOT NULL UNIQUE REFERENCES blobs (id),
    state       TEXT    NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0,
    runner      TEXT,
    error       TEXT,
    created_at  TEXT    NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS results (
    blob_id               INTEGER PRIMARY KEY REFERENCES blobs (id),
    job_id                INTEGER NOT NULL REFERENCES jobs (id),
    entries               INTEGER NOT NULL,
    lines                 INTEGER NOT NULL,
    bytes                 INTEGER NOT NULL,
    continuation_lines    INTEGER NOT NULL,
    untimed_entries       INTEGER NOT NULL,
    filtered_lines        INTEGER NOT NULL,
    first_ts              TEXT,
    last_ts               TEXT,
    templates             INTEGER NOT NULL,
    templates_approximate INTEGER NOT NULL CHECK (templates_approximate IN (0, 1)),
    report_json           TEXT    NOT NULL,
    directive_lines       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS level_counts (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    level   TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, level)
);
CREATE TABLE IF NOT EXISTS templates (
    blob_id     INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    template_id TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    template    TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    example     TEXT    NOT NULL,
    line        INTEGER NOT NULL,
    PRIMARY KEY (blob_id, template_id, level)
);
CREATE TABLE IF NOT EXISTS timeline (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    minute  TEXT    NOT NULL,
    level   TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, minute, level)
);
CREATE TABLE IF NOT EXISTS timeline_hour (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    hour    TEXT    NOT NULL,
    level   TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, hour, level)
);
CREATE TABLE IF NOT EXISTS timeline_day (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    day     TEXT    NOT NULL,
    level   TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, day, level)
);
CREATE TABLE IF NOT EXISTS rejected (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    reason  TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, reason)
);
CREATE TABLE IF NOT EXISTS rejected_samples (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    reason  TEXT    NOT NULL,
    line    INTEGER NOT NULL,
    text    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS repaired (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, kind)
);
CREATE TABLE IF NOT EXISTS filtered (
    blob_id INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    rule    TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (blob_id, rule)
);
CREATE TABLE IF NOT EXISTS level_counts_all (
    level TEXT    NOT NULL PRIMARY KEY,
    count INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS templates_all (
    template_id TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (template_id, level)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timeline_all (
    minute TEXT    NOT NULL,
    level  TEXT    NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (minute, level)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS category_counts (
    blob_id  INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    category TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    rank     INTEGER NOT NULL,
    PRIMARY KEY (blob_id, category)
);
CREATE TABLE IF NOT EXISTS template_categories (
    blob_id     INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    template_id TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (blob_id, template_id, category)
);
CREATE TABLE IF NOT EXISTS anomalies (
    id           INTEGER PRIMARY KEY,
    blob_id      INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    rank         INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    score        REAL    NOT NULL,
    start_ts     TEXT    NOT NULL,
    end_ts       TEXT    NOT NULL,
    explanation  TEXT    NOT NULL,
    template_ids TEXT    NOT NULL DEFAULT '[]',
    flag_levels  TEXT    NOT NULL DEFAULT '[]',
    examples     TEXT    NOT NULL DEFAULT '[]',
    source       TEXT,
    UNIQUE (blob_id, rank)
);
CREATE TABLE IF NOT EXISTS incidents (
    id           INTEGER PRIMARY KEY,
    blob_id      INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    rank         INTEGER NOT NULL,
    incident_key TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    score        REAL    NOT NULL,
    start_ts     TEXT    NOT NULL,
    end_ts       TEXT    NOT NULL,
    source       TEXT,
    kinds        TEXT    NOT NULL DEFAULT '[]',
    categories   TEXT    NOT NULL DEFAULT '[]',
    templates    TEXT    NOT NULL DEFAULT '[]',
    findings     INTEGER NOT NULL,
    UNIQUE (blob_id, rank)
);
CREATE TABLE IF NOT EXISTS incident_findings (
    blob_id       INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    incident_rank INTEGER NOT NULL,
    anomaly_rank  INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (blob_id, anomaly_rank)
);
CREATE TABLE IF NOT EXISTS template_series (
    blob_id     INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    minute      TEXT    NOT NULL,
    template_id TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (blob_id, template_id, minute, level)
);
CREATE TABLE IF NOT EXISTS formats (
    blob_id        INTEGER NOT NULL REFERENCES results (blob_id) ON DELETE CASCADE,
    format         TEXT    NOT NULL,
    confidence     REAL    NOT NULL,
    lines          INTEGER NOT NULL,
    entries        INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    {_FORMATS_V2}
);
"""

# Covering indexes of the read layer (loglens/storage/read/queries.py): a selection of some blobs
# reads each blob's rows (blob_id first); every analysed blob at once reads whole tables in
# the order they are grouped by (template_id, minute), with no sort and no lookups.
_INDEXES = """
CREATE INDEX IF NOT EXISTS uploads_operator_received ON uploads (operator, received_at);
CREATE INDEX IF NOT EXISTS uploads_received ON uploads (received_at);
CREATE INDEX IF NOT EXISTS uploads_sha256 ON uploads (sha256, size, compression, status);
CREATE INDEX IF NOT EXISTS uploads_blob ON uploads (blob_id);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE INDEX IF NOT EXISTS templates_blob_level ON templates (blob_id, level, template_id, count);
CREATE INDEX IF NOT EXISTS templates_id ON templates (template_id, level, blob_id, count, line);
CREATE INDEX IF NOT EXISTS timeline_minute_level ON timeline (minute, level, blob_id, count);
CREATE INDEX IF NOT EXISTS rejected_samples_blob ON rejected_samples (blob_id, reason, line);
CREATE INDEX IF NOT EXISTS formats_blob ON formats (blob_id);
CREATE INDEX IF NOT EXISTS template_categories_category
    ON template_categories (category, blob_id, template_id);
CREATE INDEX IF NOT EXISTS template_categories_template
    ON template_categories (template_id, category, position, blob_id);
CREATE INDEX IF NOT EXISTS incident_findings_incident
    ON incident_findings (blob_id, incident_rank, position, anomaly_rank);
CREATE INDEX IF NOT EXISTS template_series_id
    ON template_series (template_id, minute, level, blob_id, count);
"""

# Each view: one row per upload and detail row, led by the upload's identity.
_UPLOAD = "u.id AS upload_id, u.operator, u.original_name, u.received_at, u.blob_id"
_VIEWS = f"""
CREATE VIEW IF NOT EXISTS upload_levels AS
SELECT {_UPLOAD}, d.level, d.count
FROM uploads AS u JOIN level_counts AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_templates AS
SELECT {_UPLOAD}, d.template_id, d.level, d.template, d.count, d.example, d.line
FROM uploads AS u JOIN templates AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_timeline AS
SELECT {_UPLOAD}, d.minute, d.level, d.count
FROM uploads AS u JOIN timeline AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_rejected AS
SELECT {_UPLOAD}, d.reason, d.count
FROM uploads AS u JOIN rejected AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_rejected_samples AS
SELECT {_UPLOAD}, d.reason, d.line, d.text
FROM uploads AS u JOIN rejected_samples AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_categories AS
SELECT {_UPLOAD}, d.category, d.count
FROM uploads AS u JOIN category_counts AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_template_categories AS
SELECT {_UPLOAD}, d.template_id, d.category
FROM uploads AS u JOIN template_categories AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_anomalies AS
SELECT {_UPLOAD}, d.id AS anomaly_id, d.kind, d.score, d.start_ts, d.end_ts, d.explanation,
       d.template_ids, d.flag_levels, d.examples, d.source
FROM uploads AS u JOIN anomalies AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_incidents AS
SELECT {_UPLOAD}, d.id AS incident_id, d.rank AS incident_rank, d.incident_key, d.title,
       d.score, d.start_ts, d.end_ts, d.source, d.kinds, d.categories, d.templates, d.findings
FROM uploads AS u JOIN incidents AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_template_series AS
SELECT {_UPLOAD}, d.minute, d.template_id, d.level, d.count
FROM uploads AS u JOIN template_series AS d ON d.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_results AS
SELECT {_UPLOAD}, r.entries, r.lines, r.bytes, r.continuation_lines, r.directive_lines,
       r.untimed_entries, r.filtered_lines, r.first_ts, r.last_ts, r.templates,
       r.templates_approximate
FROM uploads AS u JOIN results AS r ON r.blob_id = u.blob_id;

CREATE VIEW IF NOT EXISTS upload_status AS
SELECT {_UPLOAD}, u.size, u.sha256, u.compression, u.started_at, u.status, u.duplicate,
       u.error AS upload_error, j.id AS job_id, j.state AS job_state, j.attempts,
       j.error AS job_error, j.started_at AS job_started_at, j.finished_at AS job_finished_at
FROM uploads AS u LEFT JOIN jobs AS j ON j.blob_id = u.blob_id;
"""

# Alerts: one row per incident of an alert rule (loglens/storage/alerts/store.py, docs/alerts.md).
ALERT_TABLES = """
CREATE TABLE IF NOT EXISTS alerts (
    id              INTEGER PRIMARY KEY,
    rule            TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('threshold', 'anomaly')),
    subject         TEXT    NOT NULL DEFAULT '',
    blob_id         INTEGER NOT NULL REFERENCES blobs (id),
    upload_id       INTEGER REFERENCES uploads (id),
    source          TEXT    NOT NULL,
    last_blob_id    INTEGER NOT NULL REFERENCES blobs (id),
    state           TEXT    NOT NULL CHECK (state IN ('firing', 'resolved')),
    window_start    TEXT    NOT NULL,
    window_end      TEXT    NOT NULL,
    fired_at        TEXT    NOT NULL,
    resolved_at     TEXT,
    value           REAL    NOT NULL,
    message         TEXT    NOT NULL,
    delivery        TEXT    NOT NULL DEFAULT 'off'
                    CHECK (delivery IN ('off', 'pending', 'delivered')),
    delivered       TEXT    CHECK (delivered IN ('firing', 'resolved')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivery_error  TEXT,
    UNIQUE (rule, blob_id, window_start, subject)
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (rule, source, state, window_start);
CREATE INDEX IF NOT EXISTS alerts_delivery ON alerts (delivery, next_attempt_at);
CREATE INDEX IF NOT EXISTS alerts_fired ON alerts (state, fired_at);
"""

SCHEMA = _TABLES + _INDEXES + _VIEWS + ALERT_TABLES

# Version n -> n + 1. `SCHEMA` runs after them (IF NOT EXISTS throughout): it adds the tables,
# indexes and views an older file lacks; a migration changes what already exists.
MIGRATIONS: dict[int, str] = {
    1: "".join(f"ALTER TABLE formats ADD COLUMN {column};\n" for column in _FORMATS_V2_COLUMNS),
    # Directive and comment lines, counted since version 3 (before: entries or rejections).
    # The view is made again by the schema, with the column.
    2: "ALTER TABLE results ADD COLUMN directive_lines INTEGER NOT NULL DEFAULT 0;\n"
    "DROP VIEW IF EXISTS upload_results;\n",
    # Starts of a job that a stop or kill of the server interrupted, counted since version 4
    # (before, every start counted against the file).
    3: "ALTER TABLE jobs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;\n",
    # Incidents (related anomalies grouped), found since version 5: the schema adds their
    # tables; contents analysed before have none until analysed again.
    4: "",
    # Streams (uploads that grow while they are analysed), since version 6: every upload
    # made before is a file.
    5: "ALTER TABLE uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'file';\n"
    "ALTER TABLE uploads ADD COLUMN ended_at TEXT;\n",
}

# The hourly and daily rollups of a blob's minute timeline, written with it: a timeline
# over months of uploads reads a few rows per upload instead of one per minute.
ROLLUPS = (
    "INSERT INTO timeline_hour (blob_id, hour, level, count)"
    " SELECT blob_id, substr(minute, 1, 13) || ':00:00.000000Z', level, SUM(count)"
    " FROM timeline WHERE blob_id = ? GROUP BY 1, 2, 3",
    "INSERT INTO timeline_day (blob_id, day, level, count)"
    " SELECT blob_id, substr(hour, 1, 10) || 'T00:00:00.000000Z', level, SUM(count)"
    " FROM timeline_hour WHERE blob_id = ? GROUP BY 1, 2, 3",
)

# Sums over every blob with results of some of their detail tables (detail table -> sums,
# keyed like it without blob_id): kept by `Database.finish_job` as results come and go, so
# a query of everything reads one row per key instead of one per blob and key.
SUMMED = {
    "level_counts": ("level_counts_all", "level"),
    "templates": ("templates_all", "template_id, level"),
    "timeline": ("timeline_all", "minute, level"),
}
# Add (sign 1) or take away (sign -1) a blob's rows to or from the sums: params (sign,
# blob_id); then drop the keys left at zero (params: blob_id).
ADD_TO_SUMS = tuple(
    f"INSERT INTO {sums} ({keys}, count) SELECT {keys}, ? * count FROM {table}"
    f" WHERE blob_id = ? ON CONFLICT ({keys}) DO UPDATE SET count = {sums}.count + excluded.count"
    for table, (sums, keys) in SUMMED.items()
)
DROP_EMPTY_SUMS = tuple(
    f"DELETE FROM {sums} WHERE count = 0 AND ({keys}) IN"
    f" (SELECT {keys} FROM {table} WHERE blob_id = ?)"
    for table, (sums, keys) in SUMMED.items()
)

# Detail tables of a blob's results (their rows go when the results row goes).
RESULT_TABLES = (
    "level_counts",
    "templates",
    "timeline",
    "timeline_hour",
    "timeline_day",
    "rejected",
    "rejected_samples",
    "repaired",
    "filtered",
    "formats",
    "category_counts",
    "template_categories",
    "anomalies",
    "incidents",
    "incident_findings",
    "template_series",
)

# Tables whose rows are read back in insertion order (`rowid`): PostgreSQL gives them a
# `rowid` column of their own.
ROWID_TABLES = ("formats", "rejected_samples")
