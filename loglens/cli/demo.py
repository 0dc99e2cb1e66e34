"""`python -m loglens demo`: the whole system once, on the embedded default.

Starts `python server.py` on a free port with a fresh database under `data/demo/`, uploads
the given logs with `python client.py` (several at once, waiting for the analysis), prints
the classic report of everything uploaded with the query CLI and one plain SQL answer,
stops the server, and says how to query further. Every command it runs is printed first,
so it doubles as a tour.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_START_SECONDS = 60

# One question in plain SQL, to show that the schema is meant for people too.
SQL_EXAMPLE = (
    "SELECT upload_id, operator, original_name, job_state FROM upload_status "
    "ORDER BY upload_id LIMIT 5"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit status (that of the client when it fails)."""
    parser = argparse.ArgumentParser(prog="loglens demo", description=__doc__)
    parser.add_argument("paths", nargs="*", default=["logs/"], help="logs to upload (logs/)")
    parser.add_argument("--dir", type=Path, default=Path("data/demo"), help="where (data/demo)")
    args = parser.parse_args(argv)

    if args.dir.exists():
        shutil.rmtree(args.dir)
    args.dir.mkdir(parents=True)
    token = secrets.token_urlsafe(16)
    db_path = args.dir / "loglens.db"
    env = {
        **os.environ,
        "PORT": "0",
        "HOST": "127.0.0.1",
        "STORAGE_PATH": str(args.dir / "uploads"),
        "DB_PATH": str(db_path),
        "AUTH_TOKENS": f"demo:{token}",
    }
    log_path = args.dir / "server.log"
    _say(f"python server.py   (storage and database in {args.dir}/, log in {log_path})")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py")], stdout=log, stderr=log, env=env
        )
    try:
        address = _wait_listening(server, log_path)
        command = [
            sys.executable, str(ROOT / "client.py"), "--server", address, "--token", token,
            "--parallel", "4", "--wait", "--quiet", *args.paths,
        ]  # fmt: skip
        _say(
            f"python client.py --server {address} --token … --parallel 4 --wait "
            + " ".join(args.paths)
        )
        uploaded = subprocess.run(command, env=env, capture_output=True, text=True)
        # With --wait the client prints each file's report too; the demo shows one of all.
        stored = [line for line in uploaded.stdout.splitlines() if ": stored as upload " in line]
        sys.stdout.write("\n".join(stored) + "\n")
        sys.stderr.write(uploaded.stderr)
        _say(f"python -m loglens query stats --db {db_path}   (each content counted once)")
        subprocess.run(
            [sys.executable, "-m", "loglens", "query", "stats", "--db", str(db_path)],
            env=env, check=False,
        )  # fmt: skip
        _sql(db_path)
    finally:
        _say("stopping the server (SIGTERM: uploads in flight finish, queued jobs stay queued)")
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    sys.stdout.write(
        "\nQuery it yourself: python -m loglens query --help (CLI), python -m loglens api "
        f"(HTTP API and dashboard, with DB_PATH={db_path}), or plain SQL (docs/schema.md).\n"
    )
    return uploaded.returncode


def _say(text: str) -> None:
    sys.stdout.write(f"\n$ {text}\n")
    sys.stdout.flush()


def _wait_listening(server: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        found = _LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return f"{found.group(1)}:{found.group(2)}"
        if server.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"error: the server did not start:\n{log_path.read_text(errors='replace')}")


def _sql(db_path: Path) -> None:
    """Ask the database one question in plain SQL, as anyone may while the server runs."""
    _say(f'sqlite3 {db_path} "{SQL_EXAMPLE}"')
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        for row in db.execute(SQL_EXAMPLE):
            sys.stdout.write(" | ".join(str(value) for value in row) + "\n")
