"""Inject incidents with known time windows into a generated log4j log.

    truth = write_log(base, "log4j", lines=2_000_000, seed=7, mess=BASE_MESS,
                      record_templates=True, pauses=False)
    incidents = inject(base, truth, out, seed=7)
    Path("incidents.json").write_text(incidents_to_json(incidents))

The base is a log of the project's generator (format log4j, no damaged lines, stack traces
kept); its truth must carry the per-entry templates. With `pauses=False` its rate is steady;
with the generator's natural pauses (at most ~67 s each) it is bursty, but no pause is as
long as the shortest silence of `IncidentSettings.silence_minutes`, and a silence's truth
is its whole gap, a pause next to it included.

Kinds, placed at random (by `seed`) in the middle of the log, `spacing_minutes` apart:

- ``error_spike``: extra entries of one existing ERROR template, `spike_factor` times the
  log's usual ERROR+CRITICAL rate (several to hundreds of times that template's own rate).
- ``new_template``: entries of an ERROR message shape the generator never writes, drawn
  in a window; the truth runs from the first of them to the last.
- ``silence``: every entry of the window removed; the truth is the whole gap, from the last
  entry before it to the first entry after it.
- ``level_shift``: a share (`shift_share`) of the INFO entries of the window replaced by
  WARNING entries copied from earlier in the log, so the volume stays as it was.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loglens.synth.model import Mess, Truth
from loglens.synth.templates import message_templates

KINDS = ("error_spike", "new_template", "silence", "level_shift")
# What the base log is made with: entries and stack traces only, so that the n-th stamped
# line is the n-th entry of the truth's `entry_templates`.
BASE_MESS = Mess(0.0, 0.0, 0.0, 0.0, 0.0, tracebacks=0.3)
BASE_FORMAT = "log4j"
_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
_STAMP_LENGTH = 23
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROS_PER_MINUTE = 60_000_000
_SAMPLES_PER_TEMPLATE = 256
_WARNING_SAMPLES = 4096
# Message shapes the generator never writes: their words are in none of its vocabularies.
# (marker, logger, text with {n} for a number and {x} for a hex id); the marker is the
# constant start of the message, which any template miner keeps.
NOVEL_SHAPES: tuple[tuple[str, str, str], ...] = (
    ("Quorum arbiter", "io.quarry.consensus.Arbiter", "Quorum arbiter {n} rejected ballot {x}"),
    ("Thermal throttle", "io.quarry.hw.Thermals", "Thermal throttle engaged on socket {n}"),
    ("Ledger reconciliation", "io.quarry.billing.Ledger", "Ledger reconciliation lost {n} rows"),
    ("Gossip membership", "io.quarry.mesh.Gossip", "Gossip membership diverged in zone {n}"),
    ("Watchdog tripped", "io.quarry.runtime.Watchdog", "Watchdog tripped: reactor stalled {n}"),
    ("Enclave attestation", "io.quarry.tee.Enclave", "Enclave attestation refused quote {x}"),
    ("Firmware rollback", "io.quarry.hw.Firmware", "Firmware rollback vetoed for blade {n}"),
    ("Tombstone sweep", "io.quarry.gc.Tombstones", "Tombstone sweep overran epoch {n}"),
)


@dataclass(frozen=True)
class IncidentSettings:
    """How many incidents of each kind, how long and how strong; ranges are drawn uniformly."""

    per_kind: int = 4
    spike_minutes: tuple[float, float] = (2.0, 10.0)
    # Extra ERROR entries per minute, as a multiple of the log's usual ERROR+CRITICAL rate.
    spike_factor: tuple[float, float] = (1.5, 6.0)
    new_template_minutes: tuple[float, float] = (5.0, 30.0)
    new_template_per_minute: tuple[float, float] = (0.2, 5.0)
    silence_minutes: tuple[float, float] = (5.0, 15.0)
    shift_minutes: tuple[float, float] = (15.0, 45.0)
    # Share of the INFO entries in the window that become WARNING entries.
    shift_share: tuple[float, float] = (0.1, 0.3)
    # Incidents start and end within these shares of the log's time span …
    earliest: float = 0.25
    latest: float = 0.95
    # … with at least this much quiet time between one incident's end and the next start.
    spacing_minutes: float = 30.0

    def __post_init__(self) -> None:
        """Reject empty or reversed ranges and a placement window outside the log."""
        if not 0 <= self.per_kind <= len(NOVEL_SHAPES):
            raise ValueError(
                f"per_kind is {self.per_kind}, it must be between 0 and {len(NOVEL_SHAPES)}"
            )
        ranges = {
            "spike_minutes": self.spike_minutes,
            "spike_factor": self.spike_factor,
            "new_template_minutes": self.new_template_minutes,
            "new_template_per_minute": self.new_template_per_minute,
            "silence_minutes": self.silence_minutes,
            "shift_minutes": self.shift_minutes,
            "shift_share": self.shift_share,
        }
        for name, (low, high) in ranges.items():
            if not 0 < low <= high:
                raise ValueError(f"{name} is ({low}, {high}); give 0 < low <= high")
        if self.shift_share[1] > 1:
            raise ValueError(f"shift_share is {self.shift_share}, a share must be at most 1")
        if not 0 <= self.earliest < self.latest <= 1:
            raise ValueError(
                f"earliest is {self.earliest} and latest {self.latest};"
                " give 0 <= earliest < latest <= 1"
            )


@dataclass(frozen=True)
class Incident:
    """One injected incident: its kind, its window (microseconds) and what was done."""

    kind: str
    start: int  # inclusive
    end: int  # exclusive
    detail: str
    # The constant start of the injected message (new_template), or the base template's
    # masked text (error_spike); "" for the others.
    template: str = ""
    entries: int = 0  # entries added, removed (silence) or changed (level_shift)
    first_line: int = 0  # line number of the first injected or changed entry (0: none)
    # How strong: spike factor, new entries a minute, shift share, silence minutes.
    strength: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """The incident as JSON-ready data (times in ISO-8601 UTC)."""
        return {
            "kind": self.kind,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "detail": self.detail,
            "template": self.template,
            "entries": self.entries,
            "first_line": self.first_line,
            "strength": round(self.strength, 3),
        }


def incidents_to_json(incidents: list[Incident]) -> str:
    """The incidents as a JSON document, in time order."""
    return json.dumps([incident.to_dict() for incident in incidents], indent=2) + "\n"


@dataclass
class _Plan:
    """One incident being injected: its window, as instants and as log4j stamps."""

    kind: str
    start: int
    end: int
    strength: float  # spike factor, new entries per minute, or shift share
    group: int = -1  # base template of a spike
    shape: int = -1  # novel shape of a new template
    entries: int = 0
    first_line: int = 0
    gap_start: int = 0  # silence: the last entry before it
    gap_end: int = 0  # silence: the first entry after it
    first_at: int = 0  # new template: its first entry
    last_at: int = 0  # new template: its last entry
    start_stamp: str = field(init=False)
    end_stamp: str = field(init=False)

    def __post_init__(self) -> None:
        self.start_stamp, self.end_stamp = _stamp(self.start), _stamp(self.end)


def inject(
    base: Path,
    truth: Truth,
    out: Path,
    seed: int,
    settings: IncidentSettings | None = None,
) -> list[Incident]:
    """Write `base` with incidents into `out`; return the incidents in time order."""
    settings = settings or IncidentSettings()
    if truth.format != BASE_FORMAT or truth.entry_templates is None:
        raise ValueError(
            f"the base must be a {BASE_FORMAT} log written with record_templates=True"
            f" (got format {truth.format}, templates recorded: {truth.entry_templates is not None})"
        )
    if truth.first_timestamp is None or truth.last_timestamp is None:
        raise ValueError("the base log has no entries; generate a longer one")
    rng = random.Random(f"incidents/{seed}")
    first = _micros(truth.first_timestamp)
    last = _micros(truth.last_timestamp)
    plans = _place(rng, first, last, settings)
    _choose(rng, plans, truth, (last - first) / _MICROS_PER_MINUTE)
    _write(rng, base, out, plans, truth.entry_templates)
    return [_incident(plan) for plan in plans]


def _place(rng: random.Random, first: int, last: int, settings: IncidentSettings) -> list[_Plan]:
    """Draw each incident's kind, length and strength, and spread them over the log."""
    ranges = {
        "error_spike": (settings.spike_minutes, settings.spike_factor),
        "new_template": (settings.new_template_minutes, settings.new_template_per_minute),
        "silence": (settings.silence_minutes, (1.0, 1.0)),
        "level_shift": (settings.shift_minutes, settings.shift_share),
    }
    kinds = [kind for kind in KINDS for _ in range(settings.per_kind)]
    rng.shuffle(kinds)
    drawn = []
    for kind in kinds:
        minutes, strengths = ranges[kind]
        length = round(rng.uniform(*minutes) * _MICROS_PER_MINUTE)
        drawn.append((kind, length, rng.uniform(*strengths)))
    span = last - first
    room_start = first + round(settings.earliest * span)
    room = round((settings.latest - settings.earliest) * span)
    spacing = round(settings.spacing_minutes * _MICROS_PER_MINUTE)
    slack = room - sum(length for _, length, _ in drawn) - spacing * max(len(drawn) - 1, 0)
    if slack < 0:
        raise ValueError(
            f"the log spans {span / _MICROS_PER_MINUTE:.0f} min, too short for"
            f" {len(drawn)} incidents {settings.spacing_minutes:.0f} min apart; generate more"
            " lines or lower per_kind"
        )
    cuts = sorted(rng.uniform(0, slack) for _ in drawn)
    plans, at, used = [], room_start, 0.0
    for (kind, length, strength), cut in zip(drawn, cuts, strict=True):
        at += round(cut - used)
        used = cut
        plans.append(_Plan(kind, at, at + length, strength))
        at += length + spacing
    return plans


