"""`python -m loglens demo`: the whole system once, on the embedded default.

Starts `python server.py` on a free port with a fresh database under `data/demo/`, uploads
the given logs with `python client.py` (several at once, waiting for the analysis), prints
the classic report of everything uploaded straight from the database, shows how to query
it, and stops the server. Every command it runs is printed first, so it doubles as a tour.
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

# The classic report of every upload, in plain SQL over the documented schema.
LEVELS_SQL = """
SELECT l.level, SUM(l.count) FROM uploads u JOIN level_counts l ON l.blob_id = u.blob_id
GROUP BY l.level ORDER BY SUM(l.count) DESC
"""
TOP_ERRORS_SQL = """
SELECT t.template, SUM(t.count) AS n FROM uploads u JOIN templates t ON t.blob_id = u.blob_id
WHERE t.level IN ('ERROR', 'CRITICAL') GROUP BY t.template ORDER BY n DESC, t.template LIMIT 5
"""
RANGE_SQL = """
SELECT MIN(r.first_ts), MAX(r.last_ts), COUNT(DISTINCT u.id)
FROM uploads u JOIN results r ON r.blob_id = u.blob_id
"""


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
        _report(db_path)
    finally:
        _say("stopping the server (SIGTERM: uploads in flight finish, queued jobs stay queued)")
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    _say(f'query it yourself:  sqlite3 {db_path} "SELECT * FROM upload_status"')
    sys.stdout.write("  (tables, views and example queries: docs/schema.md)\n")
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


def _report(db_path: Path) -> None:
    """The classic report of everything uploaded, read from the database with plain SQL."""
    _say(f"sqlite3 {db_path}   (the classic report of every upload, in SQL)")
    with sqlite3.connect(db_path) as db:
        levels = db.execute(LEVELS_SQL).fetchall()
        top = db.execute(TOP_ERRORS_SQL).fetchall()
        first, last, uploads = db.execute(RANGE_SQL).fetchone()
    out = [f"Statistics ({uploads} uploads analysed):", "- Total logs per level:"]
    out += [f"  - {level}: {count:,}" for level, count in levels]
    out.append("- Top 5 error messages:")
    out += [f'  {i}. "{text}" ({n:,} times)' for i, (text, n) in enumerate(top, 1)]
    out.append(f"- First log: {_when(first)}")
    out.append(f"- Last log: {_when(last)}")
    sys.stdout.write("\n".join(out) + "\n")


def _when(stamp: str | None) -> str:
    return "none" if stamp is None else stamp.replace("T", " ")[:19]
