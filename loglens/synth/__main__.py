"""Command line: ``python -m loglens.synth samples logs/`` or ``... big OUT --size 1GiB``."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from loglens.synth.formats import FORMATS
from loglens.synth.generator import Generation, formats, write_log
from loglens.synth.model import CLEAN, SAMPLE_MESS, Mess, Truth, truth_to_json

# (format, lines, first seed tried) of the committed samples: a few hundred lines each,
# about 520 KB in all.
SAMPLES: tuple[tuple[str, int, int], ...] = (
    ("syslog", 400, 101),
    ("syslog5424", 320, 102),
    ("apache_access", 250, 103),
    ("apache_error", 400, 104),
    ("nginx_error", 400, 105),
    ("python", 360, 106),
    ("log4j", 360, 107),
    ("zookeeper", 360, 108),
    ("hdfs", 400, 109),
    ("spark", 400, 110),
    ("jsonl", 260, 111),
    ("logfmt", 300, 112),
    ("bgl", 260, 113),
)
GZIP_SAMPLE = "log4j"
DEFAULT_BIG_SIZE = 2**30  # the sample also written gzip-compressed, for the .gz input path
MESS_PRESETS: dict[str, Mess] = {"light": Mess(), "clean": CLEAN, "heavy": SAMPLE_MESS}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b|[kmgt]|b)?", re.IGNORECASE)
_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def parse_size(text: str) -> int:
    """Return a byte count from ``1GiB``, ``500MB``, ``64k`` or ``12345``."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"size {text!r} is not understood; write a number with an optional unit "
            "such as 1GiB, 500MiB, 200MB or 4096"
        )
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").lower()])


def _write(
    path: Path, fmt: str, seed: int, mess: Mess, lines: int | None, size_bytes: int | None
) -> Truth:
    """Write one log and print what was written."""
    started = time.perf_counter()
    truth = write_log(path, fmt, lines=lines, size_bytes=size_bytes, seed=seed, mess=mess)
    elapsed = time.perf_counter() - started
    print(
        f"{path}: {fmt}, {truth.lines} lines, {truth.bytes} bytes "
        f"({truth.bytes / max(elapsed, 1e-9) / 1e6:.1f} MB/s)"
    )
    return truth


def _sample_seed(fmt: str, lines: int, first_seed: int) -> int:
    """Return the first seed from ``first_seed`` whose sample shows every kind of damage."""
    for seed in range(first_seed, first_seed + 100):
        generation = Generation(fmt, seed, lines=lines, mess=SAMPLE_MESS)
        for _ in generation:
            pass
        truth = generation.truth
        has_traces = truth.continuation_lines > 0 or FORMATS[fmt].traces in ("none", "embedded")
        if has_traces and all(truth.injected.values()):
            return seed
    raise RuntimeError(f"no seed from {first_seed} gives a {fmt} sample with every kind of damage")


def _samples(out: Path) -> None:
    """Write the sample set into ``out`` and each file's truth into ``out/truth``."""
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    for fmt, lines, first_seed in SAMPLES:
        # Small files may by chance miss a kind of damage; the next seeds are tried until none is
        # missing, so every sample exercises every reason.
        seed = _sample_seed(fmt, lines, first_seed)
        names = [f"{fmt}.log"] + ([f"{fmt}.log.gz"] if fmt == GZIP_SAMPLE else [])
        for name in names:
            truth = write_log(
                out / name, fmt, lines=lines, seed=seed, mess=SAMPLE_MESS, record_templates=True
            )
            (truth_dir / f"{name}.truth.json").write_text(truth_to_json(truth), encoding="utf-8")
            print(
                f"{out / name}: {truth.lines} lines, {truth.entries} entries, {truth.bytes} bytes"
            )


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m loglens.synth",
        description="Generate synthetic logs with ground truth.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    samples = commands.add_parser("samples", help="regenerate the committed sample logs")
    samples.add_argument("out", type=Path, help="directory to write into (e.g. logs/)")
    big = commands.add_parser("big", help="write one large benchmark log")
    big.add_argument("out", type=Path, help="file to write (.gz to compress)")
    length = big.add_mutually_exclusive_group()
    length.add_argument("--size", type=parse_size, help="target size, e.g. 1GiB (default 1GiB)")
    length.add_argument("--lines", type=int, help="exact number of lines instead of a size")
    big.add_argument("--format", choices=formats(), default="log4j", help="default: log4j")
    big.add_argument("--seed", type=int, default=1, help="default: 1")
    big.add_argument(
        "--mess",
        choices=sorted(MESS_PRESETS),
        default="light",
        help="light: ~0.1%% damaged lines (default); clean: none; heavy: ~5%%",
    )
    big.add_argument("--truth", type=Path, help="also write the truth as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "big" and args.lines is not None and args.lines < 0:
        parser.error(f"--lines is {args.lines}, it must be 0 or more")
    try:
        if args.command == "samples":
            _samples(args.out)
        else:
            size = None if args.lines is not None else (args.size or DEFAULT_BIG_SIZE)
            mess = MESS_PRESETS[args.mess]
            truth = _write(args.out, args.format, args.seed, mess, args.lines, size)
            if args.truth is not None:
                args.truth.write_text(truth_to_json(truth), encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
