"""Learning where a JSON log keeps its fields, from a sample of its lines.

JSON loggers agree on little: journald writes ``__REALTIME_TIMESTAMP`` (microseconds, as a
string) and ``PRIORITY`` ("6"), MongoDB ``{"t": {"$date": ...}, "s": "W"}``, OpenTelemetry
``timeUnixNano`` and ``severityNumber`` (1-24), pino ``time`` (milliseconds) and ``level`` (30).
Rather than list products, ``learn_json_paths`` parses a sample (per-line Python is fine on a
sample, never on the whole file), flattens each object to its leaves and picks for each field
the leaves whose values look like that field across the sample:

- ``ts``: text that ``timestamps.parse_column`` reads, or an epoch in s, ms, µs or ns between
  2000 and 2100; names that say time rank first, and an unnamed leaf must fill most objects
  with stamps that mostly rise;
- ``level``: level spellings, or integers on one of ``LEVEL_SCALES`` under a name that says
  level; such names rank first, and text ranks before numbers;
- ``message`` and ``component``: the known names (``MESSAGE_NAMES``, ``COMPONENT_NAMES``)
  anywhere in the tree; failing those, the message is the string leaf whose values read most
  like text (long, varied, with spaces).

Ranked leaves are taken while each still fills objects that the earlier ones leave empty, so a
file that mixes two layouts gets both; the parser reads them in order and keeps the first found.
The result goes into ``LogFormat.json_paths`` as (field, path) pairs in the syntax of polars'
``str.json_path_match`` (``$['t']['$date']``), with two pseudo-fields: (``LEVEL_SCALE``,
"syslog" | "bunyan" | "otlp") when levels are numbers, and (``TS_NANOS``, path) when the
timestamp is whole epoch seconds with the nanoseconds in a sibling leaf (Log4j2's ``instant``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import TypeAlias

import polars as pl

from loglens.analysis.formats import FormatKind, LogFormat
from loglens.analysis.levels import normalize_levels
from loglens.analysis.timestamps import parse_column

TS = "ts"
LEVEL = "level"
COMPONENT = "component"
MESSAGE = "message"
FIELDS = (TS, LEVEL, COMPONENT, MESSAGE)
# Pseudo-fields of json_paths: the numeric level scale, and the nanoseconds of an epoch second.
LEVEL_SCALE = "level_scale"
TS_NANOS = "ts_nanos"

_SEVERITIES = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Numeric levels, each on its own scale: syslog severities (RFC 5424), bunyan/pino (10-60, with
# pino's custom levels in between), OpenTelemetry severityNumber (four steps per level).
LEVEL_SCALES: Mapping[str, Mapping[int, str]] = {
    "syslog": dict(
        enumerate(
            ("CRITICAL", "CRITICAL", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
        )
    ),
    "bunyan": {value: _SEVERITIES[value // 10 - 1] for value in range(10, 61)},
    "otlp": {value: _SEVERITIES[(value - 1) // 4] for value in range(1, 25)},
}

# Lower-case leaf names, most likely first (the last two are GELF's).
_MESSAGE_WORDS = "message msg @message log text body textpayload event short_message full_message"
MESSAGE_NAMES = tuple(_MESSAGE_WORDS.split(" "))
_COMPONENT_WORDS = (
    "logger loggername logger_name component module syslog_identifier _comm name c source app "
    "service"
)
COMPONENT_NAMES = tuple(_COMPONENT_WORDS.split(" "))
# Words of a leaf name (split at case changes and punctuation) that say what it holds.
_TIME_WORDS = frozenset(
    {"time", "timestamp", "ts", "t", "date", "datetime", "instant", "epoch", "at", "when"}
)
_DURATION_WORDS = frozenset(
    {"monotonic", "uptime", "elapsed", "duration", "took", "latency", "response", "delay"}
)
_LEVEL_WORDS = frozenset({"level", "severity", "priority", "lvl", "loglevel", "levelname", "s"})
_NANO_WORDS = frozenset({"nano", "nanos", "nanoseconds"})
# OTLP wraps values as {"stringValue": ...}: such a leaf goes by its parent's name.
_VALUE_WRAPPER = "stringvalue"

_SAMPLE_LINES = 500
_MAX_DEPTH = 8
_MAX_LEAVES = 2000  # distinct paths in a sample, to bound the work on very wide objects
_MAX_PATHS = 4  # paths kept per field
_MIN_FIT = 0.8  # share of a leaf's values that must look like the field
_MIN_RISING = 0.9  # share of an unnamed timestamp leaf's steps that must not go back
# Plausible epochs lie in 2000..2100; the unit follows from the magnitude as in timestamps.
_EPOCH_SECONDS = (946_684_800.0, 4_102_444_800.0)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_INTEGER = re.compile(r"[0-9]{1,2}")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_PATH_KEY = re.compile(r"\['((?:[^'\\]|\\.)*)'\]")
# A level with a verbosity digit (MongoDB's D1..D5): the letters are the level.
_VERBOSITY = r"^([A-Za-z]+)[1-9]$"

_Value: TypeAlias = str | int | float


@dataclass
class _Leaf:
    """One path to a scalar in the sample's objects, and its value in each object that has it."""

    keys: tuple[str, ...]
    order: int
    values: dict[int, _Value] = field(default_factory=dict)


