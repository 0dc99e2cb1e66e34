"""Read the fields of header texts: slice a leading timestamp off, capture the rest.

Capturing groups is the dearest step of parsing (polars captures with an NFA simulation), and
the timestamp its dearest part. A header that opens with a stamp whose end is easy to find
(``_STAMPS``), or closes with the access log's fixed-width one, has the stamp sliced off;
the other fields are captured from the rest of each header, once per distinct rest when
rests repeat, as they usually do (a level, a thread, a logger).

Also here: the rewriting of a format's header regex into the regexes that find headers
(no groups, the fast lazy DFA) and capture fields (only the groups used).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from loglens.analysis.levels import LEVEL_WORD, LEVEL_WORD_STRICT
from loglens.analysis.timestamps import (
    TS_CLF,
    TS_CTIME,
    TS_ISO,
    TS_SYSLOG,
    TS_YMD_SLASH,
    TS_YY_SLASH,
    TS_YYMMDD,
)

# Fields are captured once per distinct header rest when at most this share of the first
# DISTINCT_SAMPLE rests differ.
DISTINCT_SAMPLE = 10_000
MAX_DISTINCT_SHARE = 0.5

_NAMED_GROUP = re.compile(r"(?<!\\)((?:\\\\)*)\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


def slices_stamp(header: str) -> bool:
    """Tell whether the ``ts`` group of a header regex can be sliced off its header texts."""
    return (
        header.endswith(_CLOSING_CLF)
        or _leading_stamp(header) is not None
        or _stamp_group(header) is not None
    )


def header_fields(head: pl.Series, header: str, used: tuple[str, ...]) -> pl.DataFrame:
    """The ``used`` fields of each header text (null where there is none).

    A leading timestamp whose end is easy to find (``_STAMPS``) is sliced off rather than
    captured, and the other fields are captured from the rest of each header, once per
    distinct rest: capturing is the dearest step of parsing, the stamp its dearest part.
    """
    if not used:
        return fields_frame({}, len(head))
    if "ts" in used and header.endswith(_CLOSING_CLF):
        # The access log's stamp has a fixed width and closes the header: slice it off its end.
        columns = {"ts": head.str.slice(-len("] ") - _CLF_WIDTH, _CLF_WIDTH)}
        rest = tuple(group for group in used if group != "ts")
        if rest:
            captured = head.str.extract_groups(capture_regex(header, rest)).struct.unnest()
            columns.update({name: captured[name] for name in rest})
        return fields_frame({name: columns[name] for name in used}, len(head))
    stamp = _leading_stamp(header) if "ts" in used else None
    if stamp is not None and stamp.unless and head.str.starts_with(stamp.unless).any():
        stamp = None
    parts = _stamp_group(header) if "ts" in used and stamp is None else None
    if parts is not None:
        return _learned_fields(head, parts, used)
    if stamp is None:
        captured = head.str.extract_groups(capture_regex(header, used)).struct.unnest()
        return fields_frame({name: captured[name] for name in used}, len(head))
    ts, rest_of_header = _split_stamp(head, stamp)
    columns = {"ts": ts}
    nothing = pl.repeat(None, len(head), dtype=pl.String, eager=True)
    columns.update({group: nothing for group in stamp.absent if group in used})
    rest = tuple(group for group in used if group not in columns)
    if rest:
        regex = capture_regex("^" + header.removeprefix(stamp.opening), rest)
        columns.update(_capture_distinct(rest_of_header, regex))
    return fields_frame({name: columns[name] for name in used}, len(head))


def _learned_fields(
    head: pl.Series, parts: tuple[str, str, str], used: tuple[str, ...]
) -> pl.DataFrame:
    """Fields of headers ``^prefix(?<ts>stamp)rest`` whose prefix holds no field (a learned
    layout): two searches without groups find where the stamp starts and ends, and the rest
    of each header is captured once per distinct rest."""
    prefix, stamp, after = parts
    ends = head.str.extract(f"^{prefix}(?:{stamp})", 0).str.len_chars()
    starts = head.str.extract(f"^{prefix}", 0).str.len_chars() if prefix else 0
    columns = {"ts": head.str.slice(starts, ends - starts)}
    rest = tuple(group for group in used if group != "ts")
    if rest:
        regex = capture_regex("^" + after, rest)
        columns.update(_capture_distinct(head.str.slice(ends), regex))
    return fields_frame({name: columns[name] for name in used}, len(head))


def _stamp_group(header: str) -> tuple[str, str, str] | None:
    """``(prefix, stamp, rest)`` of a header regex ``^prefix(?<ts>stamp)rest`` whose prefix
    has no named group, or None."""
    opening = header.find("(?<ts>")
    if not header.startswith("^") or opening < 0 or group_names(header[:opening]):
        return None
    if _depths(header[:opening])[-1] != 0:
        return None  # the stamp lies inside a group of the prefix
    inner = opening + len("(?<ts>")
    depths = _depths(header[inner:])
    if -1 not in depths:
        return None
    end = inner + depths.index(-1) + 1  # just past the ``)`` that closes the ts group
    return header[1:opening], header[inner : end - 1], header[end:]


def _depths(regex: str) -> list[int]:
    """The group depth after each character of a regex (escapes and classes skipped)."""
    depths: list[int] = []
    depth, in_class, escaped = 0, False, False
    for char in regex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        depths.append(depth)
    return depths or [0]


@dataclass(frozen=True)
class _Stamp:
    """A timestamp group a header opens with, and how to find where the stamp ends.

    The stamp starts at ``offset`` and is ``width`` characters long, or, when ``width`` is 0,
    ends at the first ``end`` character at or after ``search_from`` (the shape holds none
    there, and the header writes one right after the stamp).
    """

    opening: str  # the header regex up to and including the ts group
    offset: int
    width: int = 0
    end: str = " "
    search_from: int = 0
    unless: str = ""  # the rule holds only when no header starts with this
    absent: tuple[str, ...] = ()  # groups of the opening that are then empty


_STAMPS = (
    _Stamp(f"^(?<ts>{TS_YYMMDD})", 0, width=13),
    _Stamp(f"^(?<ts>{TS_YY_SLASH})", 0, width=17),
    # Between date and time these shapes may hold a space, but nowhere after.
    _Stamp(f"^(?<ts>{TS_ISO})", 0, search_from=11),
    _Stamp(f"^(?<ts>{TS_YMD_SLASH})", 0, search_from=11),
    _Stamp(rf"^\[(?<ts>{TS_CTIME})", 1, end="]", search_from=1),
    # Syslog without its optional <PRI>: "Mar  13 04:05:06" has its last inner space at 7.
    _Stamp(
        f"^(?:<(?<pri>[0-9]{{1,3}})>)?(?<ts>{TS_SYSLOG})",
        0,
        search_from=8,
        unless="<",
        absent=("pri",),
    ),
)


# A header that ends with a Common Log Format stamp in brackets and a space, 26 characters wide.
_CLOSING_CLF = rf"(?<ts>{TS_CLF})\] "
_CLF_WIDTH = 26


def _leading_stamp(header: str) -> _Stamp | None:
    """The stamp (one of ``_STAMPS``) a header opens with and ends right after."""
    for stamp in _STAMPS:
        closing = stamp.end if stamp.end == " " else f"\\{stamp.end}"
        rest = header.removeprefix(stamp.opening)
        if rest != header and rest.startswith(closing) and rest[len(closing) :][:1] not in "?*{":
            return stamp
    return None


def _split_stamp(head: pl.Series, stamp: _Stamp) -> tuple[pl.Series, pl.Series]:
    """Each header's stamp and the text after it.

    Stamps of a file usually have one width: the first one's is taken for all when every
    header has the end character there and none before it, else each stamp's end is found.
    """
    ends: pl.Series | int = stamp.offset + stamp.width
    if not stamp.width:
        present = head.is_not_null()
        first = str(head[int(present.arg_max() or 0)]) if present.any() else ""
        end = first.find(stamp.end, stamp.search_from)
        if end >= 0:
            rest = head.str.slice(end)
            before = head.str.slice(stamp.search_from, end - stamp.search_from)
            fits = rest.str.starts_with(stamp.end) & ~before.str.contains(stamp.end, literal=True)
            if fits.fill_null(True).all():
                return head.str.slice(stamp.offset, end - stamp.offset), rest
        found = head.str.slice(stamp.search_from).str.find(stamp.end, literal=True)
        ends = found + stamp.search_from
    return head.str.slice(stamp.offset, ends - stamp.offset), head.str.slice(ends)


def _capture_distinct(texts: pl.Series, regex: str) -> dict[str, pl.Series]:
    """The groups ``regex`` captures in each text, capturing each distinct text only once.

    Header texts without their timestamp usually repeat a lot (a level, a thread, a logger).
    """
    captured = per_distinct(texts, lambda each: each.str.extract_groups(regex))
    return {name: captured.struct.field(name) for name in captured.struct.fields}


def per_distinct(texts: pl.Series, compute: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``compute`` of each text, an elementwise function, run once per distinct text.

    Casting to a categorical of their own numbers the distinct texts at hash speed, far
    cheaper than a capture or a timestamp parse of every line. Where the first texts mostly
    differ (a pid, a connection number, milliseconds in each), hashing them all would cost
    more than it saves, and ``compute`` runs on every text.
    """
    sample = texts.head(DISTINCT_SAMPLE)
    if sample.n_unique() > len(sample) * MAX_DISTINCT_SHARE:
        return compute(texts)
    categories = pl.Categories.random()
    # The categories live only as long as a column refers to them: keep ``categorical``.
    categorical = texts.cast(pl.Categorical(categories))
    distinct = compute(categories.to_series())
    return distinct.gather(categorical.to_physical())


