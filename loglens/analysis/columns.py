"""Read the header columns of log lines across a sample: tokens, their types, and which
columns are fields of the header rather than the start of the message.

Lines are cut into tokens (a bracketed group, a run of spaces, a word, a punctuation mark),
and the tokens at the same position across the sample make a column, typed by majority. A
column is part of the header while its type is stable on (nearly) every line and is one a
header holds: separators, a level, numbers, bracketed fields, one component. The first
column that varies like free text starts the message. Per-line Python here runs only on a
sample; the result is a regex (Rust syntax) that reads the whole file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loglens.analysis.levels import LEVEL_SPELLINGS

# A column is part of the header when at least this share of the lines agree on its type.
COLUMN_SHARE = 0.9
# A word column is an identity (a component, a host) when it has at most this many distinct
# values, or this share of the lines.
FEW_VALUES = 8
FEW_SHARE = 0.2
# Of a column of upper-case words, at least this share must be levels for it to be the level
# (PostgreSQL writes a DETAIL, HINT, STATEMENT or LOCATION line after many of its entries).
MIN_LEVEL_SHARE = 0.4
_MAX_COLUMNS = 12
_TOKEN = re.compile(
    r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]|\([^()]*\)|<[^<>]*>|[ \t]+|[^\s\[\]()<>|:,;=\"']+|."
)
WORD = r"[^\s\[\]()<>|:,;=\"']+"
# Bracketed groups, by kind: how they open, what they hold (one level of nesting), how they close.
BRACKETS = {
    "B[": (r"\[", r"(?:[^\[\]]|\[[^\[\]]*\])*", r"\]"),
    "B(": (r"\(", r"[^()]*", r"\)"),
    "B<": ("<", "[^<>]*", ">"),
}
CLOSING = {"B[": "]", "B(": ")", "B<": ">"}
PUNCTUATION = re.compile(r"[^\w\s]+")
_LEVEL_LETTERS = frozenset("VTDINWEFAC")


def python_regex(regex: str) -> str:
    """A regex of the Rust syntax the layouts are written in, for Python's ``re``."""
    return regex.replace("(?<", "(?P<").replace(r"\pL", r"[^\W\d_]")


def split_tokens(text: str) -> list[str]:
    """The tokens of a text: bracketed groups, runs of spaces, words, punctuation marks."""
    return _TOKEN.findall(text)


def token_class(token: str) -> str:
    """The type of a token: space, a bracket kind, digits, word, or the character itself."""
    if token[0] in " \t":
        return " "
    if len(token) > 1 and "B" + token[0] in BRACKETS and token[-1] in "])>":
        return "B" + token[0]
    if token.isdigit():
        return "0"
    if PUNCTUATION.fullmatch(token):
        return token  # a separator such as "-", "|", "]", "::"
    return "w"


def is_level(token: str) -> bool:
    word = token.strip("[]()<>:|- ")
    if len(word) == 1:
        return word in _LEVEL_LETTERS
    return word.upper() in LEVEL_SPELLINGS and not word.isdigit()


def _levels_column(values: list[str]) -> bool:
    """Tell whether a column holds levels: level words on (nearly) every line, or a column of
    upper-case words of which most are levels (PostgreSQL's LOG, ERROR, and DETAIL lines).

    A column of one letter on every line is a level only if that letter is I (a log of
    starting up may say nothing but INFO): a container runtime's ``F`` (a full line) is not.
    """
    letters = {value.strip("[]()<>:|- ") for value in values}
    if len(letters) == 1 and all(len(letter) == 1 for letter in letters) and letters != {"I"}:
        return False
    if share(values, is_level) >= COLUMN_SHARE:
        return True
    shouted = share(values, lambda token: len(token.strip("[]()<>")) > 1 and _upper(token))
    return shouted >= COLUMN_SHARE and share(values, is_level) >= MIN_LEVEL_SHARE


def _upper(token: str) -> bool:
    word = token.strip("[]()<>")
    return word.isalpha() and word.isupper()


def _is_compound_level(token: str) -> bool:
    """A level and a component in one word: ``warning/PluginNotificationTask``."""
    level, slash, component = token.partition("/")
    return bool(slash and component) and is_level(level)


def share(values: Sequence[str], test: Callable[[str], bool]) -> float:
    hits = sum(1 for value in values if test(value))
    return hits / len(values) if values else 0.0


