"""Template mining: group log messages into templates with variables masked as ``<*>``.

Mining runs in two stages so that results merge exactly across byte ranges and processes:

1. ``mask_expr`` turns every message into a *pattern key* inside polars (regex passes in
   Rust, never per-line Python): numbers, hex, IPv4, IPv6 and MAC addresses, UUIDs, ids such
   as ``blk_-42``, sizes, timestamps and paths or URLs holding digits become ``<*>``; an
   HTTP request line keeps its method and route names. Workers count the keys.
2. ``build_templates`` runs once on the merged counts and clusters the distinct keys,
   Brain-style: keys with the same number of tokens are grouped by the words they share at
   the same frequency (the words of one logging statement occur together), then each other
   column is a variable when it takes many values, or several values that all look variable,
   unless its words depend on another column's (weighted by the keys' counts: a verb and
   its object name a statement, a user crossing every statement is a variable). Last, a
   template that another of the same length covers (the same words, "<*>" where they
   differ) becomes that one.

Stage 2 depends only on the merged counts, which are the same for any split of the input:
one core, a pool or many machines give the same templates and ids.
"""

from __future__ import annotations

import gc
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from sys import intern

import polars as pl

from loglens.analysis.template_columns import VARIABLE as VARIABLE
from loglens.analysis.template_columns import generalisations, variable_columns

# A shared head is kept up to a separator that ends a name ("rhost=", "environment:", "(")
# and a shared tail from one that closes a value ("]", "),"); a lone "/" of two paths is not
# kept, nor anything that would cut a "<*>" in two.
_HEAD_ENDS = frozenset("=:([{#@'\"")
_TAIL_STARTS = frozenset(")]},;:.'\"")

# ASCII word boundaries: Unicode ones made lines with any non-ASCII character 15 times
# slower (the fast DFA gives up on them). The price: a letter such as "é" counts as a
# separator, so "café42" becomes "café<*>".
_B = r"(?-u:\b)"
_NB = r"(?-u:\B)"
_HEX = "[0-9a-fA-F]"
# Characters of a path or URL: stop at whitespace, brackets, quotes and list separators.
_PATH_CHAR = r"""[^\s,;()\[\]{}'"<>]"""
# The last character of one: a colon after it opens what follows ("loading /a/b: no such").
_PATH_END = r"""[^\s,;()\[\]{}'"<>:]"""
# A path or URL's rest after its first digit: up to its last character that can end one.
_PATH_REST = f"(?:{_PATH_CHAR}*{_PATH_END})?"
_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_WEEKDAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_CLOCK = "[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?"
_IPV4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
_HEX_GROUP = f"{_HEX}{{1,4}}"
# The groups of an IPv6 address after its "::", the last maybe an IPv4 address (::ffff:10.0.0.1).
_IPV6_TAIL = f"(?:{_HEX_GROUP}:)*(?:{_IPV4}|{_HEX_GROUP})"
# The first group of a compressed IPv6 address holds a digit (fe80, 2001), so that a name
# such as "Bad::Foo" stays a name.
_IPV6_HEAD = (
    f"(?:[0-9]{_HEX}{{0,3}}|{_HEX}[0-9]{_HEX}{{0,2}}|{_HEX}{{2}}[0-9]{_HEX}?|{_HEX}{{3}}[0-9])"
)

