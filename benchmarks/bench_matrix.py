"""Throughput and memory of the full analysis over a matrix of logs, against two baselines.

    python benchmarks/bench_matrix.py [--size 256MiB] [--only NAME...] [--workers N] [--rounds N]

Cells (each a file of `--size`, generated once and cached under benchmarks/out/matrix/):
- `gen:FORMAT`: every format of the project's generator (`python -m loglens.synth big`);
- `length:N`: Python-logging lines of about N bytes (60 to 400), 500 templates;
- `templates:K`: lines of about 120 bytes from K templates (50 to 20,000);
- `loghub:SYSTEM`: each shared loghub 2k log (../shared/loghub2k) repeated to the size.
Lines of the `length` and `templates` cells come from a generator written here, not the
project's, so that the analysis is measured on logs it was not built against.

Per cell, one after the other: the textbook analyser (one process, one regex per line:
levels and raw error messages), the 2-process bytes-regex level-count kernel (the aim), and
`python processor.py FILE --json` with the peak PSS of all its processes. The table gives
loglens / textbook and loglens / kernel per cell, then the worst and the median ratio.
With `--rounds N` the three run N times in turn on each cell: the table gives the median
of each ratio over the rounds and the range of the textbook ratio (a busy neighbour on a
shared machine moves one run by a third or more), and the peak PSS of all rounds.
Targets (issue 16): every cell <= 0.8x the textbook, median <= 0.6x, PSS <= 300 MiB, and
toward 2x the kernel. The machine is shared: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.baselines import level_kernel, textbook  # noqa: E402
from benchmarks.bench_throughput import run_measured  # noqa: E402
from loglens.config import parse_size  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "matrix"
LOGHUB = ROOT.parent / "shared" / "loghub2k"
GENERATOR_FORMATS = (
    "syslog", "syslog5424", "apache_access", "apache_error", "nginx_error", "python", "log4j",
    "zookeeper", "hdfs", "spark", "jsonl", "logfmt", "bgl",
)  # fmt: skip
LENGTHS = (60, 120, 250, 400)
TEMPLATE_COUNTS = (50, 1_000, 20_000)
LOGHUB_SYSTEMS = ("Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "Spark", "Zookeeper")
LEVELS = ("INFO",) * 70 + ("WARNING",) * 20 + ("ERROR",) * 8 + ("DEBUG",) * 2
WORDS = (
    "request", "session", "cache", "worker", "queue", "token", "upstream", "client", "server",
    "replica", "shard", "index", "payment", "invoice", "order", "user", "account", "backend",
    "node", "disk", "volume", "snapshot", "lease", "lock", "job", "retry", "timeout",
    "connect", "read", "write", "flush", "commit", "rollback", "open", "close", "sync",
)  # fmt: skip


def cells() -> dict[str, Callable[[Path, int], None]]:
    """Every cell's name and how to write its file of a given size."""
    table: dict[str, Callable[[Path, int], None]] = {}
    for fmt in GENERATOR_FORMATS:
        table[f"gen:{fmt}"] = functools.partial(_generate, fmt=fmt)
    for length in LENGTHS:
        table[f"length:{length}"] = functools.partial(_write_lines, length=length, templates=500)
    for count in TEMPLATE_COUNTS:
        table[f"templates:{count}"] = functools.partial(_write_lines, length=120, templates=count)
    for system in LOGHUB_SYSTEMS:
        table[f"loghub:{system}"] = functools.partial(_repeat, system=system)
    return table


