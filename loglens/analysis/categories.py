"""Classify templates into categories (database, network, security, …) by documented rules.

A rule is a category name and a regular expression, searched case-insensitively in the
template's text (the constant words of a logging statement: variables are already ``<*>``,
so a host name or a path never decides a category). A template takes every category
whose rule matches, in rule order, so "Connection to database <*> timed out" is database,
network and timeout at once; counts per category therefore overlap, and an entry counts
once in each category of its template. An entry of a template no rule matches is
``application error`` when it is logged at ERROR or CRITICAL, else ``other`` (and the
template is listed under ``application error`` when it has such entries).

Users extend the built-in rules with a TOML file (``CATEGORIES_FILE``)::

    builtin = true            # keep the built-in rules (the default)

    [[category]]
    name = "payments"
    pattern = '\\b(payment|invoice|refund)'

A user rule with a built-in name adds its pattern to that category; rules keep the order
in which their names first appear (built-in ones first).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loglens.errors import ConfigError

APPLICATION_ERROR = "application error"
OTHER = "other"
_ERROR_LEVELS = frozenset({"ERROR", "CRITICAL"})

# Each pattern matches word starts (``\bconnect`` finds connect, connection, connected)
# and names the words of one concern; the order is the order categories are listed in.
BUILTIN_RULES: tuple[tuple[str, str], ...] = (
    (
        "database",
        r"\b(sql|database|db\b|jdbc|odbc|postgres|mysql|mariadb|oracle|sqlite|mongo|"
        r"redis|cassandra|hbase|query|queries|transaction|deadlock|rollback|commit\b|"
        r"table\b|schema\b|primary key|foreign key|constraint)",
    ),
    (
        "network",
        r"\b(connect|disconnect|socket|network|tcp|udp|dns|http|packet|unreachable|"
        r"refused|reset by peer|broken pipe|proxy|gateway|interface|ethernet|"
        r"hostname|host\b|port\b|route|routing|link\b|rpc|remote|peer|listen|"
        r"ip address|address already in use|no route|channel|election|quorum)",
    ),
    (
        "security",
        r"\b(auth|login|logon|logout|password|credential|token|permission|denied|"
        r"unauthori[sz]ed|forbidden|certificate|ssl|tls|invalid user|sudo|su\b|pam_|"
        r"ssh|session (opened|closed)|access denied|firewall|attack|intrusion|"
        r"selinux|apparmor|privilege|key exchange|break-in|illegal user|acls?\b)",
    ),
    (
        "storage",
        r"\b(disk|file|filesystem|file system|director(y|ies)|mount|volume|i/o|io error|"
        r"read error|write error|blk_|block|inode|quota|no space|nfs|lustre|hdfs|"
        r"replica|datanode|namenode|storage|partition|fsync|flush)",
    ),
    (
        "resources",
        r"\b(memory|out of memory|oom|heap|garbage collect|gc\b|cpu|load average|"
        r"thread pool|too many open files|resource|exhausted|capacity|swap|"
        r"throttl|rate limit|backpressure|queue full|overload)",
    ),
    (
        "timeout",
        r"(timeout|timed out|time out|deadline exceeded|took too long|no response|"
        r"not responding|heartbeat)",
    ),
    (
        "configuration",
        r"\b(config|configuration|property|properties|setting|option\b|parameter|"
        r"environment variable|not configured|misconfigur|invalid value|deprecated|"
        r"unknown option|missing key)",
    ),
    (
        "hardware",
        r"\b(kernel|interrupt|machine check|ecc|parity|temperature|fan\b|power supply|"
        r"voltage|hardware|firmware|bios|tlb|node card|link card|dimm|ddr|dram|edram|"
        r"memory error|pci|acpi|irq|usb)",
    ),
    (
        "lifecycle",
        r"\b(start(ing|ed)?\b|stop(ping|ped)?\b|shut(ting)? ?down|restart|reboot|boot|"
        r"initiali[sz]|terminat|exit(ed|ing)?\b|kill(ed)?\b|signal\b|spawn)",
    ),
    (
        APPLICATION_ERROR,
        r"(exception|traceback|stack ?trace|panic|assert|segfault|segmentation fault|"
        r"null ?pointer|core dump|crash|unhandled|uncaught)",
    ),
)


@dataclass(frozen=True)
class CategoryRule:
    """One category and the regular expression that puts a template in it."""

    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Classifier:
    """The rules, in order; classifies template texts."""

    rules: tuple[CategoryRule, ...]

    def categories(self, template: str, levels: Iterable[str] = ()) -> tuple[str, ...]:
        """The categories of a template logged at `levels`, in rule order (never empty)."""
        return self.categories_of(self.rule_categories(template), levels)

    @staticmethod
    def categories_of(found: tuple[str, ...], levels: Iterable[str] = ()) -> tuple[str, ...]:
        """The categories of a template its rules put in `found`, logged at `levels`."""
        if found:
            return found
        return (APPLICATION_ERROR,) if _ERROR_LEVELS.intersection(levels) else (OTHER,)

    def rule_categories(self, template: str) -> tuple[str, ...]:
        """The categories whose rules match a template, in rule order (maybe none)."""
        return tuple(dict.fromkeys(r.name for r in self.rules if r.pattern.search(template)))

    @property
    def names(self) -> tuple[str, ...]:
        """Every category a template can get, in order."""
        return (*dict.fromkeys(rule.name for rule in self.rules), APPLICATION_ERROR, OTHER)


def classifier(
    extra: Sequence[tuple[str, str]] = (), builtin: bool = True, where: str = "categories"
) -> Classifier:
    """A classifier of the built-in rules (unless not `builtin`) and `extra` (name, regex);
    `where` names the rules' origin in errors."""
    merged: dict[str, list[str]] = {}
    for name, pattern in (*(BUILTIN_RULES if builtin else ()), *extra):
        merged.setdefault(name, []).append(pattern)
    rules = []
    for name, patterns in merged.items():
        joined = "|".join(f"(?:{pattern})" for pattern in patterns)
        try:
            compiled = re.compile(joined, re.IGNORECASE)
        except re.error as exc:
            raise ConfigError(
                f"{where}: category {name!r}: invalid regular expression: {exc}"
            ) from exc
        rules.append(CategoryRule(name, compiled))
    return Classifier(tuple(rules))