def _choose(rng: random.Random, plans: list[_Plan], truth: Truth, minutes: float) -> None:
    """Pick each spike's base template and each new template's shape; size the bursts."""
    assert truth.entry_templates is not None
    counts: dict[int, int] = {}
    for group in truth.entry_templates:
        counts[group] = counts.get(group, 0) + 1
    levels = {template.group: template.level for template in message_templates()}
    # Common enough to have been seen well before any incident, yet one of many.
    errors = sorted(
        group
        for group, count in counts.items()
        if levels.get(group) == "ERROR" and count >= 0.001 * len(truth.entry_templates)
    )
    rng.shuffle(errors)
    shapes = list(range(len(NOVEL_SHAPES)))
    rng.shuffle(shapes)
    error_rate = (truth.levels["ERROR"] + truth.levels["CRITICAL"]) / max(minutes, 1.0)
    for plan in plans:
        length = (plan.end - plan.start) / _MICROS_PER_MINUTE
        if plan.kind == "error_spike":
            if not errors:
                raise ValueError("the base log has no common ERROR template to spike")
            plan.group = errors.pop() if len(errors) > 1 else errors[0]
            plan.entries = round(plan.strength * error_rate * length)
        elif plan.kind == "new_template":
            plan.shape = shapes.pop()
            plan.entries = max(1, round(plan.strength * length))