@dataclass
class _Column:
    """One column of the header after the stamp, as seen across the sample lines."""

    kind: str  # a token class (see _token_class)
    values: list[str]
    share: float  # of the lines that have this column of this kind
    padded: float = 0.0  # share of lines with two or more spaces after it


def _columns(rests: list[str]) -> list[_Column]:
    """The leading token columns of the texts after the stamps, typed by majority."""
    tokenised = [split_tokens(rest) for rest in rests]
    columns = []
    for position in range(_MAX_COLUMNS * 2):
        present = [tokens for tokens in tokenised if len(tokens) > position]
        if len(present) < COLUMN_SHARE * len(tokenised):
            break
        kinds = Counter(token_class(tokens[position]) for tokens in present)
        kind, count = kinds.most_common(1)[0]
        values = [tokens[position] for tokens in present if token_class(tokens[position]) == kind]
        padded = sum(
            1
            for tokens in present
            if len(tokens) > position + 1 and len(tokens[position + 1].expandtabs(2)) >= 2
        )
        columns.append(_Column(kind, values, count / len(tokenised), padded / len(present)))
        if kind != " " and count < COLUMN_SHARE * len(tokenised):
            break
    return columns


# A syslog header after its stamp: a host, then a program tag with an optional [pid] and a colon.
_SYSLOG_TAIL = (
    r"[ \t]+[A-Za-z0-9][^ \t]*[ \t]+(?<component>[^ \t:\[\]]+)(?:\[[0-9]+\])?:(?:[ \t]+|$)"
)
_SYSLOG_TAIL_RE = re.compile(
    r"[ \t]+([A-Za-z0-9][^ \t]*)[ \t]+[^ \t:\[\]]+(?:\[[0-9]+\])?:(?:[ \t]+|$)"
)


# A name of a few words, then " - ", before the message.
_NAMED_DASH = r"[ \t]*(?<component>[^ \t\[\]-][^\t]{0,39}?)[ \t]+-[ \t]+"


def header_columns(rests: list[str], level_taken: bool) -> tuple[str, list[str]]:
    """The regex of the header columns after the stamp, and a description of them."""
    hosts = [match.group(1) for rest in rests if (match := _SYSLOG_TAIL_RE.match(rest))]
    if len(hosts) >= COLUMN_SHARE * len(rests) and share(hosts, is_level) < MIN_LEVEL_SHARE:
        # Any stamp syslog may be written with (journalctl -o short-full, short-unix).
        return _SYSLOG_TAIL, ["host", "program[pid]:"]
    columns = _columns(rests)
    parts: list[str] = []
    described: list[str] = []
    seen_level = level_taken
    seen_component = False
    pending: list[str] = []  # separators and spaces not yet known to be in the header
    for position, column in enumerate(columns):
        if column.share < COLUMN_SHARE and column.kind != " ":
            break
        if column.kind == " ":
            pending.append("[ \t]+" if column.share >= COLUMN_SHARE else "[ \t]*")
            continue
        few = _few(column.values, len(rests))
        following = columns[position + 1 : position + 3]
        if PUNCTUATION.fullmatch(column.kind):
            if column.kind[-1] in "\"'":
                break  # an opening quote starts the message (an access log's request)
            pending.append(re.escape(column.kind))
            continue
        if not seen_level and _levels_column(column.values):
            regex = _level_regex(column.kind)
            described.append("level")
            seen_level = True
        elif (
            not seen_level
            and column.kind == "w"
            and share(column.values, _is_compound_level) >= COLUMN_SHARE
        ):
            regex = rf"(?<level>[A-Za-z]+)/(?<component>{WORD})"
            described.append("level/component")
            seen_level = seen_component = True
        elif column.kind in BRACKETS:
            # Bracketed fields after the level and component (a request, a node, a
            # subsystem) are header fields too; a message code (MySQL's [MY-010116]) names
            # the message, and the message starts with it.
            opening, inner, closing = BRACKETS[column.kind]
            if seen_level and share([value[1:-1] for value in column.values], _is_named_code) >= (
                COLUMN_SHARE
            ):
                break
            if seen_level and not seen_component and _named(column.values):
                regex = f"{opening}(?<component>{inner}){closing}"
                described.append("[component]")
                seen_component = True
            else:
                regex = f"{opening}{inner}{closing}"
                described.append(f"{column.kind[1]}…{CLOSING[column.kind]}")
        elif column.kind == "0" and (not seen_component or _separated(following)):
            regex = "[0-9]+"
            described.append("number")
        elif column.kind == "w" and not seen_component and few and _ends_word(column, following):
            regex = f"(?<component>{WORD})"
            described.append("component")
            seen_component = True
        else:
            break
        if column.share < 1.0:
            # Most lines have it, some do not (a node name not known yet): optional, and the
            # last column, as what follows it is no longer aligned.
            parts.append("(?:" + "".join(pending) + regex + ")?")
            pending = []
            break
        parts += pending
        pending = []
        parts.append(regex)
    if parts and described[-1] == "level" and ":" in pending:
        # A status code some entries write after a "LEVEL:" (PostgreSQL's SQLSTATE in
        # "LOG:  00000: ..."), as a field of the header.
        parts += pending
        pending = []
        if _status_codes(rests, "".join(parts)):
            parts.append(rf"[ \t]*(?:{_CODE}:(?:[ \t]+|$))?")
    if not parts:
        # Perhaps a short name and " - " before the message: a program, a module (Proxifier).
        lead = "".join(pending)
        named = re.compile(python_regex(lead + _NAMED_DASH))
        names = [match.group("component") for rest in rests if (match := named.match(rest))]
        if len(names) >= COLUMN_SHARE * len(rests) and _few(names, len(rests)):
            return lead + _NAMED_DASH, ["component -"]
    # Separators between the header and the message belong to the header, when present.
    tail = "".join(pending)
    return "".join(parts) + (f"(?:{tail})?" if tail else "") + "[ \t]*", described