def fields_frame(columns: dict[str, pl.Series], height: int) -> pl.DataFrame:
    """A frame of these columns, or of no columns but the given height."""
    return pl.DataFrame(columns) if columns else pl.DataFrame(height=height)


@lru_cache(maxsize=256)
def group_names(regex: str) -> frozenset[str]:
    """The named groups of a regex."""
    return frozenset(match.group(2) for match in _NAMED_GROUP.finditer(regex))


@lru_cache(maxsize=256)
def capture_regex(header: str, keep: tuple[str, ...]) -> str:
    """The regex that captures the fields of lines ``header`` matched: only the groups we use,
    and each bare level-word alternation relaxed to any word.

    The relaxation captures the same text on a header line (a level word is always followed by
    a non-word character) and makes capturing several times cheaper: polars captures with an
    NFA simulation whose cost grows with the alternatives alive at once. Lines that are no
    header may capture junk; their fields are discarded.
    """
    if LEVEL_WORD_STRICT not in header:
        header = header.replace(LEVEL_WORD, "[A-Za-z0-9]+")
    return keep_groups(header, keep)


@lru_cache(maxsize=256)
def keep_groups(regex: str, keep: tuple[str, ...]) -> str:
    """The regex with every named group not in ``keep`` made non-capturing."""

    def rewrite(match: re.Match[str]) -> str:
        escapes, name = match.group(1), match.group(2)
        return f"{escapes}(?<{name}>" if name in keep else f"{escapes}(?:"

    return _NAMED_GROUP.sub(rewrite, regex)
