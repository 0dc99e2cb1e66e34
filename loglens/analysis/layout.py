"""Learn the layout of a file nobody configured: where its timestamp is, and its header.

Most logs write each entry's header the same way: some fields, a timestamp somewhere in the
first part of the line, more fields (a level, a pid, a thread, a component), then the free
text. ``learn_layout`` finds that shape in a sample of the file's lines and writes it down
as an ordinary regex ``LogFormat``, so the whole file is then read on the same vectorised
path as the built-in formats (per-line Python runs only on the sample):

1. **The stamp.** Every stamp in each line's first part is found and described by its
   signature (``stamps``). The signature most lines share wins; a stamp that never changes
   (a file name's date) or does not grow with the lines loses to one that does; where several
   fit equally, the earliest in the line.
2. **What precedes it** (a pid, a container name, a program): the tokens before the stamp,
   generalised across lines (digits, a bracketed group, a word, the same literal) - at most a
   few such shapes.
3. **The header after it** (``columns``): columns whose type is stable across lines -
   separators, a level word (bare, bracketed, a single letter), digits, bracketed groups, one
   component (a word padded into a column or followed by a separator, a ``tag:``) - up to
   the first column that varies like free text. The message is the rest of the line, less
   the fields (nearly) every line ends with (a ``(logger.Name)``, ``| logger | thread``).
4. **Records**: where at most half the lines carry a stamp and nearly all of them stand
   behind a label (``# Time:``, ``Start-Date:``), each labelled stamp opens an entry.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from loglens.analysis.columns import (
    BRACKETS,
    COLUMN_SHARE,
    WORD,
    header_columns,
    is_level,
    python_regex,
    share,
    split_tokens,
    token_class,
)
from loglens.analysis.formats import ACCESS, DEVICE_HEADER, FormatKind, LogFormat
from loglens.analysis.lines import looks_like_continuation
from loglens.analysis.stamps import EPOCH, Found, find_stamps, month_first, stamp_regex
from loglens.analysis.timestamps import parse_column

# A stamp must be found in at least this share of the lines that count.
MIN_STAMP_SHARE = 0.3
# The grammar reads the first this many lines of the sample, in their first this many chars.
STAMP_SAMPLE = 150
SEARCH_CHARS = 160
# Below this share, entries of one line each would leave most lines out: records are tried.
MIN_CONFIDENCE = 0.5
# ... or, behind one label (``# Time: ``), on this share of them and this many at least.
MIN_RECORD_SHARE = 0.05
MIN_RECORDS = 2
_RECORD_LABEL = re.compile(r"#? ?[A-Za-z][A-Za-z _-]{0,30}: ?")
_MAX_PREFIX_SHAPES = 3
# A prefix of more words than this is free text that happens to hold a date.
_MAX_PREFIX_WORDS = 5
# Epochs read from at least this many sample lines must lie within this span of each other.
_SPAN_SAMPLE = 5
MAX_SAMPLE_SPAN = timedelta(days=8 * 366)


@dataclass(frozen=True)
class _Stamp:
    """The stamp chosen for a file: its signature and where it is in each line that has it."""

    signature: str
    found: dict[int, Found]  # line index -> the stamp in that line
    records: bool = False  # entries are records that span lines, each opened by a label


def learn_layout(sample: Sequence[str], reference: datetime | None = None) -> LogFormat | None:
    """The layout of a file's header learned from a sample of its lines, or None."""
    lines = [
        line.rstrip("\r\n")
        for line in sample
        if line.strip() and not looks_like_continuation(line.rstrip("\r\n"))
    ]
    if not lines:
        return None
    reference = reference or datetime.now(UTC)
    # The grammar is run on the first lines only (it is the dear part of learning); the
    # stamp chosen is then found in the others with its own regex.
    first = lines[:STAMP_SAMPLE]
    stamp = _choose_stamp(first, reference)
    if stamp is None or len(stamp.found) <= MIN_CONFIDENCE * len(first):
        # At most half the lines would be entries of one line each: perhaps records instead.
        stamp = _choose_record(first, reference) or stamp
    if stamp is None:
        return None
    stamp = _found_in_all(stamp, lines)
    rows = sorted(stamp.found)
    prefix, prefix_level = _prefix_regex([lines[i][: stamp.found[i].start] for i in rows])
    if prefix is None:
        return None
    rests = [lines[i][stamp.found[i].end :] for i in rows]
    columns, described = header_columns(rests, level_taken=prefix_level)
    header = f"^{prefix}(?<ts>{stamp_regex(stamp.signature)}){columns}"
    parts = [f"stamp {stamp.signature}"]
    if prefix:
        parts.insert(0, "prefix " + ("with level " if prefix_level else "") + "before it")
    parts += described
    if stamp.records:
        parts.append("each a record of the lines down to the next")
    with_level = "(?<level>" in columns or prefix_level
    trailer = _trailer(header, [lines[i] for i in rows])
    if trailer is not None:
        regex, what = trailer
        header = f"{header}(?<message>.*?){regex}$"
        parts.append(what)
    return LogFormat(
        name="learned",
        description="learned from the file: " + ", ".join(parts),
        kind=FormatKind.REGEX,
        header=header,
        ts_format=stamp.signature,
        start=f"^{prefix}{stamp_regex(stamp.signature)}",
        message_fields="" if with_level else _access_status(header, [lines[i] for i in rows]),
        message_header="" if with_level else DEVICE_HEADER,
        infer_level=not with_level,
        examples=(lines[rows[0]],),
        learned=True,
        records=stamp.records,
    )


