"""Log levels: normalising the many spellings, and inferring a level from a message.

Every level loglens reports is one of ``LEVELS`` (TRACE < DEBUG < INFO < NOTICE < WARNING <
ERROR < CRITICAL). Spellings map to them through ``LEVEL_SPELLINGS`` (case-insensitive), syslog
PRI values through their severity (PRI mod 8), HTTP statuses through their class.

Inference rule, a last resort for formats whose lines carry no level (syslog without ``<PRI>``,
access logs without a status, plain text): look for keywords in the message and take the most
severe level whose keywords occur, INFO if none does. Keywords, ASCII case-insensitive, in the
word forms that say the thing happened:

- CRITICAL: ``fatal``, ``panic``/``panicked``/``panicking``, ``emerg``/``emergency``
- ERROR: ``error``/``errored``, ``fail``/``fails``/``failed``/``failing``/``failure``,
  ``denied``, ``refused``, ``exception``, ``unable to``, ``cannot``, ``can't``,
  ``segfault``/``segfaulted``, ``abort``/``aborted``/``aborting``
- WARNING: ``warn``/``warning``, ``invalid``, ``deprecated``, ``timed out``, ``timeout``

A keyword counts only as a whole word: the characters on either side must not be a letter, a
digit or one of ``_ - . /``, which glue it into a name (``terrorist``, ``liberror-perl``,
``error_log``, ``error.c``, ``/var/log/error.log``, ``non-fatal``). Dots, dashes and slashes
that end the word, as in ``failed.`` or ``error...``, are punctuation. Class names count too:
CamelCase, case-sensitive, ending in ``Exception`` or ``Error`` (ERROR) or ``Warning`` (WARNING),
after a dot of their package as well (``NullPointerException``, ``java.io.IOException:``,
``ValueError:``, ``DeprecationWarning``).

Counts and negations are no hits: plurals (``errors``, ``failures``, ``warnings``) are not
keywords, and a keyword right after ``no``, ``not``, ``without``, ``zero`` or ``0`` (with only
blanks between) is dropped, so ``0 failed``, ``no error`` and ``without failure`` are INFO.
Other keywords in the same message still count.

The cost is one Aho-Corasick pass over the whole column for the keywords' stems; only the
(usually few) messages it finds are searched with the strict regexes.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")

_APACHE_TRACES = tuple(f"TRACE{n}" for n in range(1, 9))
_POSTGRES_DEBUGS = tuple(f"DEBUG{n}" for n in range(1, 6))
_EMERGENCIES = ("EMERG", "EMERGENCY", "PANIC", "PANI")
_WORD_SPELLINGS: Mapping[str, tuple[str, ...]] = {
    # TRACE1..8 are Apache's, the four-letter forms logrus's, the three-letter ones zerolog's.
    "TRACE": ("TRACE", "TRAC", "TRC", "FINEST", "FINER", "VERBOSE", *_APACHE_TRACES),
    # DEBUG1..5 and LOG (its INFO) are PostgreSQL's, SYSTEM (always logged, informational)
    # MySQL 8's.
    "DEBUG": ("DEBUG", "DEBU", "DBG", "FINE", "CONFIG", *_POSTGRES_DEBUGS),
    "INFO": ("INFO", "INF", "INFORMATION", "INFORMATIONAL", "LOG", "SYSTEM"),
    "NOTICE": ("NOTICE", "NOTE", "NTC"),
    "WARNING": ("WARNING", "WARN", "WRN"),
    "ERROR": ("ERROR", "ERRO", "ERR", "SEVERE", "FAILURE"),
    "CRITICAL": ("CRITICAL", "CRIT", "CRT", "FATAL", "FATA", "FTL", "ALERT", *_EMERGENCIES),
}

# Single letters (glog, logcat, Serilog-ish) are levels only where a format puts them in a
# level field; they never appear in LEVEL_WORD, which finds level words in free text.
_LETTER_SPELLINGS: Mapping[str, str] = {
    "V": "TRACE",
    "T": "TRACE",
    "D": "DEBUG",
    "I": "INFO",
    "N": "NOTICE",
    "W": "WARNING",
    "E": "ERROR",
    "F": "CRITICAL",
    "A": "CRITICAL",
    "C": "CRITICAL",
}

# Redis writes its level as a mark: . debug, - verbose, * notice, # warning. Like letters,
# they are levels only in a format's level field.
_MARK_SPELLINGS: Mapping[str, str] = {".": "DEBUG", "-": "DEBUG", "*": "NOTICE", "#": "WARNING"}

# Syslog severities 0-7 (RFC 5424) and the bunyan/pino numeric levels used by JSON loggers.
_NUMERIC_SPELLINGS: Mapping[str, str] = {
    "0": "CRITICAL",
    "1": "CRITICAL",
    "2": "CRITICAL",
    "3": "ERROR",
    "4": "WARNING",
    "5": "NOTICE",
    "6": "INFO",
    "7": "DEBUG",
    "10": "TRACE",
    "20": "DEBUG",
    "30": "INFO",
    "40": "WARNING",
    "50": "ERROR",
    "60": "CRITICAL",
}

LEVEL_SPELLINGS: Mapping[str, str] = {
    **{word: level for level, words in _WORD_SPELLINGS.items() for word in words},
    **_LETTER_SPELLINGS,
    **_MARK_SPELLINGS,
    **_NUMERIC_SPELLINGS,
}

# The spellings as they are usually written (upper, lower and capitalised), looked up directly.
_PLAIN_SPELLINGS: Mapping[str, str] = {
    variant: level
    for spelling, level in LEVEL_SPELLINGS.items()
    for variant in (spelling, spelling.lower(), spelling.capitalize())
}

# Level words, longest first so that an alternation prefers WARNING to WARN.
_LEVEL_WORDS = sorted(
    (w for words in _WORD_SPELLINGS.values() for w in words), key=lambda w: (-len(w), w)
)
_UPPER = "|".join(_LEVEL_WORDS)
_LOWER = "|".join(w.lower() for w in _LEVEL_WORDS)
# A level word in any case: for a field where a format puts its level.
LEVEL_WORD = f"(?i:{_UPPER})"
# A level word where a header may or may not have one: capitalised words ("Note", "Fine") start
# sentences, so only capitals, lower case, bracketed ("[Info]") or colon-ended ("Error:") count.
# The brackets and colon end up in the captured text; normalize_level strips them.
LEVEL_WORD_STRICT = rf"(?:[\[(<]{LEVEL_WORD}[\])>]|{LEVEL_WORD}:|(?:{_UPPER}|{_LOWER})(?:[ \t]|$))"

# Per level, most severe first: the stems the pre-filter looks for, and the word forms that
# count (a regex alternation). Every form contains a stem, or the pre-filter would miss it.
_INFERENCE_KEYWORDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("CRITICAL", ("fatal", "panic", "emerg"), r"fatal|panic(?:ked|king)?|emerg(?:ency)?"),
    (
        "ERROR",
        (
            "error",
            "fail",
            "denied",
            "refused",
            "exception",
            "unable to",
            "cannot",
            "can't",
            "segfault",
            "abort",
        ),
        r"error(?:ed)?|fail(?:s|ed|ing|ure)?|denied|refused|exception|unable to|cannot|can't"
        r"|segfault(?:ed)?|abort(?:ed|ing)?",
    ),
    (
        "WARNING",
        ("warn", "invalid", "deprecated", "timed out", "timeout"),
        r"warn(?:ing)?|invalid|deprecated|timed out|timeout",
    ),
)
# CamelCase class names that count at the level, case-sensitive (their suffixes are stems).
_CLASS_SUFFIXES: Mapping[str, str] = {"ERROR": "Exception|Error", "WARNING": "Warning"}

_ALL_STEMS = [stem for _, stems, _ in _INFERENCE_KEYWORDS for stem in stems]
# A character that glues a word into a longer name, and the edges of a whole word.
_GLUE = r"A-Za-z0-9_./\-"
_WORD_START = rf"(?:^|[^{_GLUE}])"
_WORD_END = rf"[./\-]*(?:$|[^{_GLUE}])"
# A class name may follow the dot of its package: java.io.IOException.
_CLASS_START = r"(?:^|[^A-Za-z0-9_/\-])"
# A negation word and the keyword right after it; infer_levels blanks these out before ranking.
_ANY_KEYWORD = "|".join(forms for _, _, forms in _INFERENCE_KEYWORDS)
_NEGATED = rf"(?i){_WORD_START}(?:no|not|without|zero|0)[ \t]+(?:{_ANY_KEYWORD})"


def _level_regex(level: str, forms: str) -> str:
    """The regex that finds a keyword of a level as a whole word, or one of its class names."""
    keyword = rf"{_WORD_START}(?i:{forms}){_WORD_END}"
    if level not in _CLASS_SUFFIXES:
        return keyword
    return rf"{keyword}|{_CLASS_START}(?:[A-Z][A-Za-z0-9]*)?(?:{_CLASS_SUFFIXES[level]}){_WORD_END}"


_LEVEL_REGEXES: tuple[tuple[str, str], ...] = tuple(
    (level, _level_regex(level, forms)) for level, _, forms in _INFERENCE_KEYWORDS
)

_SEVERITY_LEVELS = (
    "CRITICAL",
    "CRITICAL",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
)
# Strip the brackets and punctuation that generic formats capture around a level word.
_LEVEL_PUNCTUATION = "[]()<>:|- "


def normalize_level(text: pl.Expr) -> pl.Expr:
    """Map level spellings (any case, optionally bracketed) to LEVELS; unknown ones to null."""
    stripped = text.str.strip_chars(_LEVEL_PUNCTUATION)
    # A mark alone ("-") is the spelling itself, not punctuation around one.
    return (
        pl.when(stripped == "")
        .then(text)
        .otherwise(stripped)
        .str.to_uppercase()
        .replace_strict(LEVEL_SPELLINGS, default=None, return_dtype=pl.String)
    )


def level_from_syslog_pri(pri: pl.Expr) -> pl.Expr:
    """Map a syslog PRI (facility * 8 + severity, as text) to a level."""
    severity = pri.cast(pl.Int64, strict=False) % 8
    return severity.replace_strict(
        list(range(8)), list(_SEVERITY_LEVELS), default=None, return_dtype=pl.String
    )


def level_from_http_status(status: pl.Expr) -> pl.Expr:
    """Map an HTTP status (as text) to a level: 5xx ERROR, 4xx WARNING, else INFO."""
    code = status.cast(pl.Int64, strict=False)
    return (
        pl.when(code >= 500)
        .then(pl.lit("ERROR"))
        .when(code >= 400)
        .then(pl.lit("WARNING"))
        .when(code.is_not_null())
        .then(pl.lit("INFO"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def normalize_levels(text: pl.Series) -> pl.Series:
    """Like ``normalize_level`` on a column, with a fast path for plainly written levels."""
    plain = text.replace_strict(_PLAIN_SPELLINGS, default=None, return_dtype=pl.String)
    if plain.null_count() == text.null_count():
        return plain
    return text.to_frame("level").select(normalize_level(pl.col("level"))).to_series()


def infer_levels(messages: pl.Series) -> pl.Series:
    """Infer a level from each message's keywords (the rule in this module's docstring)."""
    inferred = pl.repeat("INFO", len(messages), dtype=pl.String, eager=True)
    # One cheap pass finds the (usually few) messages with a stem; only those see the regexes.
    candidate = messages.str.contains_any(_ALL_STEMS, ascii_case_insensitive=True)
    positions = candidate.arg_true()
    # A blank in place of each negated keyword keeps the word boundary around it.
    unranked = messages.filter(candidate).str.replace_all(_NEGATED, " ")
    # Most severe first; each level searches only the messages no level above has taken.
    for level, regex in _LEVEL_REGEXES:
        if unranked.is_empty():
            break
        found = unranked.str.contains(regex)
        inferred = inferred.scatter(positions.filter(found), level)
        positions, unranked = positions.filter(~found), unranked.filter(~found)
    return inferred
