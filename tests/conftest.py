"""Shared fixtures: logs made by the project's own generator, with their ground truth."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from loglens.config import ANALYSIS_SETTINGS
from loglens.synth import SAMPLE_MESS, Truth, write_log

ROOT = Path(__file__).resolve().parent.parent

MakeLog = Callable[..., tuple[Path, Truth]]
# Settings a developer may have exported; tests start from the defaults.
SETTINGS = (*sorted(ANALYSIS_SETTINGS), "ALERT_RULES_FILE", "ALERT_WEBHOOK_URL")


@pytest.fixture(autouse=True, scope="session")
def resume_records_of_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Clients the tests run keep their resume records in a folder of the test run, never in
    the user's cache (the processes inherit the variable)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOGLENS_RESUME_DIR", str(tmp_path_factory.mktemp("resume-records")))
        yield


@pytest.fixture
def make_log(tmp_path: Path) -> MakeLog:
    """Write a generated log into tmp_path and return its path and truth."""

    def make(
        fmt: str, lines: int = 600, seed: int = 3, name: str | None = None
    ) -> tuple[Path, Truth]:
        path = tmp_path / (name or f"{fmt}-{seed}.log")
        truth = write_log(path, fmt, lines=lines, seed=seed, mess=SAMPLE_MESS)
        # A log file is last modified after its last entry: year-less stamps need that.
        assert truth.last_timestamp is not None
        last = datetime.fromisoformat(truth.last_timestamp).timestamp()
        os.utime(path, (last + 60, last + 60))
        return path, truth

    return make


@dataclass(frozen=True)
class Run:
    """What a command did: its exit status and its output as text."""

    code: int
    out: str
    err: str


def run_cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, cwd: Path | None = None
) -> Run:
    """Run `python processor.py ARGS` in a subprocess, with its own settings only."""
    merged = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    merged.update(env or {})
    done = subprocess.run(
        [sys.executable, str(ROOT / "processor.py"), *args],
        input=stdin, capture_output=True, env=merged, cwd=cwd or ROOT, timeout=300,
    )  # fmt: skip
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())
