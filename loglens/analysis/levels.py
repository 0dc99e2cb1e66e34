"""Log levels: normalising the many spellings, and inferring a level from a message.

Every level loglens reports is one of ``LEVELS`` (TRACE < DEBUG < INFO < NOTICE < WARNING <
ERROR < CRITICAL). Spellings map to them through ``LEVEL_SPELLINGS`` (case-insensitive), syslog
PRI values through their severity (PRI mod 8), HTTP statuses through their class.

Inference rule, for formats whose lines carry no level (syslog without ``<PRI>``, access logs
without a status, plain text): like lnav, look for keywords anywhere in the message, ASCII
case-insensitive, as substrings (so ``fail`` also finds ``failed`` and ``failure``), and take the
most severe level whose keywords occur:

- CRITICAL: ``fatal``, ``panic``, ``emerg``
- ERROR: ``error``, ``fail``, ``denied``, ``refused``, ``exception``, ``unable to``,
  ``cannot``, ``can't``, ``segfault``, ``abort``
- WARNING: ``warn``, ``invalid``, ``deprecat``, ``timed out``, ``timeout``
- INFO otherwise.

Substrings are used on purpose: the test is one Aho-Corasick pass per level over the whole
column, and word forms (``failed``, ``errors``, ``Exception``) matter more than the rare false hit.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")

_APACHE_TRACES = tuple(f"TRACE{n}" for n in range(1, 9))
_EMERGENCIES = ("EMERG", "EMERGENCY", "PANIC", "PANI")
_WORD_SPELLINGS: Mapping[str, tuple[str, ...]] = {
    # TRACE1..8 are Apache's, the four-letter forms logrus's, the three-letter ones zerolog's.
    "TRACE": ("TRACE", "TRAC", "TRC", "FINEST", "FINER", "VERBOSE", *_APACHE_TRACES),
    "DEBUG": ("DEBUG", "DEBU", "DBG", "FINE", "CONFIG"),
    "INFO": ("INFO", "INF", "INFORMATION", "INFORMATIONAL"),
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

_INFERENCE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CRITICAL", ("fatal", "panic", "emerg")),
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
    ),
    ("WARNING", ("warn", "invalid", "deprecat", "timed out", "timeout")),
)

# WARNING must stay last: infer_levels ranks a message that has some keyword but neither a
# CRITICAL nor an ERROR one as WARNING.
_ALL_KEYWORDS = [keyword for _, keywords in _INFERENCE_KEYWORDS for keyword in keywords]
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
    return (
        text.str.strip_chars(_LEVEL_PUNCTUATION)
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
    # One pass finds the (usually few) messages with any keyword; only those are ranked.
    hit = messages.str.contains_any(_ALL_KEYWORDS, ascii_case_insensitive=True)
    if not hit.any():
        return inferred
    ranked = pl.lit("WARNING")
    for level, keywords in reversed(_INFERENCE_KEYWORDS[:-1]):
        found = pl.col("message").str.contains_any(list(keywords), ascii_case_insensitive=True)
        ranked = pl.when(found).then(pl.lit(level)).otherwise(ranked)
    levels = messages.filter(hit).to_frame("message").select(ranked).to_series()
    return inferred.scatter(hit.arg_true(), levels)
