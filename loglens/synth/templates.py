"""Message templates, built combinatorially from the vocabularies.

A template is printf-style text with one ``%s`` per variable part and the kind of each
part. Every (object, verb) pair crossed with every sentence pattern gives one template,
so the pool holds several hundred message shapes with a fixed level each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from loglens.synth import vocab

# Share of entries at each level; the rare levels are rare on purpose (mostly INFO).
LEVEL_WEIGHTS: dict[str, float] = {
    "TRACE": 0.003,
    "DEBUG": 0.012,
    "INFO": 0.86,
    "NOTICE": 0.008,
    "WARNING": 0.07,
    "ERROR": 0.04,
    "CRITICAL": 0.004,
}

# (level, pattern): {Past}/{done}/{base}/{ger}/{Ger}/{obj}/{method} are fixed per template,
# {id} is the object's identifier, {outcome} one of vocab.OUTCOMES, other {kind}s vary.
MESSAGE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("INFO", "{Past} {obj} {id} in {dur}"),
    ("INFO", "{Ger} {obj} {id} for {user}"),
    ("INFO", "{obj} {id} {done} by {hostport}"),
    ("INFO", "Successfully {done} {obj} {id} ({bytes} bytes)"),
    ("DEBUG", "{Ger} {obj} {id}: attempt {small}, queue depth {int}"),
    ("TRACE", "enter {method}({id}) on thread {small}"),
    ("NOTICE", "{obj} {id} will be {done} at the next checkpoint"),
    ("WARNING", "Slow {base} of {obj} {id}: took {dur}, threshold {dur}"),
    ("WARNING", "Retrying {base} of {obj} {id} on {ip} after {dur} (attempt {small})"),
    ("ERROR", "Failed to {base} {obj} {id}: {outcome}"),
    ("ERROR", "Error while {ger} {obj} {id} on {hostport}: {outcome}"),
    ("CRITICAL", "Cannot {base} {obj} {id}, giving up after {small} attempts: {outcome}"),
)

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Template:
    """One message shape: text with ``%s`` per variable part, and the kinds of those parts."""

    text: str
    slots: tuple[str, ...]
    level: str
    subsystem: str
    class_stem: str
    # The id the truth reports for entries of this template; entries that share a group
    # have the same message shape (access-log templates differ only by status class).
    group: int

    def masked(self) -> str:
        """Return the text with every variable part shown as ``<*>``."""
        return self.text % (("<*>",) * len(self.slots))


def _compile(pattern: str) -> tuple[str, tuple[str, ...]]:
    """Turn ``{kind}`` placeholders into ``%s`` and list their kinds."""
    kinds = tuple(_SLOT.findall(pattern))
    return _SLOT.sub("%s", pattern.replace("%", "%%")), kinds


def _lower_camel(words: str) -> str:
    """Return ``roll back transaction`` as ``rollBackTransaction``."""
    first, *rest = words.split()
    return first + "".join(word.capitalize() for word in rest)


@cache
def message_templates() -> tuple[Template, ...]:
    """Return the pool of message templates shared by every format but apache_access."""
    templates: list[Template] = []
    for obj, id_kind, subsystem, class_stem, verbs in vocab.OBJECTS:
        for verb in verbs:
            base, past, gerund = vocab.VERBS[verb]
            for level, pattern in MESSAGE_PATTERNS:
                outcome = vocab.OUTCOMES[len(templates) % len(vocab.OUTCOMES)]
                words = {
                    "Past": past.capitalize(),
                    "done": vocab.PARTICIPLES.get(verb, past),
                    "base": base,
                    "ger": gerund,
                    "Ger": gerund.capitalize(),
                    "obj": obj,
                    "method": _lower_camel(f"{base} {obj}"),
                    "outcome": outcome,
                }
                filled = pattern
                for name, word in words.items():
                    filled = filled.replace("{" + name + "}", word)
                filled = filled.replace("{id}", "{" + id_kind + "}")
                text, kinds = _compile(filled[0].upper() + filled[1:])
                templates.append(
                    Template(text, kinds, level, subsystem, class_stem, group=len(templates))
                )
    return tuple(templates)


@cache
def access_templates() -> tuple[Template, ...]:
    """Return the request-line templates of apache_access, one per route and status class."""
    templates: list[Template] = []
    routes = [
        (method, route.replace("{res}", resource))
        for resource in vocab.WEB_RESOURCES
        for method, route in vocab.WEB_ROUTES
    ]
    for group, (method, route) in enumerate(routes):
        text, kinds = _compile(f"{method} {route}")
        for level in vocab.STATUSES:
            templates.append(Template(text, kinds, level, "gateway", "", group=group))
    return tuple(templates)