# A logger's or class's dotted name, as a log4j layout may close its lines with "(a.b.C)".
_DOTTED = r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)+"


def _trailer(header: str, lines: list[str]) -> tuple[str, str] | None:
    """Fields after the message that (nearly) every line ends with: a ``(logger.Name)``, or
    the last columns of a file whose header is delimited by ``|`` (the message in between).

    Returns the regex that matches them (optional, so that a line without them still reads)
    and a description; None when the lines end in free text.
    """
    pattern = re.compile(python_regex(header))
    messages = []
    for line in lines:
        match = pattern.match(line)
        if match is not None and match.end() < len(line):
            messages.append(line[match.end() :])
    if not messages:
        return None
    closing = re.compile(rf"[ \t]\({_DOTTED}\)[ \t]*$")
    if share(messages, lambda text: closing.search(text) is not None) >= COLUMN_SHARE:
        name = _DOTTED if "(?<component>" in header else f"(?<component>{_DOTTED})"
        return rf"(?:[ \t]+\({name}\)[ \t]*)?", "(logger) at the end"
    if r"\|" not in header:
        return None
    counts = sorted(message.count("|") for message in messages)
    fields = counts[int(len(counts) * (1 - COLUMN_SHARE))]
    if fields == 0:
        return None
    return rf"(?:(?:[ \t]*\|[^|]*){{{fields}}})?", f"{fields} |-separated columns at the end"


def _found_in_all(stamp: _Stamp, lines: list[str]) -> _Stamp:
    """The stamp with its places in every line, not only in those the grammar read."""
    pattern = re.compile(python_regex(stamp_regex(stamp.signature)))
    label = stamp.found[min(stamp.found)]
    opening = lines[min(stamp.found)][: label.start] if stamp.records else ""
    found = dict(stamp.found)
    for index in range(STAMP_SAMPLE, len(lines)):
        line = lines[index]
        if stamp.records and not line.startswith(opening):
            continue
        match = pattern.search(line, len(opening), SEARCH_CHARS)
        if match is not None and (not stamp.records or match.start() == len(opening)):
            found[index] = Found(match.start(), match.end(), match.group(), stamp.signature, "")
    return _Stamp(stamp.signature, found, stamp.records)


def _access_status(header: str, lines: list[str]) -> str:
    """The regex of an HTTP status in messages that are access log requests, or ""."""
    pattern = re.compile(python_regex(header))
    messages = [line[match.end() :] for line in lines if (match := pattern.match(line))]
    request = re.compile(python_regex(ACCESS.message_fields))
    if messages and share(messages, lambda text: request.match(text) is not None) >= COLUMN_SHARE:
        return ACCESS.message_fields
    return ""


def _choose_stamp(lines: list[str], reference: datetime) -> _Stamp | None:
    """The signature most lines share, with a stamp that changes and moves forward."""
    by_signature: dict[str, dict[int, Found]] = {}
    for index, line in enumerate(lines):
        for found in find_stamps(line):
            by_signature.setdefault(_without_fraction(found.signature), {}).setdefault(index, found)
    _merge_day_month(by_signature)
    # Some stamps of a file may leave out a zero fraction: read them all with the fraction.
    by_signature = {
        _with_fraction(signature, found): found for signature, found in by_signature.items()
    }
    ranked = []
    for signature, stamps in by_signature.items():
        if len(stamps) < MIN_STAMP_SHARE * len(lines):
            continue
        values = [item.text for item in stamps.values()]
        distinct = len(set(values)) / len(values)
        position = sum(item.start for item in stamps.values()) / len(stamps)
        ranked.append((len(stamps), distinct, position, signature))
    if not ranked:
        return None
    most = max(count for count, *_ in ranked)
    changing = max(distinct for count, distinct, *_ in ranked if count >= 0.8 * most)
    fitting = [
        (position, signature)
        for count, distinct, position, signature in ranked
        if count >= 0.8 * most and distinct >= 0.5 * changing
    ]
    for _position, signature in sorted(fitting):
        if _readable(signature, by_signature[signature], reference):
            return _Stamp(signature, by_signature[signature])
    return None


