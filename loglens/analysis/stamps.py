"""Find timestamps anywhere in a line, and learn how a file writes them.

A file writes its timestamps one way: the same fields in the same order, with the same
separators, at the same place in the line. ``find_stamps`` reads a line with a grammar of
date and time shapes (``_TEMPLATES``: years first or last, months as numbers or names in
several languages, ordinal days, compact dates, 12- and 24-hour clocks, a fraction after
``.``, ``,`` or ``:``, a zone glued on or after a space, epochs, TAI64N) and describes each
stamp it finds by its *signature*: the strftime pattern that reads it, written with the
separators the line used (``%Y/%m/%d %H:%M:%S%.f``). Learning a file's stamp (``layout``)
is then counting signatures over a sample, never a list of products.

Signatures are chrono patterns (what polars' ``str.to_datetime`` reads) with three
extensions that ``timestamps.to_utc`` understands: ``%,f`` and ``%:f`` (a fraction of a
second after a comma or a colon), ``%Z`` (a zone abbreviation such as ``PDT``, read through
``ZONE_OFFSETS``); and two whole signatures: ``epoch`` (seconds to nanoseconds since 1970)
and ``tai64n`` (``@4000…``, daemontools). Per-line Python here runs only on a sample; the
file itself is read with regexes built from the learned signature (``stamp_regex``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

EPOCH = "epoch"
TAI64N = "tai64n"

# Month names by language (January first); English abbreviations are what chrono reads.
_ENGLISH = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_NAMES: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "en": tuple(
        (abbr, full)
        for abbr, full in zip(
            _ENGLISH,
            (
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ),
            strict=True,
        )
    ),
    "fr": (
        ("janv", "janvier"),
        ("févr", "fevr", "février", "fevrier"),
        ("mars",),
        ("avr", "avril"),
        ("mai",),
        ("juin",),
        ("juil", "juillet"),
        ("août", "aout"),
        ("sept", "septembre"),
        ("oct", "octobre"),
        ("nov", "novembre"),
        ("déc", "dec", "décembre", "decembre"),
    ),
    "de": (
        ("jan", "januar", "jän", "jänner"),
        ("feb", "februar"),
        ("mär", "märz", "maerz"),
        ("apr", "april"),
        ("mai",),
        ("jun", "juni"),
        ("jul", "juli"),
        ("aug", "august"),
        ("sep", "sept", "september"),
        ("okt", "oktober"),
        ("nov", "november"),
        ("dez", "dezember"),
    ),
    "es": (
        ("ene", "enero"),
        ("feb", "febrero"),
        ("mar", "marzo"),
        ("abr", "abril"),
        ("may", "mayo"),
        ("jun", "junio"),
        ("jul", "julio"),
        ("ago", "agosto"),
        ("sep", "sept", "septiembre", "set", "setiembre"),
        ("oct", "octubre"),
        ("nov", "noviembre"),
        ("dic", "diciembre"),
    ),
    "it": (
        ("gen", "gennaio"),
        ("feb", "febbraio"),
        ("mar", "marzo"),
        ("apr", "aprile"),
        ("mag", "maggio"),
        ("giu", "giugno"),
        ("lug", "luglio"),
        ("ago", "agosto"),
        ("set", "settembre"),
        ("ott", "ottobre"),
        ("nov", "novembre"),
        ("dic", "dicembre"),
    ),
    "pt": (
        ("jan", "janeiro"),
        ("fev", "fevereiro"),
        ("mar", "março", "marco"),
        ("abr", "abril"),
        ("mai", "maio"),
        ("jun", "junho"),
        ("jul", "julho"),
        ("ago", "agosto"),
        ("set", "setembro"),
        ("out", "outubro"),
        ("nov", "novembro"),
        ("dez", "dezembro"),
    ),
    "nl": (
        ("jan", "januari"),
        ("feb", "februari"),
        ("mrt", "maart"),
        ("apr", "april"),
        ("mei",),
        ("jun", "juni"),
        ("jul", "juli"),
        ("aug", "augustus"),
        ("sep", "september"),
        ("okt", "oktober"),
        ("nov", "november"),
        ("dec", "december"),
    ),
}

# Every month name, lower case, to the English abbreviation chrono reads (first language wins).
MONTH_TO_ENGLISH: Mapping[str, str] = {
    name: _ENGLISH[index]
    for language in reversed(list(MONTH_NAMES.values()))
    for index, names in enumerate(language)
    for name in names
}

# Common zone abbreviations and their UTC offsets. Some are ambiguous the world over; these
# are the readings most logs mean (CST: US Central, IST: India, BST: British Summer Time).
ZONE_OFFSETS: Mapping[str, str] = {
    "UTC": "+00:00",
    "GMT": "+00:00",
    "UT": "+00:00",
    "Z": "+00:00",
    "EST": "-05:00",
    "EDT": "-04:00",
    "CST": "-06:00",
    "CDT": "-05:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
    "AKST": "-09:00",
    "AKDT": "-08:00",
    "HST": "-10:00",
    "WET": "+00:00",
    "WEST": "+01:00",
    "BST": "+01:00",
    "CET": "+01:00",
    "CEST": "+02:00",
    "MET": "+01:00",
    "MEST": "+02:00",
    "EET": "+02:00",
    "EEST": "+03:00",
    "MSK": "+03:00",
    "IST": "+05:30",
    "SGT": "+08:00",
    "HKT": "+08:00",
    "JST": "+09:00",
    "KST": "+09:00",
    "AWST": "+08:00",
    "ACST": "+09:30",
    "ACDT": "+10:30",
    "AEST": "+10:00",
    "AEDT": "+11:00",
    "NZST": "+12:00",
    "NZDT": "+13:00",
}

_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun"
_MONTHS = "|".join(sorted(MONTH_TO_ENGLISH, key=lambda name: (-len(name), name)))
_ZONES = "|".join(sorted((z for z in ZONE_OFFSETS if z != "Z"), key=lambda z: (-len(z), z)))

# Fragments with named groups; the group names are the strftime letters they stand for.
_Y = r"(?P<Y>(?:19[7-9]|20[0-9])[0-9])"
_y = r"(?P<y>[0-9]{2})"
_m = r"(?P<m>1[0-2]|0?[1-9])"
_m2 = r"(?P<m>0[1-9]|1[0-2])"
_d = r"(?P<d>3[01]|[12][0-9]|0?[1-9])"
_d2 = r"(?P<d>0[1-9]|[12][0-9]|3[01])"
_j = r"(?P<j>[0-3][0-9]{2})"
_b = rf"(?P<b>(?i:{_MONTHS}))\.?"
_a = rf"(?P<a>(?i:{_WEEKDAYS}))\.?,?"
_H = r"(?P<H>2[0-3]|[01]?[0-9])"
_H2 = r"(?P<H>[01][0-9]|2[0-3])"
_MS = r"(?P<M>[0-5][0-9]):(?P<S>[0-5][0-9]|60)"
_MS2 = r"(?P<M>[0-5][0-9])(?P<S>[0-5][0-9]|60)"
_f = r"(?P<f>[.,][0-9]{1,9}|:[0-9]{3}(?![0-9]))"
_p = r"(?: ?(?P<p>[AaPp]\.?[Mm]\.?)(?![A-Za-z]))"
_z = r"(?P<z>Z(?![A-Za-z])|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9](?![0-9])|[+-][01][0-9](?![0-9:]))"
_Zname = rf"(?P<Z>{_ZONES})(?![A-Za-z])"
_ZONE = rf"(?: ?{_z}| {_Zname})?"
_TIME = rf"{_H}:{_MS}{_f}?{_p}?"
_TIME2 = rf"{_H2}{_MS2}{_f}?"
_SEP = r"(?:T| +|-|:|_|, ?|\.| @ )"
_LEFT = r"(?<![0-9A-Za-z])(?<![0-9][-/.:])"
_RIGHT = r"(?![0-9])"


def _date_time(date: str, time: str = _TIME, sep: str = _SEP) -> str:
    return rf"{_LEFT}(?:{_a} +)?{date}{sep}{time}{_ZONE}{_RIGHT}"


_TEMPLATES: tuple[tuple[str, str], ...] = (
    # Years first.
    ("ymd", _date_time(rf"{_Y}-{_m2}-{_d2}")),
    ("ymd", _date_time(rf"{_Y}/{_m}/{_d}")),
    ("ymd", _date_time(rf"{_Y}\.{_m2}\.{_d2}")),
    ("ymd", _date_time(rf"{_Y}{_m2}{_d2}", sep=r"(?:T|-|_| |\.)")),
    ("ymd", _date_time(rf"{_Y}{_m2}{_d2}", _TIME2, sep=r"(?:T|-|_| |\.)")),
    ("ymd", _date_time(rf"{_Y}-{_j}")),
    ("ymd", _date_time(rf"{_Y} +{_b} +{_d}")),
    # Day or month first, numbers (which is which is settled by the sample: ``_DAY_FIRST``).
    ("dmy", _date_time(rf"{_d}/{_m}/{_Y}")),
    ("dmy", _date_time(rf"{_d}\.{_m}\.{_Y}")),
    ("dmy", _date_time(rf"{_d}-{_m}-{_Y}")),
    # Month names.
    ("dby", _date_time(rf"{_d}-{_b}-{_Y}")),
    ("dby", _date_time(rf"{_d}/{_b}/{_Y}")),
    ("dby", _date_time(rf"{_d} +{_b} +{_Y}")),
    ("bdy", _date_time(rf"{_b} +{_d},? +{_Y}")),
    # ctime: the year after the time, perhaps after a zone.
    ("ctime", rf"{_LEFT}(?:{_a} +)?{_b} +{_d} +{_TIME}{_ZONE} +{_Y}{_RIGHT}"),
    # Two-digit years.
    ("ymd2", _date_time(rf"{_y}/{_m2}/{_d2}", sep=" ")),
    ("ymd2", _date_time(rf"{_y}-{_m2}-{_d2}", sep=" ")),
    ("ymd2", _date_time(rf"{_y}{_m2}{_d2}", _TIME2, sep=" ")),
    # No year: the file's reference gives it.
    ("bd", _date_time(rf"{_b} +{_d}", sep=" +")),
    ("db", _date_time(rf"{_d} +{_b}", sep=" +")),
    ("md", _date_time(rf"{_m2}-{_d2}", sep=" +")),
    ("md", _date_time(rf"{_m2}/{_d2}", sep=" +")),
    ("md", _date_time(rf"{_m2}\.{_d2}", sep=" +")),
    # No date at all.
    ("time", rf"{_LEFT}{_H2}:{_MS}{_f}?{_p}?{_ZONE}{_RIGHT}"),
    # Epochs: seconds 2001-2033 (with a fraction, or not), ms, µs, ns; TAI64N labels.
    (
        EPOCH,
        r"(?<![0-9A-Za-z.:])(?P<E>1[0-9]{9}(?:\.[0-9]{1,9})?|1[0-9]{12}|1[0-9]{15}|1[0-9]{18})(?![0-9.])",
    ),
    (TAI64N, r"@(?P<T>4000000[0-9a-f]{17})(?![0-9a-f])"),
)
_COMPILED = tuple((kind, re.compile(regex)) for kind, regex in _TEMPLATES)

# The strftime directive each named group of the grammar stands for.
_DIRECTIVES = {
    "Y": "%Y",
    "y": "%y",
    "m": "%m",
    "d": "%d",
    "j": "%j",
    "b": "%B",
    "a": "%a",
    "H": "%H",
    "I": "%I",
    "M": "%M",
    "S": "%S",
    "p": "%p",
}


@dataclass(frozen=True)
class Found:
    """A stamp found in a line: where it is, its text and its signature."""

    start: int
    end: int
    text: str
    signature: str
    kind: str
    ambiguous: bool = False  # numbers day-first or month-first: the sample decides


def find_stamps(line: str, limit: int = 160, most: int = 3) -> list[Found]:
    """The stamps in the first ``limit`` characters of a line, left to right, at most ``most``.

    Where candidates overlap the one that starts first wins, then the longer one.
    """
    head = line[:limit]
    candidates: list[Found] = []
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(head):
            candidates.append(_found(kind, match))
    candidates.sort(key=lambda found: (found.start, -(found.end - found.start)))
    chosen: list[Found] = []
    for found in candidates:
        if chosen and found.start < chosen[-1].end:
            continue
        chosen.append(found)
        if len(chosen) == most:
            break
    return chosen


def _found(kind: str, match: re.Match[str]) -> Found:
    """Describe a grammar match by its signature."""
    if kind == EPOCH:
        return Found(match.start("E"), match.end("E"), match.group("E"), EPOCH, kind)
    if kind == TAI64N:
        return Found(match.start(), match.end(), match.group(), TAI64N, kind)
    text = match.group()
    origin = match.start()
    groups = sorted(
        (
            (match.start(name), match.end(name), name)
            for name, value in match.groupdict().items()
            if value is not None
        ),
    )
    twelve_hour = match.groupdict().get("p") is not None
    parts: list[str] = []
    at = origin
    for start, end, name in groups:
        parts.append(_literal(text[at - origin : start - origin]))
        letter = "I" if name == "H" and twelve_hour else name
        parts.append(_directive(letter, match.group(name)))
        at = end
    parts.append(_literal(text[at - origin :]))
    signature = "".join(parts)
    ambiguous = kind == "dmy" and int(match.group("d")) <= 12
    return Found(origin, match.end(), text, signature, kind, ambiguous)


def _literal(text: str) -> str:
    """Literal text of a signature: whitespace runs as one space, % doubled."""
    return re.sub(r"\s+", " ", text).replace("%", "%%")


def _directive(name: str, value: str) -> str:
    if name == "f":
        return {".": "%.f", ",": "%,f", ":": "%:f"}[value[0]]
    if name == "z":
        return "%#z"
    if name == "Z":
        return "%Z"
    return _DIRECTIVES[name]


def month_first(signature: str) -> str:
    """The month-first reading of a day-first signature (``%d/%m/%Y`` -> ``%m/%d/%Y``)."""
    return signature.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


# What each directive matches in a line, for the regexes that read a whole file.
_DIRECTIVE_REGEX = {
    "%Y": "[0-9]{4}",
    "%y": "[0-9]{2}",
    "%m": "[0-9]{1,2}",
    "%d": "[0-9]{1,2}",
    "%j": "[0-9]{3}",
    "%B": r"\pL{3,9}\.?",
    "%a": r"[A-Za-z]{3,9}\.?,?",
    "%H": "[0-9]{1,2}",
    "%I": "[0-9]{1,2}",
    "%M": "[0-9]{2}",
    "%S": "[0-9]{2}",
    "%p": "[AaPp]\\.?[Mm]\\.?",
    "%.f": r"(?:\.[0-9]{1,9})?",
    "%,f": r"(?:,[0-9]{1,9})?",
    "%:f": r"(?::[0-9]{3})?",
    "%#z": r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)",
    "%Z": r"[A-Z]{2,5}",
    "%%": "%",
}
_TWO_DIGITS = ("%m", "%d", "%H", "%I", "%M", "%S")
_SIGNATURE_TOKEN = re.compile(r"%[.,:#]?[A-Za-z%]")


def stamp_regex(signature: str) -> str:
    """A regex (Rust syntax, ASCII classes) that matches the stamps a signature reads."""
    if signature == EPOCH:
        return r"[0-9]{10}(?:\.[0-9]{1,9})?|[0-9]{13}|[0-9]{16}|[0-9]{19}"
    if signature == TAI64N:
        return "@4000000[0-9a-f]{17}"
    tokens = list(_SIGNATURE_TOKEN.finditer(signature))
    parts: list[str] = []
    at = 0
    for number, token in enumerate(tokens):
        parts.append(_literal_regex(signature[at : token.start()]))
        directive = token.group()
        # Numbers written without a separator between them (%Y%m%d) have fixed widths.
        glued = (number > 0 and tokens[number - 1].end() == token.start()) or (
            number + 1 < len(tokens) and tokens[number + 1].start() == token.end()
        )
        if glued and directive in _TWO_DIGITS:
            parts.append("[0-9]{2}")
        else:
            parts.append(_DIRECTIVE_REGEX.get(directive, re.escape(directive)))
        at = token.end()
    parts.append(_literal_regex(signature[at:]))
    return "".join(parts)


def _literal_regex(text: str) -> str:
    return "".join("[ \t]+" if char == " " else re.escape(char) for char in text)
