"""Level shifts: a sustained change in the mix of levels."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from loglens.analysis.anomalies.model import (
    ERROR_LEVELS,
    HISTORY_BUCKETS,
    MIN_HISTORY,
    SHIFT_DIVERGENCE,
    SHIFT_G,
    SHIFT_GAP,
    SHIFT_MIN_ENTRIES,
    SHIFT_NEW_NORMAL,
    SHIFT_RUN,
    Anomaly,
    Context,
    clock,
)
from loglens.analysis.vocabulary import FINE_LEVELS, LEVEL_ORDER, MICROS_PER_MINUTE


def level_shifts(ctx: Context) -> None:
    """Runs of buckets whose mix of levels differs from the usual mix.

    The usual mix is that of the last `HISTORY_BUCKETS` active buckets that were not part
    of a shift, so a shift stays visible for as long as it lasts instead of becoming its
    own baseline, and the return to normal is not a second shift. A shift goes on through
    up to `SHIFT_GAP` usual-looking buckets in a row (a lull, or a bucket too small to
    tell), and one that outlasts `SHIFT_NEW_NORMAL` buckets becomes the new normal.
    Buckets of fewer than `SHIFT_MIN_ENTRIES` entries are skipped. A bucket differs when the
    divergence is large enough to matter (`SHIFT_DIVERGENCE`) and too large to be chance
    (a G-test over the bucket's counts, `SHIFT_G`).
    """
    rows = ctx.frame.select(LEVEL_ORDER).rows()
    usual: deque[tuple[int, ...]] = deque(maxlen=HISTORY_BUCKETS)
    run: list[tuple[int, float, tuple[int, ...], tuple[int, ...]]] = []
    gap: list[tuple[int, tuple[int, ...]]] = []  # unshifted buckets since the run's last

    def close() -> None:
        if len(run) >= SHIFT_RUN:
            _report_shift(ctx, run)
        run.clear()

    for index, counts in enumerate(rows):
        if sum(counts) < SHIFT_MIN_ENTRIES:
            continue  # too few entries to say anything of the mix (a silence is its own kind)
        reference = tuple(map(sum, zip(*usual, strict=True))) if usual else ()
        divergence = _shift(counts, reference) if len(usual) >= MIN_HISTORY else None
        if divergence is None:
            if run and len(gap) < SHIFT_GAP:
                gap.append((index, counts))  # a lull inside a shift, or its end: see next
                continue
            close()
            usual.extend(counts for _index, counts in gap)
            gap.clear()
            usual.append(counts)
            continue
        run.extend((i, 0.0, c, reference) for i, c in gap)  # the shift went on through it
        gap.clear()
        run.append((index, divergence, counts, reference))
        if len(run) >= SHIFT_NEW_NORMAL:
            recent = [counts for _index, _div, counts, _ref in run[-HISTORY_BUCKETS:]]
            close()
            usual.clear()
            usual.extend(recent)
    close()


def _shift(counts: tuple[int, ...], reference: tuple[int, ...]) -> float | None:
    """The divergence (bits) of a bucket's mix from the reference mix, or None when the
    bucket or the reference is too small, or the difference too small or likely chance."""
    total, reference_total = sum(counts), sum(reference)
    if total < SHIFT_MIN_ENTRIES or reference_total < SHIFT_MIN_ENTRIES:
        return None
    # Half a count on every level, so that a level the reference never had is not
    # infinitely surprising.
    smoothed = [(count + 0.5) / (reference_total + 0.5 * len(reference)) for count in reference]
    observed = [count / total for count in counts]
    g = 2 * sum(c * math.log(c / (total * q)) for c, q in zip(counts, smoothed, strict=True) if c)
    if g < SHIFT_G:
        return None
    divergence = _jensen_shannon(observed, smoothed)
    return divergence if divergence >= SHIFT_DIVERGENCE else None


def _report_shift(
    ctx: Context, run: list[tuple[int, float, tuple[int, ...], tuple[int, ...]]]
) -> None:
    """Report a run of shifted buckets, unless it is a rise of errors during an error spike
    (already reported as such)."""
    first, last = run[0][0], run[-1][0]
    frame = ctx.frame
    start = int(frame["start"][first]) * MICROS_PER_MINUTE
    end = (int(frame["start"][last]) + ctx.bucket) * MICROS_PER_MINUTE
    now = [sum(column) for column in zip(*(counts for _i, _d, counts, _r in run), strict=True)]
    reference = run[0][3]
    total, reference_total = sum(now), sum(reference)
    moves = sorted(
        ((now[i] / total, reference[i] / reference_total, level)
         for i, level in enumerate(LEVEL_ORDER)),
        key=lambda move: -abs(move[0] - move[1]),
    )[:2]  # fmt: skip
    rising = tuple(level for share, was, level in moves if share > was and level in FINE_LEVELS)
    spiking = any(a.kind == "error_spike" and a.start < end and start < a.end for a in ctx.found)
    if spiking and set(rising) <= set(ERROR_LEVELS):
        return
    changes = ", ".join(f"{level} {was:.0%} -> {share:.0%}" for share, was, level in moves)
    ctx.found.append(
        Anomaly(
            "level_shift",
            100 * max(divergence for _i, divergence, _c, _r in run),
            start,
            end,
            f"Mix of levels shifted between {clock(start)} and {clock(end)}: {changes}",
            (),
            rising,
        )
    )


def _jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """The Jensen-Shannon divergence (bits) of two distributions."""
    total = 0.0
    for a, b in zip(p, q, strict=True):
        m = (a + b) / 2
        if a > 0:
            total += a * math.log2(a / m) / 2
        if b > 0:
            total += b * math.log2(b / m) / 2
    return total
