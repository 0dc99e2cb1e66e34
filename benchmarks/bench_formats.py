"""Accuracy on real logs of formats loglens has no library entry for, against the library alone.

    python benchmarks/bench_formats.py [FORMATS_DEV_DIR]      (default: ../shared/formats-dev)

Runs the corpus's own scorer (``score.py``: ``python processor.py FILE --events OUT`` on
each of its 43 real logs, compared with their ground truth) twice in the same run: once as
loglens runs by default, once with ``LEARN_FORMATS=false`` (only the library formats, the
baseline). Prints both score lines and the gain on each figure. The corpus is only read,
never copied into the project.

Targets (the format issue): timestamps correct >= 97 %, level right >= 95 %, message
equal >= 90 %, extra entries <= 5 % of the true ones.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_FIGURES = re.compile(
    r"timestamps correct (?P<ts>[0-9.]+)% of (?P<ts_n>\d+), level right (?P<level>[0-9.]+)% "
    r"of (?P<level_n>\d+), entry starts (?P<starts>[0-9.]+)% \(\+(?P<extra>\d+) extra\), "
    r"message equal (?P<message>[0-9.]+)% of (?P<message_n>\d+)"
)


def score(corpus: Path, learn: bool) -> tuple[str, dict[str, float]]:
    """The scorer's last line and its figures, with learning on or off."""
    env = dict(os.environ, LEARN_FORMATS="true" if learn else "false")
    done = subprocess.run(
        [sys.executable, str(corpus / "score.py"), sys.executable, str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    last = done.stdout.strip().splitlines()[-1]
    found = _FIGURES.search(last)
    if found is None:
        raise SystemExit(f"unexpected scorer output: {last}")
    return last, {name: float(value) for name, value in found.groupdict().items()}


def main() -> None:
    """Score with and without learned layouts; print both and the gains."""
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "formats-dev"
    if not (corpus / "score.py").exists():
        raise SystemExit(f"no formats-dev corpus at {corpus} (score.py missing)")
    learned_line, learned = score(corpus, learn=True)
    library_line, library = score(corpus, learn=False)
    print(f"loglens:           {learned_line}")
    print(f"library only:      {library_line}")
    extra_share = 100 * learned["extra"] / max(learned["ts_n"], 1)
    print(
        f"gain (points):     timestamps {learned['ts'] - library['ts']:+.1f}, "
        f"level {learned['level'] - library['level']:+.1f}, "
        f"entry starts {learned['starts'] - library['starts']:+.1f}, "
        f"message {learned['message'] - library['message']:+.1f}"
    )
    print(
        f"targets: timestamps {learned['ts']:.1f}% (>= 97), level {learned['level']:.1f}% "
        f"(>= 95), message {learned['message']:.1f}% (>= 90), extra entries "
        f"{learned['extra']:.0f} ({extra_share:.1f}% of {learned['ts_n']:.0f} timed events)"
    )


if __name__ == "__main__":
    main()
