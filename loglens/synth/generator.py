"""Generate a log in batches of lines and count what was written.

One seeded ``random.Random`` drives everything, so a (format, seed, mess, length) always
gives the same bytes. Work is done a batch of lines at a time: templates for the whole
batch are drawn in one call, lines are joined and encoded once, and the caller gets a
block of a few hundred kilobytes.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path

from loglens.synth.formats import FORMATS, LogFormat
from loglens.synth.model import LEVEL_INDEX, LEVELS, REASONS, Mess, Truth
from loglens.synth.noise import Noise
from loglens.synth.templates import LEVEL_WEIGHTS, Template, access_templates, message_templates
from loglens.synth.values import Getter, Values

BATCH_LINES = 4096
START_US = 1_706_572_800_000_000  # 2024-01-30T00:00:00Z; a seed moves it by up to ~190 days
ZIPF_EXPONENT = 1.1  # a few templates dominate, as in real logs
_ERROR = LEVEL_INDEX["ERROR"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY, _BINARY, _INVALID, _TRUNCATED, _UNPARSEABLE = (REASONS.index(r) for r in REASONS)
_GROUP = itemgetter(4)

# (render, level index, level text, logger, group, template) — a tuple, for fast unpacking.
_Bound = tuple[Callable[[], str], int, str, str, int, Template]


def formats() -> list[str]:
    """Return the names of the formats the generator writes."""
    return list(FORMATS)


def templates(fmt: str) -> list[str]:
    """Return the masked text of each template group of ``fmt`` (index = truth template id)."""
    pool = access_templates() if _format_class(fmt).access_templates else message_templates()
    texts: dict[int, str] = {}
    for template in pool:
        texts.setdefault(template.group, template.masked())
    return [texts[group] for group in sorted(texts)]


def _format_class(fmt: str) -> type[LogFormat]:
    """Return the format class, or raise ValueError naming the known formats."""
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown log format {fmt!r}, choose one of: {', '.join(FORMATS)}"
        ) from None


def _renderer(text: str, getters: tuple[Getter, ...]) -> Callable[[], str]:
    """Return a function rendering one template, specialised on its number of slots."""
    if not getters:
        fixed = text % ()
        return lambda: fixed
    if len(getters) == 1:
        (first,) = getters
        return lambda: text % first()
    if len(getters) == 2:
        first, second = getters
        return lambda: text % (first(), second())
    return lambda: text % tuple([getter() for getter in getters])


class _Batch:
    """What one batch wrote, merged into the truth only if the batch is kept."""

    __slots__ = ("continuation", "entries", "first_us", "groups", "injected", "last_us", "levels")

    def __init__(self) -> None:
        self.entries = 0
        self.continuation = 0
        self.levels = [0] * len(LEVELS)
        self.injected = [0] * len(REASONS)
        self.first_us = -1
        self.last_us = -1
        self.groups: list[int] = []


class _Engine:
    """The state of one generation: random source, clock and bound templates."""

    def __init__(self, fmt: str, seed: int, mess: Mess, pauses: bool = True) -> None:
        # Seeding with the format too keeps two formats of one seed from sharing noise lines.
        self._rng = rng = random.Random(f"{fmt}/{seed}")
        values = Values(rng)
        self.noise = Noise(rng, values)
        self.format = _format_class(fmt)(rng, values)
        pool = access_templates() if self.format.access_templates else message_templates()
        usable = [t for t in pool if t.level in self.format.levels]
        self._bound: list[_Bound] = [
            (
                _renderer(t.text, tuple(values.getter(kind) for kind in t.slots)),
                LEVEL_INDEX[t.level],
                self.format.level_text(t),
                self.format.logger(t),
                t.group,
                t,
            )
            for t in usable
        ]
        self._cum_weights = list(accumulate(_weights(usable, rng)))
        self.clock_us = START_US + rng.getrandbits(24) * 1_000_000
        self._offsets = mess.utc_offsets_minutes if self.format.carries_offset else (0,)
        self._mess = mess
        # A gap at or below this many microseconds is stretched into a pause (of up to ~67 s);
        # -1 keeps every gap as drawn: a steady rate.
        self._pause_below = 40 if pauses else -1
        # Cumulative thresholds on one uniform draw per line choose what the line is.
        self._p_empty = mess.empty
        self._p_binary = self._p_empty + mess.binary
        self._p_truncated = self._p_binary + mess.truncated
        self._p_noise = self._p_truncated + mess.unparseable
        self._p_invalid = self._p_noise + mess.invalid_encoding

    def snapshot(self) -> tuple[object, int]:
        """Return the state needed to take back the next batch."""
        return self._rng.getstate(), self.clock_us

    def restore(self, state: tuple[object, int]) -> None:
        """Return to a state taken by ``snapshot``."""
        rng_state, self.clock_us = state
        self._rng.setstate(rng_state)  # type: ignore[arg-type]

    def batch(self, budget: int, record_groups: bool) -> tuple[str, _Batch]:
        """Return exactly ``budget`` lines (newline-terminated) and what they are."""
        rng, fmt, noise, offsets = self._rng, self.format, self.noise, self._offsets
        uniform, bits = rng.random, rng.getrandbits
        chosen = rng.choices(self._bound, cum_weights=self._cum_weights, k=budget)
        p_empty, p_binary, p_truncated = self._p_empty, self._p_binary, self._p_truncated
        p_noise, p_invalid = self._p_noise, self._p_invalid
        p_trace = self._mess.tracebacks if fmt.traces != "none" else 0.0
        line, out = fmt.line, list[str]()
        append = out.append
        tally = _Batch()
        levels, injected = tally.levels, tally.injected
        clock, offset, entries, lines = self.clock_us, offsets[0], 0, 0
        several_offsets = len(offsets) > 1
        error, pause_below = _ERROR, self._pause_below
        while lines < budget:
            lines += 1
            draw = uniform()
            if draw < p_noise:
                if draw < p_empty:
                    append("")
                    injected[_EMPTY] += 1
                elif draw < p_binary:
                    append(noise.binary())
                    injected[_BINARY] += 1
                elif draw < p_truncated:
                    append(fmt.truncated(clock, offset))
                    injected[_TRUNCATED] += 1
                else:
                    append(noise.junk())
                    injected[_UNPARSEABLE] += 1
                continue
            jitter = bits(16)  # up to 65 ms between entries, and now and then a pause
            clock += jitter if jitter > pause_below else jitter + bits(26)
            if entries == 0:
                tally.first_us = clock
            render, level, level_text, logger, _, template = chosen[entries]
            entries += 1
            if several_offsets:
                offset = offsets[bits(8) % len(offsets)]
            msg = render()
            if draw < p_invalid:
                msg = fmt.with_latin1(msg, noise.latin1_word())
                injected[_INVALID] += 1
            levels[level] += 1
            if level >= error and p_trace and uniform() < p_trace:
                trace = self._trace(template)
                if fmt.traces == "embedded":
                    append(fmt.line_with_trace(clock, offset, level_text, logger, msg, trace))
                    continue
                append(line(clock, offset, level_text, logger, msg))
                del trace[budget - lines :]  # the last entry's trace is cut to the line budget
                out.extend(trace)
                lines += len(trace)
                tally.continuation += len(trace)
            else:
                append(line(clock, offset, level_text, logger, msg))
        self.clock_us = tally.last_us = clock
        tally.entries = entries
        tally.groups = list(map(_GROUP, chosen[:entries]))
        if not record_groups:
            tally.groups = list(set(tally.groups))
        out.append("")  # so the join ends the last line with a newline too
        return "\n".join(out), tally

    def _trace(self, template: Template) -> list[str]:
        """Return the stack trace lines that follow an error entry of ``template``."""
        if self.format.traces == "java":
            return self.noise.java_trace(template.subsystem, template.class_stem)
        return self.noise.python_trace(template.subsystem, template.class_stem)


def _weights(usable: list[Template], rng: random.Random) -> list[float]:
    """Return each template's share: its level's weight, spread over the level by Zipf's law."""
    by_level: dict[str, list[int]] = {}
    for index, template in enumerate(usable):
        by_level.setdefault(template.level, []).append(index)
    weights = [0.0] * len(usable)
    for level, indices in by_level.items():
        rng.shuffle(indices)  # which templates are popular depends on the seed
        ranks = [1.0 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(indices))]
        scale = LEVEL_WEIGHTS[level] / sum(ranks)
        for index, rank_weight in zip(indices, ranks, strict=True):
            weights[index] = rank_weight * scale
    return weights


