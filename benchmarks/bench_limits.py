"""Peak memory of `python processor.py` on one huge line, against ordinary lines, in one run.

    python benchmarks/bench_limits.py [--size 256MiB] [--workers 2] [--processor PATH]

Writes (once, cached under benchmarks/out/) a log of SIZE bytes that is one line with no
newline, the same line gzipped, and a generated log of ordinary lines of the same size
(the baseline). Runs `python processor.py FILE --json` on each and prints, for each:
- the peak RSS of its biggest process (the kernel's high-water mark, from getrusage of a
  helper process that waits for it: exact, no sampling);
- the peak of the RSS summed over the process tree (sampled from /proc every 20 ms);
- and the ratios of both to the baseline. Target (issue 13): the single line needs no
  more memory than ordinary lines (ratio <= 1.0); it took 14x the line before.
`--processor` runs another checkout's processor.py (say, a copy from before a change) on
the same files, to compare. The gzip case raises MAX_COMPRESSION_RATIO: a line of one
letter packs ~1000x, and the point here is memory, not the bomb check.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.proctree import process_tree, rss_kib  # noqa: E402
from loglens.config import ANALYSIS_SETTINGS, parse_size  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SAMPLE_EVERY = 0.02
# Runs a command and prints the peak RSS (KiB) of its biggest process: ru_maxrss of the
# waited-for children is the largest of them, workers included (their parent waits too).
_PEAK_OF_CHILDREN = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "sys.stderr.buffer.write(done.stderr[-2000:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def one_line(size: int) -> Path:
    """A file of `size` bytes: one entry header, then one letter, no newline at all."""
    path = OUT / f"one-line-{size}.log"
    if not path.exists():
        partial = path.with_suffix(".partial")
        head = b"2024-01-01 00:00:00,000 ERROR [main] a.B: dump "
        with partial.open("wb") as out:
            out.write(head)
            left = size - len(head)
            while left > 0:
                out.write(b"A" * min(left, 1 << 24))
                left -= min(left, 1 << 24)
        partial.rename(path)
    return path


def gzipped(path: Path) -> Path:
    """`path` gzipped beside it (once)."""
    packed = path.with_name(path.name + ".gz")
    if not packed.exists():
        partial = packed.with_suffix(".partial")
        with path.open("rb") as source, gzip.open(partial, "wb", compresslevel=6) as out:
            while piece := source.read(1 << 24):
                out.write(piece)
        partial.rename(packed)
    return packed


def ordinary_lines(size: int) -> Path:
    """A generated log4j log of `size` bytes (once)."""
    path = OUT / f"lines-{size}.log"
    if not path.exists():
        partial = path.with_suffix(".partial")
        subprocess.run(
            [sys.executable, "-m", "loglens.synth", "big", str(partial), "--size", str(size)],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        partial.rename(path)
    return path


def measure(processor: Path, path: Path, workers: int, env: dict[str, str]) -> tuple[int, int]:
    """Run processor.py on `path`; return the peak RSS of its biggest process and the
    sampled peak of its tree's RSS sum, in KiB."""
    clean = {k: v for k, v in os.environ.items() if k not in ANALYSIS_SETTINGS}
    clean.update(env)
    command = [sys.executable, "-c", _PEAK_OF_CHILDREN, sys.executable, str(processor),
               str(path), "--json", "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=processor.parent, env=clean, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(process_tree(proc.pid)[1:]))  # not the helper
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{path.name}: processor.py failed: {err.decode()[-2000:]}")
    return int(out.split()[-1]), peak[0]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="256MiB", help="size of each file (256MiB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--processor", type=Path, default=ROOT / "processor.py")
    args = parser.parse_args()
    size = parse_size(args.size, "--size")
    OUT.mkdir(parents=True, exist_ok=True)
    line = one_line(size)
    cases = [
        ("ordinary lines (baseline)", ordinary_lines(size), {}),
        ("one line, plain", line, {}),
        ("one line, gzip", gzipped(line), {"MAX_COMPRESSION_RATIO": "100000"}),
    ]
    processor = args.processor.resolve()
    print(f"processor: {processor}; {size / 2**20:.0f} MiB per file, {args.workers} workers")
    results: dict[str, dict[str, float]] = {}
    baseline = (1, 1)
    for name, path, env in cases:
        start = time.perf_counter()
        biggest, tree = measure(processor, path, args.workers, env)
        elapsed = time.perf_counter() - start
        if not results:
            baseline = (biggest, tree)
        results[name] = {"biggest_process_mib": biggest / 1024, "tree_mib": tree / 1024}
        print(
            f"{name:27} biggest process {biggest / 1024:7.1f} MiB "
            f"({biggest / baseline[0]:.2f}x)   tree {tree / 1024:7.1f} MiB "
            f"({tree / baseline[1]:.2f}x)   {elapsed:5.1f} s   [{path.name}]"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
