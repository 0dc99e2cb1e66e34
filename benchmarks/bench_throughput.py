"""Throughput and memory of the full analysis against the textbook baseline, in one run.

    python benchmarks/bench_throughput.py [--size 1GiB] [--format log4j] [--workers N]

Generates (once, cached under benchmarks/out/) a big messy log with the project's own
generator, then measures on the same file, one after the other:
- the textbook single-process analyser (`for line in f` + regex + Counter, levels and raw
  error messages only: far less work than loglens does);
- Drain3 (template mining alone, with its defaults), where drain3 is installed, on the
  messages loglens extracts from the file's first DRAIN3_LINES lines (its `--events`): the
  same messages loglens mines, whatever the format (JSON lines included). Its messages/s
  against loglens' entries/s, and the time that makes for the whole file;
- `python processor.py FILE --json` (formats, cleaning, multi-line, templates, summaries)
  with its peak memory: the sum over the process and all its workers, sampled from /proc
  (PSS, so pages shared between processes count once; RSS sum shown too).
Prints the figures and the ratios (targets: loglens / textbook <= 1.0; memory <= 300 MiB).
The Drain3 line sets the whole analysis against mining alone, for scale; the mining target
(20x Drain3) is measured mining against mining by `bench_templates.py`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.baselines import drain3_templates, textbook  # noqa: E402
from benchmarks.proctree import process_tree, rss_kib  # noqa: E402
from loglens.config import parse_size  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
DRAIN3_LINES = 200_000
# Memory sampling (see run_measured): RSS period, tree refresh, PSS period between peaks.
SAMPLE_EVERY = 0.05
TREE_EVERY = 0.5
PSS_EVERY = 0.5


def ensure_log(size: int, fmt: str, seed: int) -> Path:
    """Generate the benchmark log unless a file of that size and format is cached."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"big-{fmt}-{size}-{seed}.log"
    if not path.exists():
        print(f"generating {path.name} …", file=sys.stderr)
        partial = path.with_suffix(".partial")
        subprocess.run(
            [sys.executable, "-m", "loglens.synth", "big", str(partial), "--size", str(size),
             "--format", fmt, "--seed", str(seed)],
            check=True, cwd=ROOT,
        )  # fmt: skip
        partial.rename(path)
    return path


