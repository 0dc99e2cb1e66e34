"""Synthetic logs with ground truth: thirteen formats, realistic mess, deterministic by seed.

    generation = Generation("log4j", seed=1, lines=1000, mess=SAMPLE_MESS)
    data = b"".join(generation)          # encoded blocks of whole lines
    generation.truth.entries             # what was written, counted while writing

``write_log(path, fmt, lines=... | size_bytes=..., seed=..., mess=...)`` writes a file and
returns its ``Truth``. ``python -m loglens.synth --help`` regenerates ``logs/`` and writes
benchmark files. This package imports only the standard library.
"""

from __future__ import annotations

from loglens.synth.generator import Generation, formats, generate, templates, write_log
from loglens.synth.model import (
    CLEAN,
    LEVELS,
    REASONS,
    SAMPLE_MESS,
    Mess,
    Truth,
    truth_from_json,
    truth_to_dict,
    truth_to_json,
)

__all__ = [
    "CLEAN",
    "LEVELS",
    "REASONS",
    "SAMPLE_MESS",
    "Generation",
    "Mess",
    "Truth",
    "formats",
    "generate",
    "templates",
    "truth_from_json",
    "truth_to_dict",
    "truth_to_json",
    "write_log",
]
