"""Alert rules as a rules file states them (``ALERT_RULES_FILE``, see docs/alerts.md):
parsing and checking, no polars, so the server can check a file before it starts anything.
How rules are evaluated is `loglens.analysis.alerts`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loglens.analysis.vocabulary import ANOMALY_KINDS as KINDS
from loglens.analysis.vocabulary import FINE_LEVELS, LEVEL_ORDER
from loglens.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_MINUTES = 7 * 24 * 60
HOUR = 60
_MATCH_KEYS = ("level", "template", "category", "regex")
_THRESHOLD_KEYS = ("threshold", "window")
_ANOMALY_KEYS = ("anomaly_score", "kind")
_KEYS = ("name", *_MATCH_KEYS, *_THRESHOLD_KEYS, *_ANOMALY_KEYS)


@dataclass(frozen=True)
class ThresholdRule:
    """At least `threshold` matching entries within `window` minutes."""

    name: str
    threshold: int
    window: int  # minutes
    window_text: str  # as written ("5m")
    levels: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None

    @property
    def step(self) -> int:
        """The minutes a window slides by: 1 when only per-minute levels match, else 60."""
        fine = bool(self.levels) and all(level in FINE_LEVELS for level in self.levels)
        return 1 if fine else HOUR

    def describe(self) -> str:
        """What the rule matches, in words."""
        parts = []
        if self.levels:
            parts.append("level " + "/".join(self.levels))
        if self.templates:
            parts.append("template " + "/".join(self.templates))
        if self.categories:
            parts.append("category " + "/".join(self.categories))
        if self.regex is not None:
            parts.append(f"regex {self.regex.pattern!r}")
        return ", ".join(parts)


@dataclass(frozen=True)
class AnomalyRule:
    """Any anomaly scoring at least `score` (of one of `kinds`, when given)."""

    name: str
    score: float
    kinds: tuple[str, ...] = ()


Rule = ThresholdRule | AnomalyRule


# parsing ------------------------------------------------------------------------------


def parse_rules(
    text: str, where: str = "ALERT_RULES_FILE", categories: Collection[str] | None = None
) -> tuple[Rule, ...]:
    """Parse a rules file's TOML; `where` names it in errors; `categories`, when given, are
    the category names a rule may use. Raises ConfigError naming the rule and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"rule"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}: write each rule as [[rule]]")
    entries = data.get("rule", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: write each rule as a [[rule]] table")
    rules: list[Rule] = []
    for number, entry in enumerate(entries, 1):
        rule = parse_rule(entry, f"{where}: rule {number}", categories)
        if any(rule.name == other.name for other in rules):
            raise ConfigError(f"{where}: rule {number}: key 'name': {rule.name!r} is used twice")
        rules.append(rule)
    return tuple(rules)


def parse_rule(
    entry: Mapping[str, Any], where: str, categories: Collection[str] | None = None
) -> Rule:
    """One [[rule]] table as a rule; `where` says which in errors."""
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: key 'name': every rule needs a name (text)")
    name = name.strip()
    where = f"{where} ({name!r})"
    unknown = [key for key in entry if key not in _KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}: use {', '.join(_KEYS)}")
    matches = [key for key in _MATCH_KEYS if key in entry]
    if "anomaly_score" in entry:
        extra = [key for key in (*_MATCH_KEYS, *_THRESHOLD_KEYS) if key in entry]
        if extra:
            raise ConfigError(
                f"{where}: key {extra[0]!r}: an anomaly_score rule takes only kind besides "
                "its name; write the threshold rule as a rule of its own"
            )
        return _anomaly_rule(name, entry, where)
    if "kind" in entry:
        raise ConfigError(f"{where}: key 'kind': it goes with anomaly_score, which is missing")
    if not matches:
        raise ConfigError(
            f"{where}: nothing to match: give level, template, category or regex with "
            "threshold and window, or anomaly_score"
        )
    return _threshold_rule(name, entry, where, categories)


def _threshold_rule(
    name: str, entry: Mapping[str, Any], where: str, categories: Collection[str] | None
) -> ThresholdRule:
    for key in _THRESHOLD_KEYS:
        if key not in entry:
            raise ConfigError(
                f"{where}: key {key!r} is missing: a match needs threshold and window"
            )
    threshold = entry["threshold"]
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ConfigError(
            f"{where}: key 'threshold': {threshold!r} is not a whole number of entries of 1 or more"
        )
    window_text = entry["window"]
    window = parse_window(window_text, f"{where}: key 'window'")
    levels = _names(entry, "level", where)
    bad = [level for level in (lv.upper() for lv in levels) if level not in LEVEL_ORDER]
    if bad:
        raise ConfigError(
            f"{where}: key 'level': unknown level {bad[0]!r}: use {', '.join(LEVEL_ORDER)}"
        )
    levels = tuple(level.upper() for level in levels)
    wanted = _names(entry, "category", where)
    if categories is not None:
        missing = [c for c in wanted if c not in categories]
        if missing:
            raise ConfigError(
                f"{where}: key 'category': unknown category {missing[0]!r}: use one of "
                f"{', '.join(categories)} (or add it in CATEGORIES_FILE)"
            )
    regex = None
    if "regex" in entry:
        pattern = entry["regex"]
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{where}: key 'regex': {pattern!r} is not a regular expression")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: key 'regex': {pattern!r} does not compile: {exc}") from exc
    rule = ThresholdRule(
        name, threshold, window, str(window_text).strip(), levels,
        _names(entry, "template", where), wanted, regex,
    )  # fmt: skip
    if rule.step == HOUR and window % HOUR:
        raise ConfigError(
            f"{where}: key 'window': {window_text!r} is not whole hours, but the rule matches "
            "entries below WARNING, which are counted per hour: use a window of '1h' or more "
            "in whole hours, or limit the rule to level = ['WARNING', 'ERROR', 'CRITICAL'] "
            "(counted per minute)"
        )
    return rule


