"""The quick start's main command: the whole system once, on the embedded default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_demo_uploads_reports_and_stops(tmp_path: Path) -> None:
    logs = [str(ROOT / "logs" / name) for name in ("log4j.log", "log4j.log.gz", "syslog.log")]
    done = subprocess.run(
        [sys.executable, "-m", "loglens", "demo", "--dir", str(tmp_path / "demo"), *logs],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count(": stored as upload ") == 3
    assert "duplicate: the server already had this content" in out  # the .gz of log4j.log
    assert "Statistics:" in out and "- Top 5 error messages:" in out
    assert "Uploads counted: 3 (2 distinct contents, each counted once)" in out
    assert "server stopped" in (tmp_path / "demo" / "server.log").read_text()
