"""The anomaly model: thresholds, what an anomaly is, and the text helpers of its
explanations (see the package docstring for what each threshold decides)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from loglens.analysis.vocabulary import ANOMALY_KINDS, LEVEL_ORDER, MICROS_PER_MINUTE

BUCKET_MINUTES = (1, 5, 15, 60, 360, 1440)
MIN_MEAN_PER_BUCKET = 20
MAX_BUCKETS = 20_000
HISTORY_BUCKETS = 30
MIN_HISTORY = 5
SPIKE_RATIO = 2.0
SPIKE_MIN_EXCESS = 5
SPIKE_SCORE = 5.0
SILENCE_MINUTES = 3
SILENCE_SHARE = 0.05
SILENCE_EXPECTED = 50
SHIFT_DIVERGENCE = 0.01
SHIFT_G = 40.0
SHIFT_RUN = 3
# A shift goes on through at most this many buckets of the usual mix in a row.
SHIFT_GAP = 2
SHIFT_NEW_NORMAL = 2 * HISTORY_BUCKETS
SHIFT_MIN_ENTRIES = 50
WARM_UP_SHARE = 0.2
RARE_MAX = 20
RARE_SHARE = 1e-3
RARE_MIN_ENTRIES = 1_000
# Budgets. A source where at least `CHATTY_TEMPLATES` templates (at any level), and more than
# `RARE_TEMPLATES_SHARE` of them, are rare, or as many have at most `RARE_TAIL` times a rare
# one's entries (a long tail), has no rare template worth telling. One where at
# least `CHATTY_TEMPLATES`, and more than `NEW_SHARE` of them, are new tells only of new
# templates with at least `NEW_MIN_ENTRIES` entries and more than most of its new ones have
# (see `new_templates`).
RARE_TEMPLATES_SHARE = 0.05
RARE_TAIL = 4
NEW_SHARE = 0.1
CHATTY_TEMPLATES = 10
# A template first seen after the warm-up is new only if, at its own rate since then, the
# chance that none of its entries came before is below this, divided by the number of the
# source's templates (one of many rare templates shows up late by chance).
NEW_BY_CHANCE = 0.01
NEW_MIN_ENTRIES = 3
# A template seen in at most this share of the buckets since it appeared is sporadic: a new
# burst of it, after an earlier one, is the source's habit (see `habitual_burst`).
HABIT_ACTIVE_SHARE = 0.5
# In a source that keeps producing new templates, a new one that shares at least this share
# of its leading words with a template known before is a variant of it, not news.
VARIANT_SHARE = 2 / 3
# The templates named as the cause of a spike: the largest shares of its excess, until
# they explain this much of it (at most `CAUSE_TEMPLATES`).
CAUSE_SHARE = 0.8
CAUSE_TEMPLATES = 3
MAX_ANOMALIES = 200

ERROR_LEVELS = ("ERROR", "CRITICAL")
# The levels of routine entries: a template with some of its entries at these is routine.
ROUTINE_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "NOTICE"})
KINDS = ANOMALY_KINDS


@dataclass(frozen=True)
class TemplateInfo:
    """What anomaly detection needs to know of a template."""

    id: str
    text: str
    count: int
    levels: frozenset[str]
    example: tuple[str, int] | None = None  # (file, line) of its earliest entry
    errors: int = 0  # entries at ERROR or CRITICAL


@dataclass(frozen=True)
class Anomaly:
    """Something unusual, where and when it is, and which entries it covers."""

    kind: str
    score: float
    start: int  # microseconds since the epoch, inclusive
    end: int  # exclusive
    explanation: str
    template_ids: tuple[str, ...] = ()  # the entries covered: of these templates (or any) …
    flag_levels: tuple[str, ...] = ()  # … at these levels (none: no entry is covered)
    examples: tuple[tuple[str, int], ...] = ()
    source: str = ""  # the file (or upload) it was found in; "" when there is one

    def to_dict(self) -> dict[str, Any]:
        """The anomaly as JSON-ready data (times in ISO-8601 UTC)."""
        return {
            "kind": self.kind,
            "score": round(self.score, 2),
            "start": iso(self.start),
            "end": iso(self.end),
            "explanation": self.explanation,
            "template_ids": list(self.template_ids),
            "source": self.source or None,
            "examples": [{"file": file, "line": line} for file, line in self.examples],
        }


@dataclass(frozen=True)
class History:
    """What earlier uploads of the same source tell: their templates and error share."""

    template_ids: frozenset[str] = frozenset()
    entries: int = 0
    errors: int = 0


@dataclass
class Context:
    """The inputs of one detection, bucketed."""

    bucket: int  # minutes
    frame: pl.DataFrame  # one row per bucket: index, start minute, counts per level
    series: pl.DataFrame  # minute, template_id, level, count
    templates: Mapping[str, TemplateInfo]  # by template id
    found: list[Anomaly] = field(default_factory=list)


def window(ctx: Context, run: pl.DataFrame) -> tuple[int, int]:
    """The start and end (microseconds) of a run of buckets."""
    start = int(run["start"][0]) * MICROS_PER_MINUTE
    end = (int(run["start"][-1]) + ctx.bucket) * MICROS_PER_MINUTE
    return start, end


def cause_name(ctx: Context, template_id: str, share: float) -> str:
    info = ctx.templates.get(template_id)
    text = quote(info) if info is not None else template_id
    return f"template {template_id} {text} ({share:.0%})"


def quote(info: TemplateInfo) -> str:
    text = info.text if len(info.text) <= 80 else info.text[:77] + "..."
    return f"'{text}'"


def examples(
    templates: Mapping[str, TemplateInfo], ids: Sequence[str]
) -> tuple[tuple[str, int], ...]:
    found = (templates[tid].example for tid in ids if tid in templates)
    return tuple(example for example in found if example is not None)


def worst(levels: Collection[str]) -> str:
    ranked = [level for level in LEVEL_ORDER[:-1] if level in levels]
    return ranked[-1] if ranked else "UNKNOWN"


def clock(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M")


def iso(micros: int) -> str:
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