def _write(
    rng: random.Random, base: Path, out: Path, plans: list[_Plan], groups: list[int]
) -> None:
    """Copy `base` to `out`, adding, removing and changing entries as the plans say.

    Plans are in time order and never overlap, so one index follows the current one."""
    samples: dict[int, list[str]] = {p.group: [] for p in plans if p.kind == "error_spike"}
    warnings: list[str] = []
    added = _additions(rng, plans)
    pending = current = entry = line_number = 0
    dropping = False
    previous = ""  # the stamp of the last entry written
    with (
        base.open(encoding="utf-8", newline="\n") as source,
        out.open("w", encoding="utf-8", newline="\n") as sink,
    ):
        for line in source:
            if not _STAMP.match(line):  # a stack trace line goes with its entry
                if not dropping:
                    line_number += 1
                    sink.write(line)
                continue
            stamp = line[:_STAMP_LENGTH]
            while pending < len(added) and added[pending][0] <= stamp:
                line_number += 1
                sink.write(_added(rng, added[pending], samples, line_number))
                pending += 1
            while current < len(plans) and stamp >= plans[current].end_stamp:
                _close(plans[current], previous, stamp)
                current += 1
            body = line[_STAMP_LENGTH + 1 :]
            group = groups[entry]
            entry += 1
            if group in samples and len(samples[group]) < _SAMPLES_PER_TEMPLATE:
                samples[group].append(body)
            if body.startswith("WARN ") and len(warnings) < _WARNING_SAMPLES:
                warnings.append(body)
            plan = plans[current] if current < len(plans) else None
            dropping = False
            if plan is not None and stamp >= plan.start_stamp:
                if plan.kind == "silence":
                    dropping = True
                    plan.entries += 1
                    continue
                if (
                    plan.kind == "level_shift"
                    and body.startswith("INFO ")
                    and rng.random() < plan.strength
                ):
                    line = f"{stamp} {rng.choice(warnings)}"
                    plan.entries += 1
                    plan.first_line = plan.first_line or line_number + 1
            previous = stamp
            line_number += 1
            sink.write(line)
        for item in added[pending:]:
            line_number += 1
            sink.write(_added(rng, item, samples, line_number))
    for plan in plans[current:]:
        _close(plan, previous, "")