class Generation:
    """One generated log: iterate for its encoded blocks, then read ``truth``."""

    def __init__(
        self,
        fmt: str,
        seed: int,
        *,
        lines: int | None = None,
        size_bytes: int | None = None,
        mess: Mess | None = None,
        record_templates: bool = False,
        pauses: bool = True,
    ) -> None:
        """Check the arguments; exactly one of ``lines`` and ``size_bytes`` sets the length.

        ``pauses=False`` gives a steady rate (entries 0-65 ms apart, no pause of up to ~67 s
        now and then): a base for injected incidents whose only gaps are the injected ones.
        """
        _format_class(fmt)
        if (lines is None) == (size_bytes is None):
            raise ValueError("give exactly one of lines and size_bytes")
        if lines is not None and lines < 0:
            raise ValueError(f"lines is {lines}, it must be 0 or more")
        if size_bytes is not None and size_bytes < 0:
            raise ValueError(f"size_bytes is {size_bytes}, it must be 0 or more")
        self.fmt = fmt
        self.seed = seed
        self.lines = lines
        self.size_bytes = size_bytes
        self.mess = mess if mess is not None else Mess()
        self.record_templates = record_templates
        self.pauses = pauses
        self._truth: Truth | None = None

    @property
    def truth(self) -> Truth:
        """Return the truth of the bytes produced; only once iteration has finished."""
        if self._truth is None:
            raise RuntimeError(
                "the truth is known once the generation has been iterated to its end"
            )
        return self._truth

    def __iter__(self) -> Iterator[bytes]:
        """Yield the log in blocks of encoded lines, then record the truth."""
        engine = _Engine(self.fmt, self.seed, self.mess, self.pauses)
        truth = Truth(
            format=self.fmt,
            seed=self.seed,
            levels_checkable=engine.format.levels_checkable,
            entry_templates=[] if self.record_templates else None,
        )
        groups: set[int] = set()
        first_us = last_us = -1
        chunks = (
            self._by_lines(engine, self.lines)
            if self.lines is not None
            else self._by_size(engine, self.size_bytes or 0)
        )
        for data, lines, tally in chunks:
            truth.lines += lines
            truth.bytes += len(data)
            truth.entries += tally.entries
            truth.continuation_lines += tally.continuation
            for level, count in zip(LEVELS, tally.levels, strict=True):
                truth.levels[level] += count
            for reason, count in zip(REASONS, tally.injected, strict=True):
                truth.injected[reason] += count
            if tally.entries:
                first_us = tally.first_us if first_us < 0 else first_us
                last_us = tally.last_us
            groups.update(tally.groups)
            if truth.entry_templates is not None:
                truth.entry_templates.extend(tally.groups)
            yield data
        truth.templates_used = len(groups)
        if first_us >= 0:
            digits = engine.format.fraction_digits
            truth.first_timestamp = _iso(first_us, digits)
            truth.last_timestamp = _iso(last_us, digits)
        self._truth = truth

    def _by_lines(self, engine: _Engine, lines: int) -> Iterator[tuple[bytes, int, _Batch]]:
        """Yield batches until exactly ``lines`` lines are written."""
        while lines > 0:
            budget = min(BATCH_LINES, lines)
            text, tally = engine.batch(budget, self.record_templates)
            yield text.encode("utf-8", "surrogateescape"), budget, tally
            lines -= budget

    def _by_size(self, engine: _Engine, size: int) -> Iterator[tuple[bytes, int, _Batch]]:
        """Yield batches while they fit in ``size`` bytes; stop when not even one line fits."""
        written = lines_written = 0
        budget = BATCH_LINES
        while written < size:
            average = written / lines_written if lines_written else 200.0
            # Near the end aim for half the room left, so few batches are thrown away.
            budget = max(1, min(budget, BATCH_LINES, int((size - written) / average / 2)))
            state = engine.snapshot()
            text, tally = engine.batch(budget, self.record_templates)
            data = text.encode("utf-8", "surrogateescape")
            if written + len(data) > size:
                if budget == 1:
                    return
                engine.restore(state)
                budget //= 2
                continue
            written += len(data)
            lines_written += budget
            yield data, budget, tally