# A code: capitals and digits, three digits at least (00000, 42P01, E1234, MY-010116).
_CODE = r"[A-Z0-9][A-Z0-9_-]{2,11}"
_CODE_RE = re.compile(_CODE)
# Of the lines, at least this share must write a status code for it to be a column.
MIN_CODE_SHARE = 0.25


def _is_code(text: str) -> bool:
    return _CODE_RE.fullmatch(text) is not None and sum(c.isdigit() for c in text) >= 3


def _is_named_code(text: str) -> bool:
    """A code with letters in it (MY-010116): a bracketed number alone is a pid."""
    return _is_code(text) and not text.isdigit()


def _status_codes(rests: list[str], header: str) -> bool:
    """Tell whether, after the header so far, enough lines write a code and a colon, of few
    distinct values (a status, unlike a message's own words)."""
    after = re.compile(python_regex(header) + r"[ \t]*(?P<code>[^ \t:]+):(?:[ \t]|$)")
    codes = [match.group("code") for rest in rests if (match := after.match(rest))]
    codes = [code for code in codes if _is_code(code)]
    return len(codes) >= MIN_CODE_SHARE * len(rests) and _few(codes, len(codes))


def _level_regex(kind: str) -> str:
    if kind in BRACKETS:
        opening, inner, closing = BRACKETS[kind]
        return f"{opening}(?<level>{inner}){closing}"
    return r"(?<level>[A-Za-z]+[0-9]?)"


def _few(values: list[str], lines: int) -> bool:
    distinct = len(set(values))
    return distinct <= FEW_VALUES or distinct <= FEW_SHARE * lines


def _named(values: list[str]) -> bool:
    """Tell whether bracketed values name something (a logger, a thread), not a number."""
    inner = [value[1:-1].strip() for value in values]
    return share(inner, lambda text: bool(text) and not text.isdigit()) >= COLUMN_SHARE


def _separated(following: list[_Column]) -> bool:
    """Tell whether a column is followed by a separator on (nearly) every line."""
    return (
        bool(following)
        and following[0].share >= COLUMN_SHARE
        and (PUNCTUATION.fullmatch(following[0].kind) is not None)
    )


def _ends_word(column: _Column, following: list[_Column]) -> bool:
    """Tell whether a word column ends the header's fields: padded into a column, or
    followed by a separator, a tag's colon, a bracket or a level."""
    if column.padded >= COLUMN_SHARE:
        return True
    after = [item for item in following if item.kind != " "]
    if not after:
        return False
    nxt = after[0]
    if nxt.share < COLUMN_SHARE:
        return False
    return (
        PUNCTUATION.fullmatch(nxt.kind) is not None
        or nxt.kind in BRACKETS
        or share(nxt.values, is_level) >= COLUMN_SHARE
    )