# A route segment that is a name, not data: letters (one of them not a hex digit, so that
# "deadbeef" is data) and at most one trailing digit ("v2").
_ROUTE_NAME = r"[A-Za-z_.~-]*[G-Zg-z_~-][A-Za-z_.~-]*[0-9]?"
# The characters of a route segment or query value; data is one that starts with a digit or
# holds two ("42", "9f3e7a21"), where a name holds at most one ("v1").
_ROUTE_REST = r"[^\s/?&#\"]*"
# An HTTP request line keeps its method and its route's names: the match runs over them
# (kept through the `keep` group) to the first piece of data, which alone becomes "<*>": a
# segment, the first query value, the protocol version or the next word (a status code).
# What follows the data is left to the other shapes, so "GET /api/v1/orders/42/items"
# becomes "GET /api/v1/orders/<*>/items".
_REQUEST_LINE = (
    rf"(?P<keep>{_B}(?:GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) (?:/{_ROUTE_NAME})*"
    rf"(?:/|\?[A-Za-z_.~-]+=| HTTP/| ))"
    rf"(?:[0-9]{_ROUTE_REST}|{_ROUTE_REST}[0-9]{_ROUTE_REST}[0-9]{_ROUTE_REST})"
)
# What replaces each match: the kept part of a request line (empty for every other shape)
# and the variable.
_REPLACEMENT = "${keep}<*>"

# One alternation, so the messages are scanned once. At a given position the first listed
# alternative that matches wins, so the longer shapes (timestamps, UUIDs, sizes with their
# unit) come before the bare number that would otherwise take their first digits.
_VARIABLE_SHAPES = (
    _REQUEST_LINE,
    # URL or path with a digit somewhere: hdfs://host:9000/x, /10.0.0.1:50010, /tmp/a1.
    rf"[A-Za-z][A-Za-z0-9+.\-]*://{_PATH_CHAR}*[0-9]{_PATH_REST}",
    rf"{_NB}/{_PATH_CHAR}*[0-9]{_PATH_REST}",
    # Syslog and ctime dates (Sun Jul 10 03:55:15 2005) and ISO 8601 timestamps, whole.
    rf"(?:{_WEEKDAY},? +)?{_MONTH} +[0-9]{{1,2}},? +(?:[0-9]{{4}} +)?{_CLOCK}(?: +[0-9]{{4}})?",
    rf"{_B}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ]{_CLOCK}(?:Z|[+-][0-9]{{2}}:?[0-9]{{2}})?",
    rf"{_B}{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}{_B}",
    # Six or more colon-separated hex groups: MAC addresses, full IPv6 addresses, chip ids.
    rf"{_B}{_HEX_GROUP}(?::{_HEX_GROUP}){{5,}}{_B}",
    # Compressed IPv6 addresses: 2001:db8::8a2e:370:7334, fe80::, ::1, ::ffff:10.0.0.1.
    rf"{_B}{_IPV6_HEAD}(?::{_HEX_GROUP})*::(?:{_IPV6_TAIL}{_B})?",
    rf"{_NB}::{_IPV6_TAIL}{_B}",
    # A size with its unit as a separate word: "1.2 KB", "384.0 B".
    rf"{_B}[0-9]+(?:\.[0-9]+)? ?(?:[KMGTP]i?B|B){_B}",
    # Identifiers with a numeric part after an underscore: blk_-42, job_1445_0020, rdd_4_2.
    rf"{_B}[A-Za-z][A-Za-z0-9_]*_-?[0-9][A-Za-z0-9_]*",
    # IPv4 address with its port, as one variable: 10.0.0.1:50010.
    rf"{_B}{_IPV4}(?::[0-9]{{1,5}})?{_B}",
    # Host name (dotted or hyphenated, maybe with "/address") and port: msra-sa-41:8030.
    rf"{_B}[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)+(?:/[0-9.]+)?:[0-9]{{1,5}}{_B}",
    # Long hex words without a leading digit: deadbeef, ffffffff.
    rf"{_B}{_HEX}{{8,}}{_B}",
    # A word that starts with a digit: 42, -7, 0x1f, 3.5, 10.0.0.1, 250ms, 2.6.9.
    rf"(?:{_NB}-)?{_B}[0-9][A-Za-z0-9_]*(?:\.[0-9][A-Za-z0-9_]*)*",
)
MASK_PATTERN = "|".join(_VARIABLE_SHAPES)


# Without a request line, the same shapes and a plain "<*>" for each: a replacement that
# names a group makes the engine resolve the groups of every match, 7 times slower over a
# block of ordinary messages, so only messages that may hold a request line pay for it.
_PLAIN_MASK_PATTERN = "|".join(_VARIABLE_SHAPES[1:])
_MAY_HOLD_REQUEST_LINE = rf"{_B}(?:GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) "

