"""Which columns of a group of pattern keys hold variables, and which template stands for
another: the decisions of template mining's second stage (see `loglens.analysis.templates`).
Pure code over the distinct keys and their counts."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import compress

VARIABLE = "<*>"

# A column of a group is a variable once it takes this many distinct values. Three-valued
# enums (states such as LOOKING/FOLLOWING/LEADING) stay constant; user names, host names and
# file names usually pass it. One value for every log system, by design.
DISTINCT_VALUES_FOR_VARIABLE = 4

# Two variable columns are dependent (they name statements, see `_dependent_columns`) when
# they show fewer than this share of the distinct pairs that independent columns would; judged
# only where independence would give at least `MIN_EXPECTED_PAIRS`, and for columns of at
# most `MAX_NAME_VALUES` words (a statement's verbs and nouns, not a stream of ids).
DEPENDENT_SHARE = 0.75
MIN_EXPECTED_PAIRS = 8.0
MAX_NAME_VALUES = 256
# A template stands for a more specific one of the same length (see `generalisations`)
# only if it keeps at least `MIN_COVERER_WORDS` of its tokens and puts "<*>" for at most
# `MAX_COVERED_WORDS` of the other's: a vague template must not swallow many others.
MIN_COVERER_WORDS = 2
MAX_COVERED_WORDS = 2
# A plain word: letters, maybe joined by "-", "_", "." or "'" (no digit, no masked part).
_PLAIN_WORD = re.compile(r"[A-Za-z]+(?:[-_.'][A-Za-z]+)*")
# A request line's method, as a message's first token or a quoted one's ('"GET').
_HTTP_METHOD = re.compile(r'"?(?:GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS)')
# A token that names the data it holds: a name opening a bracket or "=" around a masked part
# ("send_email[<*>]", "(uid=<*>)", "LOGIN(uid=<*>)"); group 1 is the name.
_NAMED = re.compile(r"^\W*([A-Za-z_][\w.]*(?:\(\w+)?)[(\[{=:].*<\*>")


def variable_columns(
    columns: Sequence[Sequence[str]], values: Sequence[set[str]], weights: Sequence[int]
) -> list[bool]:
    """Which columns of a group of keys (tokens by column, each column's set of values,
    each key's entry count) hold variables."""
    variable = [_is_variable_column(column_values) for column_values in values]
    # Words that vary together name the statement (a verb and its object: each object takes
    # a few verbs): they stay. A column that varies freely of the others (a user, a host) is
    # a variable.
    for column in _dependent_columns(columns, values, variable, weights):
        variable[column] = False
    # A request line keeps its method and its route's shape (its data is masked already).
    for column, column_values in enumerate(values[:-1]):
        if all(_HTTP_METHOD.fullmatch(value) for value in column_values):
            variable[column] = variable[column + 1] = False
    # A template made only of variables says nothing; keep its least varied column instead.
    if not any(
        not is_var and column_values != {VARIABLE}
        for is_var, column_values in zip(variable, values, strict=True)
    ):
        candidates = [column for column, is_var in enumerate(variable) if is_var]
        if candidates:
            variable[min(candidates, key=lambda column: len(values[column]))] = False
    return variable


def generalisations(texts: set[str]) -> dict[str, str]:
    """Map each template text (of one length) that another one covers to the coverer.

    A text is covered where the other has the same words, and "<*>" wherever they differ:
    "Deleting snapshot <*> for xavier" is an instance of "Deleting snapshot <*> for <*>"
    (the user varies there in other messages), split off only because its keys fell in a
    group of their own. Of several coverers the most specific (fewest variables) wins, then
    the first in sort order; a coverer is never itself covered (its variables are a superset).
    """
    shapes: dict[tuple[int, ...], dict[tuple[str, ...], str]] = defaultdict(dict)
    for text in sorted(texts):
        tokens = text.split(" ")
        where = tuple(i for i, token in enumerate(tokens) if token == VARIABLE)
        if where:
            kept = tuple(token for i, token in enumerate(tokens) if token != VARIABLE)
            shapes[where].setdefault(kept, text)
    if not shapes:
        return {}
    order = sorted(shapes, key=lambda where: (len(where), where))
    found: dict[str, str] = {}
    for text in sorted(texts):
        tokens = text.split(" ")
        own = {i for i, token in enumerate(tokens) if token == VARIABLE}
        for where in order:
            if own.issuperset(where) or len(tokens) - len(where) < MIN_COVERER_WORDS:
                continue  # not more general than this text, or too vague to stand for it
            spots = set(where)
            if len(spots - own) > MAX_COVERED_WORDS:
                continue
            kept = tuple(token for i, token in enumerate(tokens) if i not in spots)
            coverer = shapes[where].get(kept)
            if coverer is not None and own <= spots:
                found[text] = coverer
                break
    return found


def _is_variable_column(column_values: set[str]) -> bool:
    """Say whether a column whose keys show these values holds a variable."""
    if len(column_values) < 2:
        return False
    # Values that name the masked data they hold, under different names, are different
    # fields, not one ("send_email[<*>]", "send_sms[<*>]"; "(uid=<*>)", "LOGIN(uid=<*>)"):
    # the data is masked already, the names are constant words.
    named = [_NAMED.match(value) for value in column_values]
    if all(named) and len({match.group(1) for match in named if match}) > 1:
        return False
    if len(column_values) >= DISTINCT_VALUES_FOR_VARIABLE:
        return True
    # Two or three values are an enum unless every one of them looks like data.
    return all(_looks_variable(value) for value in column_values)


def _looks_variable(token: str) -> bool:
    """Say whether a token looks like data: it holds a digit or a masked part, is a path, or
    is the dash that stands for a missing value ("-", '"-"')."""
    return (
        VARIABLE in token
        or token.startswith("/")
        or token.strip('"') == "-"
        or any(c.isdigit() for c in token)
    )


def _dependent_columns(
    columns: Sequence[Sequence[str]],
    values: Sequence[set[str]],
    variable: Sequence[bool],
    weights: Sequence[int],
) -> set[int]:
    """The variable columns of a group whose words depend on another such column's.

    Two columns are compared on the keys where both hold plain words (no digit, no masked
    part: a verb, a noun, a state, a user name), weighted by their entries (`weights`). They
    are independent when their pairs of words are about as many as that many entries drawn
    at random would show; the words of different statements show far fewer (each object
    takes a few verbs, each state a few next states).
    """
    candidates = [
        column
        for column, is_var in enumerate(variable)
        if is_var and len(values[column]) <= MAX_NAME_VALUES
    ]
    dependent: set[int] = set()
    if len(candidates) < 2:
        return dependent
    plain: dict[int, list[bool]] = {}
    for column in candidates:
        # Each distinct value is tested once; the keys repeat a few values many times.
        is_plain = {value: _PLAIN_WORD.fullmatch(value) is not None for value in values[column]}
        plain[column] = list(map(is_plain.__getitem__, columns[column]))
    all_plain = {column: all(plain[column]) for column in candidates}
    # Where two columns hold plain words on every key, each column's frequencies are those of
    # the whole column: counted once, not once per pair.
    whole: dict[int, Counter[int]] = {}
    for position, first in enumerate(candidates):
        for second in candidates[position + 1 :]:
            if all_plain[first] and all_plain[second]:
                firsts, seconds, counts = columns[first], columns[second], weights
                for column in (first, second):
                    if column not in whole:
                        whole[column] = _frequencies(columns[column], weights)
                first_frequencies, second_frequencies = whole[first], whole[second]
            else:
                both = [a and b for a, b in zip(plain[first], plain[second], strict=True)]
                firsts = list(compress(columns[first], both))
                seconds = list(compress(columns[second], both))
                counts = list(compress(weights, both))
                first_frequencies = _frequencies(firsts, counts)
                second_frequencies = _frequencies(seconds, counts)
            entries = sum(counts)
            expected = _expected_pairs(first_frequencies, second_frequencies, entries)
            if expected < MIN_EXPECTED_PAIRS:
                continue
            if len(set(zip(firsts, seconds, strict=True))) < DEPENDENT_SHARE * expected:
                dependent.update((first, second))
    return dependent


def _frequencies(column: Sequence[str], weights: Sequence[int]) -> Counter[int]:
    """How many values of a column have each entry count (values of one count act alike)."""
    entries: Counter[str] = Counter()
    for value, weight in zip(column, weights, strict=True):
        entries[value] += weight
    return Counter(entries.values())


def _expected_pairs(first: Counter[int], second: Counter[int], entries: int) -> float:
    """How many distinct pairs of values `entries` independent draws would show."""
    square = float(entries) * entries
    return sum(
        times_a * times_b * -math.expm1(entries * math.log1p(-a * b / square))
        for a, times_a in first.items()
        for b, times_b in second.items()
        if a * b < square
    ) + sum(
        times_a * times_b
        for a, times_a in first.items()
        for b, times_b in second.items()
        if a * b >= square
    )
