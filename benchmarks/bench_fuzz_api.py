"""Fuzz the HTTP API with schemathesis, from its own `/openapi.json`, on a real server.

    python benchmarks/bench_fuzz_api.py [--examples 100] [--seed 1] [--uploads 40]

Builds (or reuses) the results database of `bench_api.py` (`--uploads` uploads of eight
operators), starts `python -m loglens api` on port 0 over it, then sends every operation
`--examples` cases generated from its schema (valid ones) and as many that break it
(out-of-range numbers, wrong types, missing parameters), with an operator's token and with
a token that reads every operator's uploads. Prints the answers per status code and each
5xx answer; the exit status is 0 only when no answer is a 5xx.

`fuzz_api` is also what the bounded run in tests/integration/test_api.py calls.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hypothesis  # noqa: E402
import requests  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase  # noqa: E402
from schemathesis import Case, GenerationMode  # noqa: E402
from schemathesis.core.result import Err  # noqa: E402

# Cases whose generation fails (an operation without anything to break, say) are skipped.
_MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
_LISTENING = re.compile(r"loglens api listening on (http://\S+)")


@dataclass
class FuzzCounts:
    """What a fuzz run sent and got back."""

    operations: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # "GET /path?query -> 500: body"
    skipped: list[str] = field(default_factory=list)  # operation and mode that generated none

    def describe(self) -> str:
        """One line: requests, operations, answers per status."""
        by_status = ", ".join(f"{code}: {n:,}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.requests:,} requests over {self.operations} operations; answers "
            f"{by_status}; 5xx: {len(self.server_errors)}"
        )


def fuzz_api(base_url: str, tokens: list[str], examples: int, seed: int = 1) -> FuzzCounts:
    """Send each operation of the API at `base_url` up to `examples` valid and `examples`
    invalid generated cases per token in `tokens`, and count the answers."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    counts = FuzzCounts()
    session = requests.Session()
    for found in schema.get_all_operations():
        if isinstance(found, Err):
            raise SystemExit(f"the API's schema has an invalid operation: {found.err()}")
        operation = found.ok()
        counts.operations += 1
        for mode in _MODES:
            for token in tokens:
                label = f"{operation.method.upper()} {operation.path} ({mode.value})"
                strategy = operation.as_strategy(generation_mode=mode)
                headers = {"Authorization": f"Bearer {token}"}

                send = _sender(base_url, session, headers, counts)
                run = hypothesis.settings(
                    max_examples=examples,
                    database=None,
                    deadline=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(hypothesis.seed(seed)(hypothesis.given(strategy)(send)))
                try:
                    run()
                except hypothesis.errors.Unsatisfiable:
                    counts.skipped.append(label)
                except Exception as exc:  # schemathesis cannot break some schemas
                    if "negative" in label and type(exc).__module__.startswith("schemathesis"):
                        counts.skipped.append(f"{label}: {type(exc).__name__}")
                    else:
                        raise
    return counts


def start_api(
    db_path: Path, log_path: Path, tokens: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m loglens api` on port 0 over `db_path`: the operator `op0` and `root`,
    whose token reads every upload; no lockout (the fuzzer is one address)."""
    env = {k: v for k, v in os.environ.items() if k not in ("API_HOST", "API_PORT")}
    env["PYTHONPATH"] = str(ROOT)
    env["AUTH_TOKENS"] = f"op0:{tokens['op0']},root:{tokens['root']}:read-all"
    env["AUTH_FAILURE_LIMIT"] = "1000000"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loglens", "api", "--env-file", os.devnull,
             "--host", "127.0.0.1", "--port", "0", "--db-path", str(db_path)],
            stdout=log, stderr=log, env=env, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        match = _LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            return process, match.group(1)
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the API did not start:\n{log_path.read_text()}")
        time.sleep(0.05)


def _sender(
    base_url: str, session: requests.Session, headers: dict[str, str], counts: FuzzCounts
) -> Callable[[Case[Any]], None]:
    """What hypothesis calls with each case: send it and count the answer."""

    def send(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers)
        counts.requests += 1
        counts.statuses[response.status_code] += 1
        if response.status_code >= 500:
            counts.server_errors.append(
                f"{response.request.method} {response.request.url} -> "
                f"{response.status_code}: {response.text[:300]}"
            )

    return send


def main(argv: list[str] | None = None) -> int:
    """Build the database, serve it, fuzz it; exit 1 on any 5xx."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--uploads", type=int, default=40, help="uploads in the database")
    args = parser.parse_args(argv)

    from benchmarks.bench_api import describe, ensure_database

    db_path = ensure_database(args.uploads, min(args.uploads, 8), args.uploads * 5_000)
    print(f"database: {describe(db_path)}")
    tokens = {"op0": "bench-operator-token", "root": "bench-admin-token"}
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(scratch) / "api.log"
        process, url = start_api(db_path, log_path, tokens)
        try:
            started = time.perf_counter()
            counts = fuzz_api(url, list(tokens.values()), args.examples, args.seed)
            took = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        log = log_path.read_text(errors="replace")
    print(f"{counts.describe()} in {took:.0f} s ({counts.requests / took:.0f} requests/s)")
    tracebacks = log.count("Traceback (most recent call last)")
    print(f"tracebacks in the API's log: {tracebacks}")
    for skipped in counts.skipped:
        print(f"no cases generated: {skipped}")
    for error in counts.server_errors[:50]:
        print(f"5xx: {error}")
    return 0 if not counts.server_errors and not tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