def _added(
    rng: random.Random, item: tuple[str, _Plan, str], samples: dict[int, list[str]], line: int
) -> str:
    """The line of an added entry: its text, or a copy of an earlier entry of its template."""
    stamp, plan, text = item
    plan.first_line = plan.first_line or line
    if not text:
        if not samples[plan.group]:
            raise RuntimeError(
                f"template {plan.group} had no entry before its spike at {_iso(plan.start)};"
                " place incidents later (IncidentSettings.earliest)"
            )
        text = rng.choice(samples[plan.group])
    return f"{stamp} {text}"


def _close(plan: _Plan, previous: str, following: str) -> None:
    """Record a silence's true gap: from the last entry before it to the first after it."""
    if plan.kind == "silence":
        plan.gap_start = _parse_stamp(previous) if previous else plan.start
        plan.gap_end = _parse_stamp(following) if following else plan.end


def _additions(rng: random.Random, plans: list[_Plan]) -> list[tuple[str, _Plan, str]]:
    """Every added entry as (stamp, plan, line text or "" for a copy of a base entry)."""
    added: list[tuple[str, _Plan, str]] = []
    for plan in plans:
        if plan.kind == "error_spike":
            added += ((_stamp(at), plan, "") for at in _times(rng, plan))
        elif plan.kind == "new_template":
            _, logger, text = NOVEL_SHAPES[plan.shape]
            times = sorted(_times(rng, plan))
            plan.first_at, plan.last_at = times[0], times[-1]
            for at in times:
                message = text.format(n=rng.randrange(1, 4096), x=f"{rng.getrandbits(32):08x}")
                added.append((_stamp(at), plan, f"ERROR [main] {logger}: {message}\n"))
    added.sort(key=lambda item: item[0])
    return added


def _times(rng: random.Random, plan: _Plan) -> Iterator[int]:
    """`plan.entries` instants drawn uniformly in the plan's window."""
    return (rng.randrange(plan.start, plan.end) for _ in range(plan.entries))


def _incident(plan: _Plan) -> Incident:
    """The truth of one plan once written."""
    length = (plan.end - plan.start) / _MICROS_PER_MINUTE
    if plan.kind == "error_spike":
        template = _masked(plan.group)
        detail = (
            f"{plan.entries:,} extra ERROR entries of one template in {length:.1f} min,"
            f" {plan.strength:.1f}x the usual ERROR+CRITICAL rate"
        )
        return Incident(
            plan.kind,
            plan.start,
            plan.end,
            detail,
            template,
            plan.entries,
            plan.first_line,
            plan.strength,
        )
    if plan.kind == "new_template":
        marker = NOVEL_SHAPES[plan.shape][0]
        detail = f"{plan.entries:,} entries of a new ERROR message in {length:.1f} min"
        # It starts when it can first be seen: at its first entry.
        return Incident(
            plan.kind,
            plan.first_at,
            plan.last_at + 1,
            detail,
            marker,
            plan.entries,
            plan.first_line,
            plan.strength,
        )
    if plan.kind == "silence":
        gap = (plan.gap_end - plan.gap_start) / _MICROS_PER_MINUTE
        detail = f"no entry for {gap:.1f} min ({plan.entries:,} removed)"
        return Incident(
            plan.kind, plan.gap_start, plan.gap_end, detail, "", plan.entries, 0, round(gap, 2)
        )
    detail = (
        f"{plan.strength:.0%} of INFO entries turned WARNING for {length:.1f} min"
        f" ({plan.entries:,} entries)"
    )
    return Incident(
        plan.kind, plan.start, plan.end, detail, "", plan.entries, plan.first_line, plan.strength
    )


def _masked(group: int) -> str:
    for template in message_templates():
        if template.group == group:
            return template.masked()
    return ""


def _stamp(micros: int) -> str:
    """The log4j stamp of an instant: ``2024-01-30 12:00:00,123``."""
    instant = _EPOCH + timedelta(microseconds=micros)
    return f"{instant:%Y-%m-%d %H:%M:%S},{instant.microsecond // 1000:03d}"


def _parse_stamp(stamp: str) -> int:
    instant = datetime.strptime(stamp + "000", "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
    return _micros(instant.isoformat())


def _micros(iso: str) -> int:
    """Microseconds since the epoch of an ISO-8601 instant with an offset."""
    delta = datetime.fromisoformat(iso) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _iso(micros: int) -> str:
    instant = _EPOCH + timedelta(microseconds=micros)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