@dataclass(frozen=True)
class _Candidate:
    """A leaf that fits a field, how it ranks (lower first), and the objects it fills."""

    rank: tuple[float, ...]
    leaf: _Leaf
    fills: frozenset[int]
    scale: str | None = None  # the scale of a level leaf's numbers


def learn_json_format(sample: Sequence[str], base: LogFormat) -> LogFormat:
    """Return ``base`` with the JSON paths learned from ``sample``, or ``base`` if none."""
    if base.kind is not FormatKind.JSON:
        return base
    learned = learn_json_paths(sample)
    return dataclasses.replace(base, json_paths=learned, learned=True) if learned else base


def learn_json_paths(sample: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Learn where the sample's JSON objects keep ts, level, component and message."""
    objects = _objects(sample)
    if not objects:
        return ()
    leaves = _leaves(objects)
    total = len(objects)
    ts = _ts_leaves(leaves, total)
    levels, scale = _level_leaves(leaves, total, taken=ts)
    messages = _named_leaves(leaves, MESSAGE_NAMES, taken=ts + levels)
    if not messages:
        messages = _text_leaves(leaves, total, taken=ts + levels)
    components = _named_leaves(leaves, COMPONENT_NAMES, taken=ts + levels + messages)
    paths = [(TS, json_path(leaf.keys)) for leaf in ts]
    nanos = _nanos_leaf(ts[0], leaves) if ts else None
    if nanos is not None:
        paths.append((TS_NANOS, json_path(nanos.keys)))
    paths += [(LEVEL, json_path(leaf.keys)) for leaf in levels]
    if scale is not None:
        paths.append((LEVEL_SCALE, scale))
    paths += [(COMPONENT, json_path(leaf.keys)) for leaf in components]
    paths += [(MESSAGE, json_path(leaf.keys)) for leaf in messages]
    return tuple(paths)


def json_path(keys: Sequence[str]) -> str:
    """The ``str.json_path_match`` path of nested keys: ``$['t']['$date']``."""
    return "$" + "".join("['" + key.replace("'", "\\'") + "']" for key in keys)


def path_keys(path: str) -> tuple[str, ...]:
    """The keys of a path written by ``json_path``."""
    return tuple(key.replace("\\'", "'") for key in _PATH_KEY.findall(path))


def field_paths(json_paths: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """The learned paths of each field, in the order they are to be tried."""
    paths: dict[str, list[str]] = {}
    for name, path in json_paths:
        if name in FIELDS:
            paths.setdefault(name, []).append(path)
    return paths


def learned_setting(json_paths: Sequence[tuple[str, str]], name: str) -> str | None:
    """The value of a pseudo-field (``LEVEL_SCALE``, ``TS_NANOS``), or None."""
    return next((value for key, value in json_paths if key == name), None)


def read_levels(level: pl.Series, scale: str | None) -> pl.Series:
    """Level text of a learned level column: numbers named on ``scale``, verbosity dropped."""
    text = pl.col("level").str.strip_chars()
    spelled = text.str.replace(_VERBOSITY, "${1}")
    if scale is not None:
        number = text.cast(pl.Int64, strict=False)
        named = number.replace_strict(LEVEL_SCALES[scale], default=None, return_dtype=pl.String)
        spelled = pl.when(number.is_not_null()).then(named).otherwise(spelled)
    return level.to_frame("level").select(spelled).to_series()


def read_epochs(ts: pl.Series, nanos: pl.Series | None = None) -> pl.Series:
    """Timestamp text with integer epochs made exact to the microsecond.

    A nanosecond epoch (18 or 19 digits) loses its last three digits, which leaves the
    microseconds; whole seconds with the nanoseconds apart get their first six digits. Both
    are read as microseconds, without the rounding of a 64-bit float.
    """
    frame = ts.to_frame("ts")
    stamp = pl.col("ts")
    exact = pl.when(stamp.str.contains(r"^[0-9]{18,19}$")).then(stamp.str.head(-3)).otherwise(stamp)
    if nanos is not None:
        frame = frame.with_columns(nanos=nanos)
        fraction = pl.col("nanos")
        split = stamp.str.contains(r"^[0-9]{9,10}$") & fraction.str.contains(r"^[0-9]{1,9}$")
        exact = pl.when(split).then(stamp + fraction.str.zfill(9).str.head(6)).otherwise(exact)
    return frame.select(exact.alias("ts")).to_series()


def _objects(sample: Sequence[str]) -> list[dict[str, object]]:
    """The JSON objects among the sample's lines."""
    objects = []
    for line in sample[:_SAMPLE_LINES]:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            continue  # a damaged or cut object: the parser salvages what it can
        if isinstance(value, dict):
            objects.append(value)
    return objects


def _leaves(objects: Sequence[dict[str, object]]) -> list[_Leaf]:
    """Every path to a string or number in the objects, in order of first appearance."""
    found: dict[tuple[str, ...], _Leaf] = {}
    for index, obj in enumerate(objects):
        for keys, value in _flatten(obj, ()):
            leaf = found.get(keys)
            if leaf is None:
                if len(found) >= _MAX_LEAVES:
                    continue
                leaf = found[keys] = _Leaf(keys, len(found))
            leaf.values[index] = value
    return list(found.values())


def _flatten(
    obj: dict[str, object], prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], _Value]]:
    for key, value in obj.items():
        if "\\" in key:
            continue  # polars' JSON paths cannot spell a backslash in a key
        keys = (*prefix, key)
        if isinstance(value, dict):
            if len(keys) < _MAX_DEPTH:
                yield from _flatten(value, keys)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            yield keys, value