def _generate(path: Path, size: int, fmt: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "loglens.synth", "big", str(path), "--size", str(size),
         "--format", fmt],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _repeat(path: Path, size: int, system: str) -> None:
    source = (LOGHUB / system / f"{system}_2k.log").read_bytes()
    with path.open("wb") as out:
        for _ in range(size // len(source) + 1):
            out.write(source)


def _write_lines(path: Path, size: int, length: int, templates: int) -> None:
    """Python-logging lines of about `length` bytes from `templates` statements, each with
    its own constant words and a few variables (ids, numbers, addresses)."""
    rng = random.Random(length * 100_003 + templates)
    statements = [
        [rng.choice(WORDS) for _ in range(rng.randint(3, 7))] for _ in range(max(1, templates))
    ]
    loggers = [f"{rng.choice(WORDS)}.{rng.choice(WORDS)}" for _ in range(20)]
    written = 0
    second = 1_738_238_400.0
    with path.open("w") as out:
        while written < size:
            lines = []
            for _ in range(10_000):
                second += rng.random() * 0.01
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
                words = rng.choice(statements)
                level, logger = rng.choice(LEVELS), rng.choice(loggers)
                head = f"{stamp},{rng.randrange(1000):03d} {level} [{logger}] "
                message = " ".join(
                    f"{word} {rng.getrandbits(32):08x}" if i % 2 else word
                    for i, word in enumerate(words)
                )
                line = head + message
                while len(line) < length - 12:
                    line += f" n={rng.randrange(10**6)}"
                lines.append(line[: max(length - 1, len(head) + 8)] + "\n")
            text = "".join(lines)
            out.write(text)
            written += len(text)


def ensure(name: str, make: Callable[[Path, int], None], size: int) -> Path:
    """The cell's file, made once and cached."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name.replace(':', '-')}-{size}.log"
    if not path.exists():
        print(f"writing {path.name} …", file=sys.stderr)
        partial = path.with_suffix(".partial")
        make(partial, size)
        partial.rename(path)
    return path


def measure(path: Path, workers: int) -> dict[str, float]:
    """Textbook, kernel and loglens on one file, one after the other."""
    started = time.perf_counter()
    textbook(path)
    book = time.perf_counter() - started
    started = time.perf_counter()
    level_kernel(path)
    kernel = time.perf_counter() - started
    seconds, pss_kib, _rss, _out = run_measured(
        [sys.executable, "processor.py", str(path), "--json", "--quiet", "--workers", str(workers)]
    )
    return {"textbook": book, "kernel": kernel, "loglens": seconds, "pss": pss_kib / 1024}


def main() -> None:
    """Measure every cell and print the table, the worst and the median."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="256MiB", help="size of each cell's file (256MiB)")
    parser.add_argument("--only", nargs="*", default=[], help="cells whose names start so")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each cell (1)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    size = parse_size(args.size, "--size")
    table = cells()
    names = [n for n in table if not args.only or any(n.startswith(o) for o in args.only)]
    if not names:
        parser.error(f"no cell starts with {args.only}; cells: {', '.join(table)}")
    print(f"{'cell':22} {'MB':>6} {'textbook':>9} {'kernel':>7} {'loglens':>8} "
          f"{'/book':>6} {'/kernel':>8} {'PSS MiB':>8}"
          + ("  /book range" if args.rounds > 1 else ""))  # fmt: skip
    ratios: list[float] = []
    worst_pss = 0.0
    for name in names:
        path = ensure(name, table[name], size)
        runs = [measure(path, args.workers) for _ in range(args.rounds)]
        result = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        by_book = [run["loglens"] / run["textbook"] for run in runs]
        ratio = statistics.median(by_book)
        by_kernel = statistics.median(run["loglens"] / run["kernel"] for run in runs)
        pss = max(run["pss"] for run in runs)
        ratios.append(ratio)
        worst_pss = max(worst_pss, pss)
        spread = f"  {min(by_book):.2f}-{max(by_book):.2f}" if args.rounds > 1 else ""
        print(
            f"{name:22} {path.stat().st_size / 1e6:6.0f} {result['textbook']:8.2f}s "
            f"{result['kernel']:6.2f}s {result['loglens']:7.2f}s {ratio:6.2f} "
            f"{by_kernel:8.2f} {pss:8.0f}{spread}",
            flush=True,
        )
    print(
        f"worst ratio {max(ratios):.2f} (target <= 0.8), median {statistics.median(ratios):.2f} "
        f"(target <= 0.6), worst PSS {worst_pss:.0f} MiB (target <= 300), over {len(ratios)} cells"
    )


if __name__ == "__main__":
    main()
