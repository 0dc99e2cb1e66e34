"""`python server.py` refuses a bad setting, or a port it cannot have, before it starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_server(
    tmp_path: Path, settings: dict[str, str], port: int = 0, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python server.py` on `port` with these settings (it must exit by itself)."""
    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    env.update(
        STORAGE_PATH=str(tmp_path / "storage"),
        DB_PATH=str(tmp_path / "loglens.db"),
        AUTH_TOKENS="alice:s3cret",
    )
    env.update(settings)
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--port", str(port), "--env-file", os.devnull],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=timeout,
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
    done = run_server(tmp_path, {name: str(rules)})
    assert done.returncode == 2, done.stderr
    assert name in done.stderr and expected in done.stderr
    assert "listening" not in done.stderr
    assert not (tmp_path / "storage").exists() and not (tmp_path / "loglens.db").exists()


def test_a_missing_rules_file_is_named(tmp_path: Path) -> None:
    done = run_server(tmp_path, {"ALERT_RULES_FILE": str(tmp_path / "absent.toml")})
    assert done.returncode == 2
    assert "absent.toml" in done.stderr and "cannot read" in done.stderr


def assert_nothing_started(tmp_path: Path, done: subprocess.CompletedProcess[str]) -> str:
    """The server said one line and created and started nothing; return that line."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert not (tmp_path / "storage").exists() and not (tmp_path / "loglens.db").exists()
    return lines[0]


# A server that is not stopped by its setting runs until the timeout: the test then fails.
_START_TIMEOUT = 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is not = = TOML\n", "not valid TOML"),
        ('[[format]]\nname = "x"\nregex = "(?P<message>.*"\n', "regex does not compile"),
        ('[[format]]\nname = "x"\nregex = "^(?P<msg>.*)$"\n', "no (?<message>...) group"),
        (b"\xff\xfe[[format]]\n", "cannot read"),
        (
            '[[format]]\nname = "x"\nregex = "^(?P<ts>\\\\S+) (?P<message>.*)$"\n'
            'ts_format = "%Q%Q"\n',
            "is not a strftime pattern chrono knows",
        ),
    ],
    ids=["not-toml", "bad-regex", "no-message-group", "not-utf8", "bad-ts-format"],
)
def test_a_bad_formats_file_stops_the_server_before_it_starts(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    formats = tmp_path / "formats.toml"
    if isinstance(text, bytes):
        formats.write_bytes(text)
    else:
        formats.write_text(text)
    done = run_server(tmp_path, {"FORMATS_FILE": str(formats)}, timeout=_START_TIMEOUT)
    assert done.returncode == 2, done.stderr
    line = assert_nothing_started(tmp_path, done)
    assert f"FORMATS_FILE={formats}" in line and expected in line


def test_a_missing_formats_file_is_named(tmp_path: Path) -> None:
    absent = tmp_path / "absent.toml"
    done = run_server(tmp_path, {"FORMATS_FILE": str(absent)}, timeout=_START_TIMEOUT)
    assert done.returncode == 2, done.stderr
    line = assert_nothing_started(tmp_path, done)
    assert f"FORMATS_FILE={absent}: cannot read" in line


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("(?<=a)b", "look-around"), ("(a)\\1", "backreferences are not supported")],
)
def test_a_drop_regex_the_engine_refuses_stops_the_server(
    tmp_path: Path, pattern: str, expected: str
) -> None:
    done = run_server(tmp_path, {"DROP_REGEX": pattern}, timeout=_START_TIMEOUT)
    assert done.returncode == 2, done.stderr
    line = assert_nothing_started(tmp_path, done)
    assert f"DROP_REGEX={pattern!r}" in line and expected in line


def test_a_port_in_use_stops_the_server_before_it_creates_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_server(tmp_path, {"HOST": "127.0.0.1"}, port=port)
    assert done.returncode == 1, done.stderr  # 1: the server cannot start (see serve.py)
    line = assert_nothing_started(tmp_path, done)
    assert f"port {port} on 127.0.0.1 is in use" in line and "--port or PORT" in line
    assert "processor started" not in done.stderr
