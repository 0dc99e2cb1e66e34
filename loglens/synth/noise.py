"""The mess: stack traces, binary garbage, latin-1 words and free-text junk lines.

Lines are ``str``; raw bytes that are not UTF-8 are carried as lone surrogates
(``surrogateescape``) so a whole batch is encoded in one call and round-trips exactly.
"""

from __future__ import annotations

import random

from loglens.synth import vocab
from loglens.synth.values import Values

# Bytes that would split a binary line in two for some reader (bytes.splitlines, or
# str.splitlines after decoding), which would make the truth's line count depend on the reader.
_LINE_BREAKING = bytes([0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E])
LATIN1_WORDS: tuple[str, ...] = tuple(
    word.decode("utf-8", "surrogateescape") for word in vocab.LATIN1_WORDS
)


class Noise:
    """Make the lines that are not plain entries, drawing from one seeded generator."""

    def __init__(self, rng: random.Random, values: Values) -> None:
        """Share the generator's ``rng`` and variable parts so output stays deterministic."""
        self._rng = rng
        self._values = values

    def binary(self) -> str:
        """Return 8-71 random bytes including at least one NUL, surrogate-escaped."""
        rng = self._rng
        raw = bytearray(rng.randbytes(8 + rng.getrandbits(6)).translate(None, _LINE_BREAKING))
        raw.insert(rng.getrandbits(16) % (len(raw) + 1), 0)
        return raw.decode("utf-8", "surrogateescape")

    def junk(self) -> str:
        """Return a line of free text that has no header and does not look like a continuation."""
        rng = self._rng
        words = [rng.choice(vocab.JUNK_WORDS) for _ in range(2 + rng.getrandbits(2))]
        tail = f" {rng.getrandbits(10)}" if rng.getrandbits(1) else ""
        return f"{rng.choice(vocab.JUNK_OPENERS)} {' '.join(words)}{tail}"

    def latin1_word(self) -> str:
        """Return a word holding one latin-1 byte (invalid as UTF-8)."""
        return LATIN1_WORDS[self._rng.getrandbits(3) % len(LATIN1_WORDS)]

    def java_trace(self, subsystem: str, class_stem: str) -> list[str]:
        """Return a Java stack trace, sometimes with a ``Caused by`` section."""
        rng = self._rng
        package = f"io.{vocab.SUBSYSTEMS[subsystem][0]}"
        lines = [f"{rng.choice(vocab.JAVA_EXCEPTIONS)}: {self._reason()}"]
        lines.extend(self._java_frames(package, class_stem, 2 + rng.getrandbits(3)))
        if rng.getrandbits(2) == 0:
            lines.append(f"Caused by: {rng.choice(vocab.JAVA_EXCEPTIONS)}: {self._reason()}")
            lines.extend(self._java_frames(package, class_stem, 1 + rng.getrandbits(2)))
            lines.append(f"\t... {3 + rng.getrandbits(4)} more")
        return lines

    def python_trace(self, subsystem: str, class_stem: str) -> list[str]:
        """Return a Python traceback ending in the exception line."""
        rng = self._rng
        module_dir = vocab.SUBSYSTEMS[subsystem][0].replace(".", "/")
        lines = ["Traceback (most recent call last):"]
        for _ in range(1 + rng.getrandbits(2)):
            function = rng.choice(vocab.JAVA_METHODS).lower()
            lines.append(
                f'  File "/opt/quarry/lib/{module_dir}/{class_stem.lower()}.py", '
                f"line {10 + rng.getrandbits(9)}, in {function}"
            )
            lines.append(f"    {rng.choice(vocab.PYTHON_CODE_LINES)}")
        lines.append(f"{rng.choice(vocab.PYTHON_EXCEPTIONS)}: {self._reason()}")
        return lines

    def _java_frames(self, package: str, class_stem: str, count: int) -> list[str]:
        """Return ``count`` frames of our own code followed by one or two library frames."""
        rng = self._rng
        frames = [
            f"\tat {package}.{class_stem}.{rng.choice(vocab.JAVA_METHODS)}"
            f"({class_stem}.java:{20 + rng.getrandbits(9)})"
            for _ in range(count)
        ]
        frames.extend(f"\tat {frame}" for frame in rng.sample(vocab.JAVA_LIBRARY_FRAMES, 2))
        return frames

    def _reason(self) -> str:
        """Return the message of an exception."""
        values = self._values
        choice = self._rng.getrandbits(2)
        if choice == 0:
            return f"connection to {values.hostport()} reset by peer"
        if choice == 1:
            return f"state {values.hex32()} is not valid here"
        if choice == 2:
            return f"deadline of {values.duration()} exceeded"
        return f"cannot access {values.path()}"
