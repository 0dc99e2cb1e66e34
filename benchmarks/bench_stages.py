"""Where the CPU goes: CPU-seconds per GiB of each stage of the analysis, per kind of log.

    python benchmarks/bench_stages.py [--size 32MiB] [--only NAME...] [--rounds 3]

For each cell of `bench_matrix` (every generator format, line lengths, template counts,
the shared loghub systems; files cached under benchmarks/out/matrix/), the file's first
`--size` bytes are one block, analysed in this process on one polars thread, as a pool
worker does. Each stage is timed with the process's CPU clock, the best of `--rounds`:

- decode: bytes to lines (encoding repairs, binary and over-long lines set apart);
- parse: the format's header fields, timestamps and levels;
- classify: entries, continuations, comments and rejections, the filters;
- mask+count: counting by level and minute, masking variables into pattern keys, series;
- templates: mining the templates from the block's patterns (the reduce, once per file);
- findings: categories and anomalies (the reduce, once per file).
The block's stages are given in CPU-seconds per GiB; the reduce's two, which run once per
file on the merged summary, in milliseconds for this block's summary.

The textbook analyser (one regex per line, `baselines.textbook`) runs on the same bytes in
the same run: `/book` is the block's CPU (decode to series) over the textbook's, the
share of a pool worker's work that issue 16 asks to bring under 0.8 (the two pool workers
then run in parallel, the textbook on one core). The machine is shared: compare ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["POLARS_MAX_THREADS"] = "1"  # as in a pool worker; before polars is imported

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from benchmarks.baselines import textbook  # noqa: E402
from benchmarks.bench_matrix import cells, ensure  # noqa: E402
from loglens.analysis import chunk  # noqa: E402
from loglens.analysis.findings import find  # noqa: E402
from loglens.analysis.lines import decode_block  # noqa: E402
from loglens.analysis.parse import ParseContext, parse_lines  # noqa: E402
from loglens.analysis.templates import build_templates  # noqa: E402
from loglens.config import load_config, parse_size  # noqa: E402
from loglens.processor.local import detect_source  # noqa: E402
from loglens.processor.options import file_source, options_from_config  # noqa: E402

BLOCK_STAGES = ("decode", "parse", "classify", "mask+count")
REDUCE_STAGES = ("templates", "findings")


def best_cpu(work: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    """The least CPU time of `rounds` runs of `work`, and its last result."""
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
    return best, result


def stages(path: Path, size: int, rounds: int) -> tuple[str, dict[str, float], float]:
    """The detected format, CPU seconds per stage, and the textbook's, on one block."""
    options = options_from_config(load_config({}))
    detection, _head, _sample = detect_source(file_source(path, path.name), options)
    fmt = detection.format
    with path.open("rb") as file:
        data = file.read(size)
    data = data[: data.rfind(b"\n") + 1]
    ctx = ParseContext(tz=options.timezone, reference=None)
    part = chunk.Part(path.name, 0, fmt)
    filters = chunk.Filters()
    limit = options.limits.max_line_bytes
    seconds: dict[str, float] = {}

    seconds["decode"], decoded = best_cpu(lambda: decode_block(data, limit), rounds)
    texts = decoded.text.fill_null("")
    seconds["parse"], _parsed = best_cpu(lambda: parse_lines(texts, fmt, ctx), rounds)
    classified, rows = best_cpu(lambda: chunk._classify(decoded, part, ctx, filters), rounds)
    seconds["classify"] = max(0.0, classified - seconds["parse"])  # _classify parses too
    whole, (summary, _events) = best_cpu(
        lambda: chunk.summarise_block(data, part, ctx, filters, max_line_bytes=limit), rounds
    )
    seconds["mask+count"] = max(0.0, whole - classified - seconds["decode"])
    seconds["templates"], templates = best_cpu(
        lambda: build_templates(summary.pattern_counts()), rounds
    )
    seconds["findings"], _found = best_cpu(lambda: find(summary, templates), rounds)

    with tempfile.NamedTemporaryFile(suffix=".log") as copy:
        copy.write(data)
        copy.flush()
        book, _counts = best_cpu(lambda: textbook(copy.name), rounds)
    assert rows.height > 0
    return f"{fmt.name}{' (learned)' if fmt.learned else ''}", seconds, book


def main() -> None:
    """Print a table of CPU-seconds per GiB by stage, and the ratio to the textbook."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="32MiB", help="bytes of each file analysed (32MiB)")
    parser.add_argument("--only", nargs="*", default=[], help="cells whose names start so")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each stage; best kept")
    args = parser.parse_args()
    size = parse_size(args.size, "--size")
    table = cells()
    names = [n for n in table if not args.only or any(n.startswith(o) for o in args.only)]
    if not names:
        parser.error(f"no cell starts with {args.only}; cells: {', '.join(table)}")
    per_gib = 2**30 / size
    print(f"CPU-seconds per GiB (first {args.size} of each cell, one polars thread)")
    header = " ".join(f"{stage:>10}" for stage in BLOCK_STAGES)
    reduce = " ".join(f"{stage + ' ms':>12}" for stage in REDUCE_STAGES)
    print(f"{'cell':18} {'format':22} {header} {'block':>7} {'book':>6} {'/book':>6} {reduce}")
    ratios = []
    for name in names:
        path = ensure(name, table[name], max(size, 64 * 2**20))
        fmt, seconds, book = stages(path, size, args.rounds)
        block = sum(seconds[stage] for stage in BLOCK_STAGES)
        ratios.append(block / book)
        cols = " ".join(f"{seconds[stage] * per_gib:10.2f}" for stage in BLOCK_STAGES)
        ms = " ".join(f"{seconds[stage] * 1000:12.0f}" for stage in REDUCE_STAGES)
        print(
            f"{name:18} {fmt[:22]:22} {cols} {block * per_gib:7.2f} {book * per_gib:6.2f}"
            f" {block / book:6.2f} {ms}"
        )
    ratios.sort()
    print(f"block / textbook CPU: worst {ratios[-1]:.2f}, median {ratios[len(ratios) // 2]:.2f}")
    print(f"polars {pl.__version__}")


if __name__ == "__main__":
    main()
