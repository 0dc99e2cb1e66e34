"""`python -m loglens alerts SUBCOMMAND`: the alerts in the results database, and backtests.

    loglens alerts list [--state firing|resolved] [--source NAME] [--rule NAME] [--json]
    loglens alerts backtest RULES.toml [--source NAME] [--json]

`list` shows the alerts the processor recorded (newest first). `backtest` evaluates the
rules of a rules file over every stored upload, oldest first, and prints when each rule
would have fired; it writes nothing. Exit status: 0 ok, 1 for a missing database or a
storage error, 2 for a usage error or an invalid rules file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from loglens.cli.plain import cut, write_json, write_table
from loglens.config import config_from_environment
from loglens.errors import ConfigError, StorageError
from loglens.storage.alerts.reader import AlertReader
from loglens.storage.alerts.store import ALERT_STATES, Alert
from loglens.storage.schema import from_micros

if TYPE_CHECKING:
    from loglens.analysis.alert_rules import Rule

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
_MESSAGE_CHARS = 100


def build_parser() -> argparse.ArgumentParser:
    """The alerts command's flags."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=Path, help="results database (DB_PATH, data/loglens.db)")
    common.add_argument("--env-file", default=".env", help="settings file (.env)")
    common.add_argument("--json", action="store_true", help="print JSON for machines")
    common.add_argument("--source", metavar="NAME", help="only uploads of this name")
    parser = argparse.ArgumentParser(
        prog="loglens alerts", description="Alerts recorded by the processor, and backtests."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    listing = sub.add_parser("list", parents=[common], help="recorded alerts, newest first")
    listing.add_argument("--state", choices=ALERT_STATES, help="only alerts in this state")
    listing.add_argument("--rule", metavar="NAME", help="only alerts of this rule")
    listing.add_argument("--limit", type=int, default=100, help="alerts to show (100)")
    backtest = sub.add_parser(
        "backtest", parents=[common], help="when a rules file would have fired on the uploads"
    )
    backtest.add_argument("rules", type=Path, metavar="RULES.toml", help="alert rules (TOML)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one alerts subcommand; return the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = config_from_environment(args.env_file)
        db_path = args.db or config.database
        if args.command == "list":
            if args.limit < 1:
                raise ConfigError(f"--limit {args.limit}: show at least 1 alert")
            return asyncio.run(_list(args, db_path))
        from loglens.analysis.alert_rules import load_rules
        from loglens.processor.options import classifier_from_config

        rules = load_rules(args.rules, classifier_from_config(config).names)
        return asyncio.run(_backtest(args, db_path, rules))
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except StorageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR


async def _list(args: argparse.Namespace, db_path: Path | str) -> int:
    async with await AlertReader.open(db_path) as reader:
        alerts, total = await reader.alerts(args.state, args.source, args.rule, args.limit)
    if args.json:
        write_json({"total": total, "alerts": [alert.to_dict() for alert in alerts]})
        return EXIT_OK
    if not alerts:
        sys.stdout.write("no alerts\n")
        return EXIT_OK
    rows = [_alert_row(alert) for alert in alerts]
    header = ("ID", "STATE", "RULE", "SOURCE", "LOG TIME", "VALUE", "WEBHOOK", "MESSAGE")
    write_table([header, *rows])
    if total > len(alerts):
        sys.stdout.write(f"({len(alerts)} of {total} alerts: --limit to see more)\n")
    return EXIT_OK


async def _backtest(args: argparse.Namespace, db_path: Path | str, rules: Sequence[Rule]) -> int:
    from loglens.analysis.alerts import AlertInput, backtest

    async with await AlertReader.open(db_path) as reader:
        stored = [u for u in await reader.uploads() if args.source in (None, u.source)]
        inputs: list[tuple[int, str, AlertInput]] = []
        for upload in stored:
            data = await reader.alert_input(upload.blob_id)
            if data is not None:
                inputs.append((upload.upload_id, upload.source, data))
    fired = backtest(rules, inputs)
    if args.json:
        write_json(
            {
                "rules": [rule.name for rule in rules],
                "uploads": len(inputs),
                "incidents": [
                    {
                        "rule": f.incident.rule,
                        "source": f.source,
                        "uploads": list(f.uploads),
                        "state": f.state,
                        "resolved_by": f.resolved_by,
                        "window_start": _iso(f.incident.start),
                        "window_end": _iso(f.incident.end),
                        "value": f.incident.value,
                        "message": f.incident.message,
                    }
                    for f in fired
                ],
            }
        )
        return EXIT_OK
    sys.stdout.write(
        f"{len(rules)} rules over {len(inputs)} uploads: {len(fired)} incidents would have fired\n"
    )
    if fired:
        rows = [
            (
                f.incident.rule,
                f.source,
                ",".join(str(u) for u in f.uploads),
                f"{_iso(f.incident.start)[:16]} .. {_iso(f.incident.end)[:16]}",
                f.state,
                f"{f.incident.value:g}",
                cut(f.incident.message, _MESSAGE_CHARS),
            )
            for f in fired
        ]
        write_table([("RULE", "SOURCE", "UPLOADS", "LOG TIME", "STATE", "VALUE", "MESSAGE"), *rows])
    return EXIT_OK


def _alert_row(alert: Alert) -> tuple[str, ...]:
    return (
        str(alert.id),
        alert.state,
        alert.rule,
        alert.source,
        f"{alert.window_start[:16]} .. {alert.window_end[:16]}",
        f"{alert.value:g}",
        alert.delivery if alert.delivery != "pending" else f"pending ({alert.attempts} tries)",
        cut(alert.message, _MESSAGE_CHARS),
    )


def _iso(micros: int) -> str:
    return from_micros(micros) or ""
