"""`python server.py` refuses a bad rules file before it starts anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_server(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `python server.py` on port 0 with these settings (it must exit by itself)."""
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    env.update(
        STORAGE_PATH=str(tmp_path / "storage"),
        DB_PATH=str(tmp_path / "loglens.db"),
        AUTH_TOKENS="alice:s3cret",
        **settings,
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--port", "0", "--env-file", os.devnull],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("CATEGORIES_FILE", '[[category]]\nname = "x"\npattern = "(broken"\n', "invalid regular"),
        ("ALERT_RULES_FILE", '[[rule]]\nname = "r"\nlevel = "LOUD"\n', "rule 1"),
        (
            "ALERT_RULES_FILE",
            '[[rule]]\nname = "r"\ncategory = "nonsense"\nthreshold = 5\nwindow = "1h"\n',
            "nonsense",
        ),
    ],
)
def test_a_bad_rules_file_stops_the_server_before_it_starts(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    done = run_server(tmp_path, **{name: str(rules)})
    assert done.returncode == 2, done.stderr
    assert name in done.stderr and expected in done.stderr
    assert "listening" not in done.stderr
    assert not (tmp_path / "storage").exists() and not (tmp_path / "loglens.db").exists()


def test_a_missing_rules_file_is_named(tmp_path: Path) -> None:
    done = run_server(tmp_path, ALERT_RULES_FILE=str(tmp_path / "absent.toml"))
    assert done.returncode == 2
    assert "absent.toml" in done.stderr and "cannot read" in done.stderr