def _words(key: str) -> frozenset[str]:
    """The lower-case words of a key: ``EdgeStartTimestamp`` -> edge, start, timestamp."""
    return frozenset(word.lower() for word in _WORD.findall(key))


def _ts_leaves(leaves: Sequence[_Leaf], total: int) -> list[_Leaf]:
    """The leaves that hold timestamps, best first."""
    instants = _instants(leaves)
    candidates = []
    for leaf in leaves:
        stamps = instants.get(leaf.order, {})
        if not stamps or len(stamps) < _MIN_FIT * len(leaf.values):
            continue
        named = _time_named(leaf.keys)
        if not named and (len(stamps) < total / 2 or not _mostly_rising(stamps)):
            continue
        rank = (-named, -len(stamps), leaf.order)
        candidates.append(_Candidate(rank, leaf, frozenset(stamps)))
    return [candidate.leaf for candidate in _cover(candidates)]


def _time_named(keys: tuple[str, ...]) -> int:
    """2 if the leaf's name says time, 1 if a parent's does (``timestamp.seconds``), else 0."""
    for rank, key in ((2, keys[-1]), *((1, parent) for parent in keys[:-1])):
        words = _words(key)
        if words & _TIME_WORDS and not words & _DURATION_WORDS:
            return rank
    return 0