def _anomaly_rule(name: str, entry: Mapping[str, Any], where: str) -> AnomalyRule:
    score = entry["anomaly_score"]
    if not isinstance(score, int | float) or isinstance(score, bool) or score < 0:
        raise ConfigError(f"{where}: key 'anomaly_score': {score!r} is not a number of 0 or more")
    kinds = _names(entry, "kind", where)
    bad = [kind for kind in kinds if kind not in KINDS]
    if bad:
        raise ConfigError(f"{where}: key 'kind': unknown kind {bad[0]!r}: use {', '.join(KINDS)}")
    return AnomalyRule(name, float(score), kinds)


def _names(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """A key's value as a tuple of text: one string or a non-empty list of strings."""
    if key not in entry:
        return ()
    value = entry[key]
    values = [value] if isinstance(value, str) else value
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v.strip() for v in values)
    ):
        raise ConfigError(f"{where}: key {key!r}: {value!r} is not text or a list of text")
    return tuple(v.strip() for v in values)


def parse_window(text: object, where: str) -> int:
    """A window such as "5m", "1h" or "1d" in minutes (whole minutes, 1m to 7d)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not a duration: write e.g. '5m', '1h' or '1d'")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds % 60 or not 60 <= seconds <= MAX_WINDOW_MINUTES * 60:
        raise ConfigError(f"{where}: {text!r} must be whole minutes, from '1m' to '7d'")
    return seconds // 60


# evaluation -----------------------------------------------------------------------------


def load_rules(path: Path, categories: Collection[str] | None = None) -> tuple[Rule, ...]:
    """Read and parse a rules file (ConfigError names the file, the rule and the key)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"ALERT_RULES_FILE={path}: cannot read: {exc}") from exc
    return parse_rules(text, f"ALERT_RULES_FILE={path}", categories)