# Messages that may hold a request line are masked in three passes that give what one pass
# of MASK_PATTERN with "${keep}<*>" gives, in about half its time on access logs: the whole
# alternation without the group wraps every match in _OPEN and _CLOSE ("${0}" names only
# the match itself, which the engine finds without resolving groups); then the request line
# alone, on wrapped matches only, keeps its `keep` part; then every other wrapped match
# becomes "<*>". The first pass sees the message as the single pass would, so the matches
# and their \b contexts are the same. A message already holding _OPEN or _CLOSE takes the
# single pass. A wrapped request line is re-matched the same way: the data of a match runs
# to a separator or the end, so it cannot run on past its _CLOSE.
_OPEN, _CLOSE = "\x00", "\x01"
_WRAP_PATTERN = "|".join((_REQUEST_LINE.replace("(?P<keep>", "(?:", 1), *_VARIABLE_SHAPES[1:]))
_WRAPPED_REQUEST_LINE = f"{_OPEN}{_REQUEST_LINE}{_CLOSE}"
_WRAPPED_MATCH = f"{_OPEN}[^{_CLOSE}]*{_CLOSE}"
_HOLDS_MARKER = f"[{_OPEN}{_CLOSE}]"


def mask_expr(messages: pl.Expr) -> pl.Expr:
    """Replace the obvious variables of each message with ``<*>``, giving its pattern key.

    Collect it lazily: its parts share expressions, which only a lazy query computes once.
    """
    request = pl.when(messages.str.contains(_MAY_HOLD_REQUEST_LINE)).then(messages)
    wrapped = (
        request.str.replace_all(_WRAP_PATTERN, f"{_OPEN}${{0}}{_CLOSE}")
        .str.replace_all(_WRAPPED_REQUEST_LINE, _REPLACEMENT)
        .str.replace_all(_WRAPPED_MATCH, VARIABLE)
    )
    marked = pl.when(request.str.contains(_HOLDS_MARKER)).then(request)
    # The plain pass skips the messages with a request line, whose answer it is not: on an
    # access log they would cost a fifth of the masking; ordinary messages pay nothing
    # measurable for the `when` once the query is lazy.
    plain = pl.when(request.is_null()).then(messages)
    # The first non-null wins, so a message with a marker takes the single pass.
    return pl.coalesce(
        marked.str.replace_all(MASK_PATTERN, _REPLACEMENT),
        wrapped,
        plain.str.replace_all(_PLAIN_MASK_PATTERN, VARIABLE),
    )


@dataclass(frozen=True)
class Template:
    """A message template: ``text`` with ``<*>`` for each variable, ``id`` derived from it."""

    id: str
    text: str