def _instants(leaves: Sequence[_Leaf]) -> dict[int, dict[int, float]]:
    """Per leaf, the objects whose value is a timestamp, with its instant in epoch seconds."""
    found: dict[int, dict[int, float]] = {}
    texts: list[str] = []
    owners: list[tuple[int, int]] = []
    for leaf in leaves:
        for index, value in leaf.values.items():
            number = _number(value)
            if number is not None:
                seconds = _epoch_seconds(number)
                if seconds is not None:
                    found.setdefault(leaf.order, {})[index] = seconds
            elif (
                isinstance(value, str) and 6 <= len(value) <= 64 and any(c.isdigit() for c in value)
            ):
                texts.append(value)
                owners.append((leaf.order, index))
    if texts:
        # One vectorised parse of all candidate text, with every shape loglens reads.
        parsed = parse_column(pl.Series(texts, dtype=pl.String), None, "UTC", datetime.now(UTC))
        for (order, index), instant in zip(owners, parsed.to_list(), strict=True):
            if instant is not None:
                found.setdefault(order, {})[index] = instant.timestamp()
    return found


def _number(value: _Value) -> float | None:
    """The value as a number, if it is one or a string of one."""
    if isinstance(value, str):
        return float(value) if _NUMBER.fullmatch(value) else None
    return float(value)


def _epoch_seconds(value: float) -> float | None:
    """Seconds since 1970 of an epoch in s, ms, µs or ns, if it falls in 2000..2100."""
    magnitude = abs(value)
    if magnitude < 1e11:
        seconds = value
    elif magnitude < 1e14:
        seconds = value / 1e3
    elif magnitude < 1e17:
        seconds = value / 1e6
    else:
        seconds = value / 1e9
    low, high = _EPOCH_SECONDS
    return seconds if low <= seconds < high else None


def _mostly_rising(stamps: dict[int, float]) -> bool:
    """Tell whether stamps in object order mostly rise, as a log's do and random numbers don't."""
    values = [stamps[index] for index in sorted(stamps)]
    steps = len(values) - 1
    rising = sum(1 for a, b in pairwise(values) if b >= a)
    return steps == 0 or rising >= _MIN_RISING * steps


def _nanos_leaf(ts: _Leaf, leaves: Sequence[_Leaf]) -> _Leaf | None:
    """The sibling holding the nanoseconds of a timestamp written as whole epoch seconds."""
    whole_seconds = all(
        (isinstance(value, int) or (isinstance(value, str) and value.isdigit()))
        and float(value) < 1e11
        for value in ts.values.values()
    )
    if not whole_seconds:
        return None
    for leaf in leaves:
        if (
            leaf is not ts
            and leaf.keys[:-1] == ts.keys[:-1]
            and _words(leaf.keys[-1]) & _NANO_WORDS
            and all(isinstance(v, int) and 0 <= v < 10**9 for v in leaf.values.values())
        ):
            return leaf
    return None


def _level_leaves(
    leaves: Sequence[_Leaf], total: int, taken: Sequence[_Leaf]
) -> tuple[list[_Leaf], str | None]:
    """The leaves that hold levels, best first, and the scale of their numbers if any."""
    spelled = _spelled_levels(leaves)
    candidates = []
    for leaf in _free(leaves, taken):
        named = bool(_words(leaf.keys[-1]) & _LEVEL_WORDS)
        texts = spelled.get(leaf.order, {})
        numbers = {
            index: int(value)
            for index, value in leaf.values.items()
            if isinstance(value, int) or (isinstance(value, str) and _INTEGER.fullmatch(value))
        }
        scale = _scale(set(numbers.values()), leaf.keys[-1]) if named and numbers else None
        if named:
            fills = set(texts) | (set(numbers) if scale else set())
        else:
            # Without a level name only words count: a letter or digit may be anything.
            fills = {index for index, text in texts.items() if len(text) >= 3}
            if len(fills) < total / 2:
                continue
        if not fills or len(fills) < _MIN_FIT * len(leaf.values):
            continue
        numeric = scale is not None and len(numbers) > len(texts)
        rank = (-int(named), int(numeric), -len(fills), leaf.order)
        candidates.append(_Candidate(rank, leaf, frozenset(fills), scale if numeric else None))
    chosen = _cover(candidates)
    scale = next((candidate.scale for candidate in chosen if candidate.scale), None)
    return [candidate.leaf for candidate in chosen], scale


