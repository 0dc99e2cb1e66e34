"""Command-line entry points: `python -m loglens COMMAND` and the thin scripts."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: loglens COMMAND [ARGS]

commands:
  analyze PATH...   analyse log files locally and print the report (= python processor.py)
  serve             run the upload server (= python server.py)
  api               serve the HTTP API and web dashboard over the results database
  demo [PATH...]    start a server, upload logs/ with the client, report, stop
  query SUBCOMMAND  read the results database: uploads, stats, top-errors, templates,
                    timeline, rejected (loglens query --help)
  alerts SUBCOMMAND recorded alerts (list) and rule backtests (backtest RULES.toml)
  jobs SUBCOMMAND   analysis jobs (list [--state failed]) and requeueing (retry ID)
  worker            run analysis tasks from BROKER_URL: a Celery worker (--help, --ping)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch `loglens COMMAND ...` to the command's own parser."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("analyze", "analyse"):
        from loglens.cli.analyze import main as analyze_main

        return analyze_main(rest)
    if command == "serve":
        from loglens.cli.serve import main as serve_main

        return serve_main(rest)
    if command == "api":
        from loglens.cli.api import main as api_main

        return api_main(rest)
    if command == "demo":
        from loglens.cli.demo import main as demo_main

        return demo_main(rest)
    if command == "query":
        from loglens.cli.query import main as query_main

        return query_main(rest)
    if command == "alerts":
        from loglens.cli.alerts import main as alerts_main

        return alerts_main(rest)
    if command == "jobs":
        from loglens.cli.jobs import main as jobs_main

        return jobs_main(rest)
    if command == "worker":
        from loglens.cli.worker import main as worker_main

        return worker_main(rest)
    sys.stderr.write(f"loglens: unknown command {command!r}\n{USAGE}")
    return 2