def _iso(ts_us: int, fraction_digits: int) -> str:
    """Return the UTC instant as ISO-8601, at the precision the format writes."""
    precision = {0: 1_000_000, 3: 1000, 6: 1}[fraction_digits]
    instant = _EPOCH + timedelta(microseconds=ts_us - ts_us % precision)
    timespec = {0: "seconds", 3: "milliseconds", 6: "microseconds"}[fraction_digits]
    return instant.isoformat(timespec=timespec)


def generate(fmt: str, lines: int, seed: int, mess: Mess | None = None) -> Iterator[bytes]:
    """Yield ``lines`` lines of ``fmt`` as encoded blocks (use ``Generation`` for the truth)."""
    return iter(Generation(fmt, seed, lines=lines, mess=mess))


def write_log(
    path: str | Path,
    fmt: str,
    *,
    lines: int | None = None,
    size_bytes: int | None = None,
    seed: int = 0,
    mess: Mess | None = None,
    record_templates: bool = False,
    pauses: bool = True,
) -> Truth:
    """Write a generated log to ``path`` (gzip-compressed if it ends in .gz); return its truth."""
    generation = Generation(
        fmt,
        seed,
        lines=lines,
        size_bytes=size_bytes,
        mess=mess,
        record_templates=record_templates,
        pauses=pauses,
    )
    path = Path(path)
    if path.suffix == ".gz":
        # No file name and a zero mtime in the gzip header, so the same log gives the same bytes.
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        ):
            for block in generation:
                compressed.write(block)
    else:
        with path.open("wb") as plain:
            for block in generation:
                plain.write(block)
    return generation.truth