DEFAULT_CLASSIFIER = classifier()


def load_classifier(path: Path) -> Classifier:
    """Read a categories file (TOML, see the module docstring) into a classifier."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"CATEGORIES_FILE {path}: cannot read: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"CATEGORIES_FILE {path}: not valid TOML: {exc}") from exc
    return classifier_from_mapping(data, f"CATEGORIES_FILE {path}")


def classifier_from_mapping(data: Mapping[str, object], where: str) -> Classifier:
    """Build a classifier from the parsed TOML of a categories file; `where` names it."""
    unknown = set(data) - {"builtin", "category"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; use builtin, category")
    builtin = data.get("builtin", True)
    if not isinstance(builtin, bool):
        raise ConfigError(f"{where}: builtin must be true or false, not {builtin!r}")
    entries = data.get("category", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: write each category as a [[category]] table")
    extra = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) != {"name", "pattern"}:
            raise ConfigError(f"{where}: category {number} needs exactly a name and a pattern")
        name, pattern = entry["name"], entry["pattern"]
        if not isinstance(name, str) or not name.strip() or not isinstance(pattern, str):
            raise ConfigError(f"{where}: category {number}: name and pattern must be text")
        extra.append((name.strip(), pattern))
    if not builtin and not extra:
        raise ConfigError(f"{where}: builtin = false and no [[category]]: nothing to classify by")
    return classifier(extra, builtin, where)