def loglens_messages(path: Path, lines: int) -> list[str]:
    """The messages of the entries loglens finds in the first `lines` lines of `path`: the
    `message` of each event of `processor.py --events` (the text after the header)."""
    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        head, events = Path(scratch, "head.log"), Path(scratch, "events.jsonl")
        with path.open("rb") as source, head.open("wb") as out:
            out.writelines(itertools.islice(source, lines))
        subprocess.run(
            [sys.executable, "processor.py", str(head), "--quiet", "--events", str(events)],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with events.open(encoding="utf-8") as stream:
            return [json.loads(line)["message"] for line in stream]


def _memory_kib(pids: list[int]) -> tuple[int, int]:
    """(PSS sum, RSS sum) in KiB over the given processes."""
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss


def run_measured(command: list[str]) -> tuple[float, int, int, str]:
    """Run a command; return seconds, peak PSS and RSS sums (KiB) of its tree, stdout.

    The sampler runs in this process while the command runs, so its CPU time is taken from
    loglens alone (the baseline runs unsampled): reading every process's smaps_rollup (a
    page-table walk) and walking /proc 20 times a second cost more than a CPU-second per
    run. So the tree is found again only every TREE_EVERY seconds, RSS is read from statm
    each time, and PSS when the RSS sum reaches a new peak, else every PSS_EVERY seconds
    (PSS is RSS less a share of the shared pages, which barely change while it runs).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        pids: list[int] = []
        found_at = read_at = -TREE_EVERY
        while not done.is_set():
            now = time.perf_counter()
            if now - found_at >= TREE_EVERY:
                pids, found_at = process_tree(proc.pid), now
            rss = rss_kib(pids)
            if rss > peak[1] or now - read_at >= PSS_EVERY:
                pss, _ = _memory_kib(pids)
                peak[0], read_at = max(peak[0], pss), now
            peak[1] = max(peak[1], rss)
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, peak[0], peak[1], out.decode()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1GiB", help="size of the generated log (1GiB)")
    parser.add_argument("--format", default="log4j", help="generator format (log4j)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    args = parser.parse_args()
    path = ensure_log(parse_size(args.size, "--size"), args.format, args.seed)
    size_mb = path.stat().st_size / 1e6
    with path.open("rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))

    drain3_rate = None
    try:
        messages = loglens_messages(path, DRAIN3_LINES)
        start = time.perf_counter()
        drain3_templates(messages)
        drain3_rate = len(messages) / (time.perf_counter() - start)
    except RuntimeError as exc:
        print(f"Drain3 skipped: {exc}", file=sys.stderr)

    # Interleaved rounds, medians reported: this machine's speed drifts from minute to
    # minute, and a ratio of two runs minutes apart would mostly measure the drift.
    command = [sys.executable, "processor.py", str(path), "--json", "--quiet"]
    command += ["--workers", str(args.workers)]
    baselines, runs, ratios, peaks = [], [], [], []
    # CPU-seconds too: other work on the machine stretches wall times, loglens' (which
    # needs every core) more than the baseline's; CPU time shows the work itself.
    baseline_cpu, loglens_cpu = [], []
    for _ in range(args.rounds):
        start, cpu = time.perf_counter(), time.process_time()
        textbook(path)
        baselines.append(time.perf_counter() - start)
        baseline_cpu.append(time.process_time() - cpu)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, pss, rss, out = run_measured(command)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        loglens_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        runs.append(seconds)
        ratios.append(seconds / baselines[-1])
        peaks.append((pss, rss))
    baseline, seconds = statistics.median(baselines), statistics.median(runs)
    pss, rss = max(peaks)
    report = json.loads(out)
    print(f"file: {path.name}: {size_mb:,.0f} MB, {lines:,} lines, {os.cpu_count()} CPUs")
    print(f"rounds: {args.rounds}, each the baseline then loglens; medians shown")
    print(f"textbook baseline (1 process, levels + raw errors): {baseline:7.2f} s "
          f"{lines / baseline:12,.0f} lines/s {size_mb / baseline:7.1f} MB/s")  # fmt: skip
    print(f"loglens full analysis ({args.workers} workers):       {seconds:7.2f} s "
          f"{lines / seconds:12,.0f} lines/s {size_mb / seconds:7.1f} MB/s")  # fmt: skip
    print("ratio per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"median ratio loglens / baseline: {statistics.median(ratios):.2f}  (target <= 1.0)")
    cpu_base, cpu_ours = statistics.median(baseline_cpu), statistics.median(loglens_cpu)
    print(f"CPU-seconds (medians): baseline {cpu_base:.2f}, loglens {cpu_ours:.2f} "
          f"(all its processes, {args.workers} workers)")  # fmt: skip
    if drain3_rate is not None:
        entries = report["entries"]
        print(f"Drain3 (mining only, 1 process, the messages loglens finds in the first "
              f"{DRAIN3_LINES:,} lines): {drain3_rate:,.0f} messages/s, "
              f"{entries / drain3_rate:,.0f} s for the file's {entries:,} entries")  # fmt: skip
        print(f"loglens full analysis entries/s / Drain3 mining messages/s: "
              f"{entries / seconds / drain3_rate:.1f}x  (everything against mining alone; "
              f"mining against mining, target >= 20x: bench_templates.py)")  # fmt: skip
    print(f"peak memory over the rounds, all processes: PSS {pss / 1024:,.0f} MiB, "
          f"RSS sum {rss / 1024:,.0f} MiB (target <= 300 MiB)")  # fmt: skip
    print(f"entries {report['entries']:,}, templates {report['templates']:,}, "
          f"rejected {sum(report['rejected'].values()):,}")  # fmt: skip


if __name__ == "__main__":
    main()
