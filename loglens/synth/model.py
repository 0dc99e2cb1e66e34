"""The generator's settings (``Mess``) and what it reports back (``Truth``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Canonical level names, least to most severe; every Truth counts all seven.
LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
LEVEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}

# Reasons for injected lines, named as the engine names the lines it sets aside.
REASONS: tuple[str, ...] = ("empty", "binary", "invalid_encoding", "truncated", "unparseable")


@dataclass(frozen=True)
class Mess:
    """How much damage to mix into a generated log; every rate is a fraction of lines."""

    empty: float = 0.0001
    binary: float = 0.0002
    invalid_encoding: float = 0.0002
    truncated: float = 0.0003
    unparseable: float = 0.0002
    # Fraction of ERROR and CRITICAL entries followed by a stack trace (where the format has them).
    tracebacks: float = 0.3
    # UTC offsets in minutes, picked per entry; only formats that write an offset use them.
    utc_offsets_minutes: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        """Reject rates outside [0, 1] and offsets a timestamp cannot carry."""
        rates = {
            "empty": self.empty,
            "binary": self.binary,
            "invalid_encoding": self.invalid_encoding,
            "truncated": self.truncated,
            "unparseable": self.unparseable,
            "tracebacks": self.tracebacks,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"Mess.{name} is {rate}, a rate must be between 0 and 1")
        if self.line_rate() > 0.5:
            raise ValueError(
                f"Mess rates add up to {self.line_rate():.2f} of all lines; keep them under 0.5"
            )
        if not self.utc_offsets_minutes:
            raise ValueError("Mess.utc_offsets_minutes is empty, give at least one offset (0)")
        for offset in self.utc_offsets_minutes:
            if not -24 * 60 < offset < 24 * 60:
                raise ValueError(f"UTC offset {offset} min is out of range, keep it within ±1439")

    def line_rate(self) -> float:
        """Return the fraction of lines that are injected damage of any kind."""
        return self.empty + self.binary + self.invalid_encoding + self.truncated + self.unparseable


# No damage at all: every line is an entry or a continuation line.
CLEAN = Mess(0.0, 0.0, 0.0, 0.0, 0.0, tracebacks=0.0)
# Heavy enough that each kind of damage shows up a few times in a file of a few hundred lines.
SAMPLE_MESS = Mess(
    empty=0.01,
    binary=0.008,
    invalid_encoding=0.01,
    truncated=0.012,
    unparseable=0.012,
    tracebacks=0.5,
    utc_offsets_minutes=(0, 60, -300, 330),
)


@dataclass
class Truth:
    """What the generator wrote, counted as it wrote it.

    ``lines == entries + continuation_lines + empty + binary + truncated + unparseable``;
    ``invalid_encoding`` lines are complete entries that carry one latin-1 byte, so they
    are counted both in ``entries`` (and ``levels``) and in ``injected``.
    """

    format: str
    seed: int
    lines: int = 0
    bytes: int = 0
    entries: int = 0
    continuation_lines: int = 0
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    # False where the format writes no level word (syslog, apache_access): levels are intended.
    levels_checkable: bool = True
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    templates_used: int = 0
    # One template id per entry, in file order, when asked for (it grows with the file).
    entry_templates: list[int] | None = None


def truth_to_dict(truth: Truth) -> dict[str, Any]:
    """Return the truth as plain JSON-ready data."""
    return asdict(truth)


def truth_to_json(truth: Truth) -> str:
    """Return the truth as a JSON document (per-entry templates on one line)."""
    data = truth_to_dict(truth)
    templates = data.pop("entry_templates")
    text = json.dumps(data, indent=2)
    # A long list printed one number per line would dwarf the rest of the document.
    return text[:-2] + ',\n  "entry_templates": ' + json.dumps(templates) + "\n}\n"


def truth_from_json(text: str) -> Truth:
    """Read a truth written by ``truth_to_json``."""
    data = json.loads(text)
    return Truth(**data)
