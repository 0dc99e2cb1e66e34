"""Benchmark format detection and parsing on the loghub 2k samples.

For each system: detect the format from the first 500 lines over the built-in library (no
per-system setting), parse every line, and compare with the corrected ground truth: Content
(exact), level (normalised, where the CSV has a real Level column), share of lines with a
timestamp. Then measure single-threaded throughput on a >= 1M-line replication of the Hadoop
and Linux samples against a textbook per-line Python ``re`` parse of the same lines, and
parse_lines' throughput per format on generated logs (``loglens.synth``) of N lines each,
their format detected from their first 500 lines.

    python benchmarks/bench_parse.py [--loghub DIR] [--lines N] [--format-lines N]

The loghub data stays where it is (it must never be copied into the repository).
"""

from __future__ import annotations

import os

# The throughput figure is single-threaded by definition; polars reads this once, at import.
os.environ["POLARS_MAX_THREADS"] = "1"

import argparse
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl

from loglens.analysis.formats import BUILTIN_FORMATS, LogFormat
from loglens.analysis.levels import LEVEL_SPELLINGS, normalize_level
from loglens.analysis.parse import ParseContext, detect_format, parse_lines
from loglens.synth.generator import formats, generate

SYSTEMS = ("Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "Spark", "Zookeeper")
WITH_LEVELS = {"Apache", "BGL", "HDFS", "Hadoop", "Spark", "Zookeeper"}
THROUGHPUT_SYSTEMS = ("Hadoop", "Linux")
# The loghub samples are from 2005-2017; a reference inside their years dates syslog stamps.
CONTEXT = ParseContext(tz="UTC", reference=datetime.fromisoformat("2017-12-31T00:00:00+00:00"))
# Textbook timestamp formats for the per-line baseline, by detected format name.
BASELINE_TS_FORMATS = {"log4j": "%Y-%m-%d %H:%M:%S,%f", "syslog": "%b %d %H:%M:%S"}


def read_lines(path: Path) -> list[str]:
    """Read a log as text lines without their line ends."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return text.splitlines()


def accuracy(loghub: Path, system: str) -> tuple[str, LogFormat]:
    """Detect, parse and score one system; return its report line and detected format."""
    lines = read_lines(loghub / system / f"{system}_2k.log")
    truth = pl.read_csv(
        loghub / system / f"{system}_2k.log_structured_corrected.csv", infer_schema_length=0
    )
    detection = detect_format(lines[:500], BUILTIN_FORMATS)
    parsed = parse_lines(pl.Series(lines[: truth.height]), detection.format, CONTEXT)
    frame = parsed.with_columns(
        content=truth["Content"].fill_null(""),
        truth_level=truth["Level"] if "Level" in truth.columns else pl.lit(None, pl.String),
    )
    content = frame.select((pl.col("message") == pl.col("content")).mean()).item()
    timestamps = frame.select(pl.col("ts").is_not_null().mean()).item()
    level_text = "   n/a"
    if system in WITH_LEVELS:
        level = frame.select(
            (pl.col("level") == normalize_level(pl.col("truth_level"))).fill_null(False).mean()
        ).item()
        level_text = f"{100 * level:5.1f}%"
    report = (
        f"{system:<10} {detection.format.name:<14} {detection.confidence:6.3f} "
        f"{100 * content:7.2f}% {level_text:>7} {100 * timestamps:6.1f}%"
    )
    return report, detection.format


def textbook_parser(fmt: LogFormat) -> Callable[[list[str]], int]:
    """A per-line Python re parse of the same header, as one would write it by hand."""
    header = re.compile(re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", fmt.header))
    ts_format = BASELINE_TS_FORMATS.get(fmt.name)

    def parse(lines: list[str]) -> int:
        parsed = 0
        rows: list[tuple[datetime | None, str | None, str | None, str]] = []
        for line in lines:
            match = header.match(line)
            if match is None:
                rows.append((None, None, None, line.rstrip()))
                continue
            fields = match.groupdict()
            ts = None
            if ts_format and fields.get("ts"):
                try:
                    ts = datetime.strptime(fields["ts"], ts_format)
                except ValueError:
                    ts = None
            level = LEVEL_SPELLINGS.get((fields.get("level") or "").upper())
            rows.append((ts, level, fields.get("component"), line[match.end() :].rstrip()))
            parsed += 1
        return parsed

    return parse


def throughput(loghub: Path, system: str, fmt: LogFormat, target: int) -> str:
    """Lines per second of parse_lines and of the per-line baseline on a replicated sample."""
    sample = read_lines(loghub / system / f"{system}_2k.log")
    lines = sample * -(-target // len(sample))
    series = pl.Series("line", lines)
    mean_bytes = int(series.str.len_bytes().sum()) / len(series)
    start = time.perf_counter()
    parse_lines(series, fmt, CONTEXT)
    ours = time.perf_counter() - start
    baseline = textbook_parser(fmt)
    start = time.perf_counter()
    baseline(lines)
    theirs = time.perf_counter() - start
    n = len(lines)
    return (
        f"{system:<8} {n:>9,} lines of {mean_bytes:5.1f} B: loglens {n / ours:>11,.0f} lines/s "
        f"({ours:.2f} s), per-line re {n / theirs:>10,.0f} lines/s ({theirs:.2f} s), "
        f"ratio {theirs / ours:.1f}x"
    )


def format_throughput(synth_format: str, n: int) -> str:
    """Lines per second of parse_lines on a generated log of one format, best of two runs."""
    text = b"".join(generate(synth_format, n, seed=1)).decode("utf-8", errors="replace")
    series = pl.Series("line", text.split("\n")[:n])
    fmt = detect_format(series.head(500).to_list(), BUILTIN_FORMATS).format
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        parse_lines(series, fmt, CONTEXT)
        best = min(best, time.perf_counter() - start)
    return (
        f"{synth_format:<14} {fmt.name:<14} {len(series):>9,} {len(series) / best:>12,.0f} "
        f"{1e6 * best / len(series):>8.3f}"
    )


def main() -> None:
    """Print the accuracy table and the throughput ratios."""
    parser = argparse.ArgumentParser(description="Benchmark format detection and parsing.")
    parser.add_argument("--loghub", type=Path, default=Path("/work/shared/loghub2k"))
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--format-lines", type=int, default=1_000_000, help="lines per generated log"
    )
    args = parser.parse_args()
    print(f"polars {pl.__version__}, threads {pl.thread_pool_size()}")
    print(f"{'system':<10} {'format':<14} {'conf':>6} {'content':>8} {'level':>7} {'ts':>7}")
    detected = {}
    for system in SYSTEMS:
        report, fmt = accuracy(args.loghub, system)
        detected[system] = fmt
        print(report)
    print()
    for system in THROUGHPUT_SYSTEMS:
        print(throughput(args.loghub, system, detected[system], args.lines))
    print()
    print(f"{'generated':<14} {'format':<14} {'lines':>9} {'lines/s':>12} {'s per 1M':>8}")
    for synth_format in formats():
        print(format_throughput(synth_format, args.format_lines))


if __name__ == "__main__":
    main()
