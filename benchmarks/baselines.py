"""Baselines the benchmarks compare loglens against, measured in the same run.

- ``textbook``: what a student writes first, single process, line by line.
- ``drain3_templates``: the usual template miner, with its default settings.
- ``raw_copy``: reading the file and discarding it, the I/O floor.
- ``level_kernel``: the same level counts as the textbook, with a bytes regex's `findall`
  over 64 MiB chunks on two processes: about the fastest plain Python gets (the aim).

    python benchmarks/baselines.py textbook|drain3|raw|kernel FILE
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypedDict

BLOCK_SIZE = 1 << 20
LEVEL_WORD = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|FATAL|CRITICAL)\b")


class TextbookResult(TypedDict):
    """What the textbook analyser counts."""

    lines: int
    levels: Counter[str]
    error_messages: Counter[str]


def textbook(path: str | Path) -> TextbookResult:
    """Count level words and raw error messages the textbook way: one regex per line."""
    levels: Counter[str] = Counter()
    error_messages: Counter[str] = Counter()
    lines = 0
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            lines += 1
            match = LEVEL_WORD.search(line)
            if match is None:
                continue
            level = match.group(1)
            levels[level] += 1
            if level == "ERROR":
                error_messages[line[match.end() :].strip()] += 1
    return {"lines": lines, "levels": levels, "error_messages": error_messages}


def drain3_templates(messages: Iterable[str]) -> int:
    """Mine templates with Drain3's defaults and return how many clusters it found."""
    try:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError as exc:
        raise RuntimeError(
            "drain3 is not installed; install the benchmark extras with "
            "pip install -r benchmarks/requirements.txt"
        ) from exc
    # An explicit default config: TemplateMiner() alone would read any drain3.ini in the cwd.
    miner: Any = TemplateMiner(config=TemplateMinerConfig())
    for message in messages:
        miner.add_log_message(message)
    return len(miner.drain.clusters)


def raw_copy(path: str | Path) -> int:
    """Read the file in 1 MiB blocks, discard them and return the byte count."""
    total = 0
    with open(path, "rb", buffering=0) as raw:
        while block := raw.read(BLOCK_SIZE):
            total += len(block)
    return total


KERNEL_CHUNK = 64 * 1024 * 1024
_LEVEL_BYTES = re.compile(rb"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|FATAL|CRITICAL)\b")


def _count_chunk(task: tuple[str, int, int]) -> Counter[bytes]:
    path, start, end = task
    with open(path, "rb") as handle:
        handle.seek(start)
        return Counter(_LEVEL_BYTES.findall(handle.read(end - start)))


def level_kernel(path: str | Path, processes: int = 2) -> Counter[str]:
    """Count level words over newline-aligned 64 MiB chunks on `processes` processes."""
    size = os.path.getsize(path)
    bounds = [0]
    with open(path, "rb") as handle:
        while bounds[-1] < size:
            handle.seek(min(size, bounds[-1] + KERNEL_CHUNK))
            handle.readline()  # to the end of the line the cut falls in
            bounds.append(handle.tell())
    tasks = [(str(path), start, end) for start, end in itertools.pairwise(bounds)]
    total: Counter[str] = Counter()
    with ProcessPoolExecutor(processes) as pool:
        for counts in pool.map(_count_chunk, tasks):
            for level, count in counts.items():
                total[level.decode()] += count
    return total


def messages_after_level(path: Path) -> Iterator[str]:
    """Yield each line's text after its level word (the whole line where there is none)."""
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            match = LEVEL_WORD.search(line)
            yield (line[match.end() :] if match else line).strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one baseline on a file and print its throughput."""
    parser = argparse.ArgumentParser(description="Run a benchmark baseline on one log file.")
    parser.add_argument("baseline", choices=("textbook", "drain3", "raw", "kernel"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if not args.path.is_file():
        parser.error(f"{args.path} is not a file")
    size = args.path.stat().st_size
    started = time.perf_counter()
    if args.baseline == "textbook":
        result = textbook(args.path)
        summary = f"{result['lines']} lines, levels {dict(result['levels'])}"
    elif args.baseline == "drain3":
        summary = f"{drain3_templates(messages_after_level(args.path))} clusters"
    elif args.baseline == "kernel":
        summary = f"levels {dict(level_kernel(args.path))}"
    else:
        summary = f"{raw_copy(args.path)} bytes"
    elapsed = time.perf_counter() - started
    print(f"{args.baseline}: {summary}; {elapsed:.2f} s, {size / elapsed / 1e6:.1f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