def _choose_record(lines: list[str], reference: datetime) -> _Stamp | None:
    """The stamp of a file of records that span lines (a slow log's ``# Time:``, apt's
    ``Start-Date:``): the one most often behind the same label, on a few lines at least,
    where (nearly) all stamps of its shape stand behind labels."""
    labelled: Counter[tuple[str, str]] = Counter()
    shapes: Counter[str] = Counter()
    found: dict[tuple[str, str], dict[int, Found]] = {}
    for index, line in enumerate(lines):
        for item in find_stamps(line):
            label = line[: item.start]
            shapes[item.signature] += 1
            if _RECORD_LABEL.fullmatch(label):
                key = (label, item.signature)
                labelled[key] += 1
                found.setdefault(key, {})[index] = item
    behind_labels: Counter[str] = Counter()
    for (_label, signature), count in labelled.items():
        behind_labels[signature] += count
    for (label, signature), count in labelled.most_common(3):
        if behind_labels[signature] < COLUMN_SHARE * shapes[signature]:
            continue  # stamps of this shape also open plain lines: no records
        if count >= max(MIN_RECORDS, MIN_RECORD_SHARE * len(lines)) and _readable(
            signature, found[label, signature], reference
        ):
            return _Stamp(signature, found[label, signature], records=True)
    return None


_FRACTIONS = ("%.f", "%,f", "%:f")


def _without_fraction(signature: str) -> str:
    for fraction in _FRACTIONS:
        signature = signature.replace(fraction, "")
    return signature


def _with_fraction(signature: str, found: dict[int, Found]) -> str:
    """The signature with the fraction its stamps write, if some do."""
    written = Counter(
        fraction for item in found.values() for fraction in _FRACTIONS if fraction in item.signature
    )
    if not written or "%S" not in signature:
        return signature
    fraction = written.most_common(1)[0][0]
    return signature.replace("%S", "%S" + fraction, 1)


def _merge_day_month(by_signature: dict[str, dict[int, Found]]) -> None:
    """Settle numeric dates that read either way (01/02/2020): month first unless some day
    in the sample is above 12 (then the day comes first), as each file writes one way."""
    for signature in list(by_signature):
        found = by_signature[signature]
        if not any(item.kind == "dmy" for item in found.values()):
            continue
        if all(item.ambiguous for item in found.values()):
            by_signature[month_first(signature)] = by_signature.pop(signature)


def _readable(signature: str, found: dict[int, Found], reference: datetime) -> bool:
    """Tell whether most stamps read as times, and epochs as times close together.

    A column of ids or counters can look like epochs; the stamps of the first lines of a
    log lie within days or years of each other, ids spread over the 30 years that ten digits
    starting with 1 cover.
    """
    texts = pl.Series([found[index].text for index in sorted(found)], dtype=pl.String)
    parsed = parse_column(texts, signature, "UTC", reference).drop_nulls()
    if len(parsed) < 0.8 * len(texts):
        return False
    if signature == EPOCH and len(parsed) >= _SPAN_SAMPLE:
        return bool(parsed.max() - parsed.min() <= MAX_SAMPLE_SPAN)  # type: ignore[operator]
    return True


def _prefix_regex(prefixes: list[str]) -> tuple[str | None, bool]:
    """A regex for the text before the stamp, and whether it holds the level.

    Prefixes are tokenised and generalised per token; the few most common shapes are
    alternatives. None when no few shapes cover most lines.
    """
    if all(prefix == "" for prefix in prefixes):
        return "", False
    shapes: Counter[tuple[str, ...]] = Counter()
    tokens_of: dict[tuple[str, ...], list[list[str]]] = {}
    for prefix in prefixes:
        tokens = split_tokens(prefix)
        shape = tuple(token_class(token) for token in tokens)
        shapes[shape] += 1
        tokens_of.setdefault(shape, []).append(tokens)
    chosen = [
        shape
        for shape, _ in shapes.most_common(_MAX_PREFIX_SHAPES)
        if sum(kind != " " for kind in shape) <= _MAX_PREFIX_WORDS * 2
    ]
    covered = sum(shapes[shape] for shape in chosen)
    if covered < COLUMN_SHARE * len(prefixes):
        return None, False
    alternatives = []
    with_level = False
    for shape in chosen:
        regex, level = _shape_regex(shape, tokens_of[shape], allow_level=len(chosen) == 1)
        alternatives.append(regex)
        with_level |= level
    if len(alternatives) == 1:
        return alternatives[0], with_level
    return "(?:" + "|".join(alternatives) + ")", False


def _shape_regex(
    shape: tuple[str, ...], examples: list[list[str]], allow_level: bool
) -> tuple[str, bool]:
    """The regex of one prefix shape; a word column of level words becomes the level."""
    parts = []
    with_level = False
    for position, kind in enumerate(shape):
        values = [tokens[position] for tokens in examples]
        if kind == " ":
            parts.append("[ \t]+")
        elif kind in BRACKETS:
            opening, inner, closing = BRACKETS[kind]
            parts.append(f"{opening}{inner}{closing}")
        elif kind == "0":
            parts.append("[0-9]+")
        elif kind == "w":
            if allow_level and not with_level and share(values, is_level) >= COLUMN_SHARE:
                parts.append(r"(?<level>[A-Za-z]+[0-9]?)")
                with_level = True
            elif len(set(values)) == 1:
                parts.append(re.escape(values[0]))
            else:
                parts.append(WORD)
        else:
            parts.append(re.escape(kind))
    return "".join(parts), with_level