def _spelled_levels(leaves: Sequence[_Leaf]) -> dict[int, dict[int, str]]:
    """Per leaf, the objects whose value is a level spelling (not a number), with that text."""
    texts: list[str] = []
    owners: list[tuple[int, int]] = []
    for leaf in leaves:
        for index, value in leaf.values.items():
            if isinstance(value, str) and 1 <= len(value) <= 16 and not _NUMBER.fullmatch(value):
                texts.append(value)
                owners.append((leaf.order, index))
    found: dict[int, dict[int, str]] = {}
    if not texts:
        return found
    levels = normalize_levels(read_levels(pl.Series(texts, dtype=pl.String), None))
    for (order, index), text, level in zip(owners, texts, levels.to_list(), strict=True):
        if level is not None:
            found.setdefault(order, {})[index] = text
    return found


def _scale(values: set[int], key: str) -> str | None:
    """The numeric level scale that all the values fit, if any."""
    if "number" in _words(key) and values <= set(LEVEL_SCALES["otlp"]):
        return "otlp"  # OTLP's severityNumber, even when only its low values occur
    if values <= set(LEVEL_SCALES["syslog"]):
        return "syslog"
    if values <= set(range(10, 61, 10)):
        return "bunyan"
    if values <= set(LEVEL_SCALES["otlp"]):
        return "otlp"
    if values <= set(LEVEL_SCALES["bunyan"]):
        return "bunyan"  # pino's custom levels lie between bunyan's
    return None


def _named_leaves(
    leaves: Sequence[_Leaf], names: Sequence[str], taken: Sequence[_Leaf]
) -> list[_Leaf]:
    """The string leaves under one of ``names`` (lower case), best first."""
    candidates = []
    for leaf in _free(leaves, taken):
        key = leaf.keys[-1].lower()
        if key == _VALUE_WRAPPER and len(leaf.keys) > 1:
            key = leaf.keys[-2].lower()
        fills = _strings(leaf)
        if key in names and fills:
            rank = (names.index(key), len(leaf.keys), -len(fills), leaf.order)
            candidates.append(_Candidate(rank, leaf, fills))
    return [candidate.leaf for candidate in _cover(candidates)]


def _text_leaves(leaves: Sequence[_Leaf], total: int, taken: Sequence[_Leaf]) -> list[_Leaf]:
    """The string leaf that reads most like free text (long, varied, with spaces), if any."""
    best: tuple[float, _Leaf] | None = None
    for leaf in _free(leaves, taken):
        texts = [value for value in leaf.values.values() if isinstance(value, str)]
        spaced = sum(1 for text in texts if " " in text.strip())
        if len(texts) < total / 2 or spaced < len(texts) / 2:
            continue
        score = sum(map(len, texts)) * len(set(texts)) / len(texts)
        if best is None or score > best[0]:
            best = (score, leaf)
    return [best[1]] if best else []


def _free(leaves: Sequence[_Leaf], taken: Sequence[_Leaf]) -> Iterator[_Leaf]:
    """The leaves not already chosen for another field."""
    chosen = {leaf.order for leaf in taken}
    return (leaf for leaf in leaves if leaf.order not in chosen)


def _strings(leaf: _Leaf) -> frozenset[int]:
    """The objects in which the leaf is a non-empty string."""
    return frozenset(i for i, value in leaf.values.items() if isinstance(value, str) and value)


def _cover(candidates: Sequence[_Candidate]) -> list[_Candidate]:
    """Take candidates best first while each fills objects the earlier ones leave empty.

    Level numbers stay on one scale: a leaf whose numbers are on another would be misread.
    """
    chosen: list[_Candidate] = []
    filled: set[int] = set()
    scale: str | None = None
    for candidate in sorted(candidates, key=lambda each: each.rank):
        if candidate.scale is not None and scale not in (None, candidate.scale):
            continue
        if candidate.fills - filled:
            chosen.append(candidate)
            filled |= candidate.fills
            scale = scale or candidate.scale
            if len(chosen) == _MAX_PATHS:
                break
    return chosen