def template_id(text: str) -> str:
    """Return the stable id of a template text: 12 hex digits of its BLAKE2b hash."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def build_templates(pattern_counts: Mapping[str, int]) -> dict[str, Template]:
    """Map every pattern key to its template; the result depends only on the keys and counts."""
    # Clustering allocates millions of small lists and tuples and frees none of them until
    # it returns; the cyclic collector would walk them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_templates(pattern_counts)
    finally:
        if collecting:
            gc.enable()


def _build_templates(pattern_counts: Mapping[str, int]) -> dict[str, Template]:
    keys_by_length: dict[int, list[str]] = defaultdict(list)
    # Sorting makes every later tie-break independent of the mapping's iteration order.
    for key in sorted(pattern_counts):
        keys_by_length[len(key.split())].append(key)

    texts: dict[str, str] = {}
    for length in sorted(keys_by_length):
        # Tokens for one length at a time: all of them at once was the peak of memory.
        # Interned, as the words of one statement repeat in most keys: one object per
        # distinct word, and equal words compare by identity when counted and grouped.
        keyed = [(key, list(map(intern, key.split()))) for key in keys_by_length.pop(length)]
        of_length: dict[str, str] = {}
        for group in _initial_groups(keyed):
            of_length.update(_template_texts(group, pattern_counts))
        general = generalisations(set(of_length.values()))
        texts.update((key, general.get(text, text)) for key, text in of_length.items())
    templates = {text: Template(template_id(text), text) for text in set(texts.values())}
    return {key: templates[text] for key, text in texts.items()}


_Keyed = tuple[str, list[str]]


def _initial_groups(keyed: Sequence[_Keyed]) -> Iterable[list[_Keyed]]:
    """Group keys of one length by their longest set of words sharing one frequency."""
    columns = list(zip(*(tokens for _, tokens in keyed), strict=True))
    # Frequency of each key's token in its column, column by column (counted in C), then
    # turned back into one tuple per key.
    column_frequencies = [list(map(Counter(column).__getitem__, column)) for column in columns]
    key_frequencies = zip(*column_frequencies, strict=True) if columns else ((),) * len(keyed)

    groups: dict[tuple[tuple[bool, ...], tuple[str, ...]], list[_Keyed]] = defaultdict(list)
    # Keys of one statement mostly share their frequencies too: a few thousand distinct
    # tuples for a hundred thousand keys, so each tuple's root is found once.
    roots: dict[tuple[int, ...], tuple[bool, ...]] = {}
    for (key, tokens), frequencies in zip(keyed, key_frequencies, strict=True):
        in_root = roots.get(frequencies)
        if in_root is None:
            in_root = roots[frequencies] = _root_columns(frequencies)
        groups[in_root, tuple(compress(tokens, in_root))].append((key, tokens))
    return groups.values()


def _root_columns(frequencies: tuple[int, ...]) -> tuple[bool, ...]:
    """Mark the columns of a key that hold its statement's words.

    The words of one statement occur in the same keys, so they share a frequency; the
    frequency shared by the most words marks them (ties: the more frequent, Brain's choice).
    Variables take rarer, scattered frequencies.
    """
    distinct = set(frequencies)
    _, root_frequency = max(
        zip(map(frequencies.count, distinct), distinct, strict=True), default=(0, 0)
    )
    return tuple(map(root_frequency.__eq__, frequencies))


def _template_texts(group: Sequence[_Keyed], counts: Mapping[str, int]) -> dict[str, str]:
    """Decide which columns of a group are variables; write each key's text (reuses tokens)."""
    columns = list(zip(*(tokens for _, tokens in group), strict=True))
    values = [set(column) for column in columns]
    variable = variable_columns(columns, values, [counts[key] for key, _ in group])

    # Where the values of a variable column share a head or tail ("rhost=", "(", "]"),
    # keep it in the text: only the part that varies is the variable.
    variable_texts = {
        column: _masked_column_text(values[column])
        for column, is_var in enumerate(variable)
        if is_var
    }
    texts = {}
    for key, tokens in group:
        for column, text in variable_texts.items():
            tokens[column] = text
        texts[key] = intern(" ".join(tokens))  # most keys share their template's text
    return texts


def _masked_column_text(column_values: set[str]) -> str:
    """Return ``<*>`` with the head and tail that every value of the column shares."""
    head = _shared_head(list(column_values))
    head = head[: _last_cut(head, _HEAD_ENDS)]
    tail = _shared_head([value[len(head) :][::-1] for value in column_values])
    tail = tail[: _last_cut(tail, _TAIL_STARTS)][::-1]
    return f"{head}{VARIABLE}{tail}"


def _shared_head(values: Sequence[str]) -> str:
    """Return the longest prefix of all the values (that of the two extremes in sort order)."""
    first, last = min(values), max(values)
    end = 0
    while end < len(first) and end < len(last) and first[end] == last[end]:
        end += 1
    return first[:end]


def _last_cut(shared: str, separators: frozenset[str]) -> int:
    """Return the length of ``shared`` up to and including its last separator, or 0."""
    for end in range(len(shared), 0, -1):
        if shared[end - 1] in separators:
            return end
    return 0
