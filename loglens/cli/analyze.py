"""`python processor.py PATH...`: analyse log files locally and print the report.

Exit status: 0 when every input was analysed, 1 when some input could not be (the report
still covers the others), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from loglens.analysis.formats import GENERIC_FORMAT, format_by_name
from loglens.analysis.report import build_report, render_text
from loglens.cli.explain import explain, render_explanation
from loglens.config import (
    ANALYSIS_SETTINGS,
    FOLLOW_SETTINGS,
    Config,
    check_levels,
    check_regex,
    check_timezone,
    config_from_environment,
)
from loglens.errors import ConfigError, FormatError, InputError, LoglensError
from loglens.processor.inputs import Source, expand_paths
from loglens.processor.local import Options, analyse
from loglens.processor.options import formats_from_config, options_from_config

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The analyzer's command-line flags."""
    parser = argparse.ArgumentParser(
        prog="processor.py",
        description="Analyse log files (plain or .gz, directories, globs, - for stdin) "
        "and print counts per level, the top error templates and the time range.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="log files, directories, globs, -")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--events", metavar="FILE", type=Path, help="write one JSON line per entry")
    parser.add_argument("--top", metavar="N", type=_positive, help="how many error templates (5)")
    parser.add_argument("--format", metavar="NAME", help="force a format instead of detecting it")
    parser.add_argument("--list-formats", action="store_true", help="list the known formats")
    parser.add_argument(
        "--explain-format", action="store_true",
        help="show the format detected for each file and how its sample lines are read",
    )  # fmt: skip
    parser.add_argument("--timezone", metavar="TZ", help="zone of timestamps that carry none (UTC)")
    parser.add_argument("--workers", metavar="N", type=_positive, help="worker processes (CPUs)")
    parser.add_argument(
        "--drop-level", metavar="LEVEL", action="append", default=[],
        help="drop entries of this level as irrelevant (counted); repeatable",
    )  # fmt: skip
    parser.add_argument("--drop-regex", metavar="RE", help="drop entries whose message matches")
    parser.add_argument("--formats-file", metavar="FILE", type=Path, help="TOML of custom formats")
    parser.add_argument("--env-file", metavar="FILE", default=".env", help="settings file (.env)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "-f", "--follow", action="store_true",
        help="follow one FILE as it grows (like tail -F), showing the analysis live until "
        "Ctrl-C; with --json, one JSON report a line",
    )  # fmt: skip
    parser.add_argument(
        "--interval", metavar="SECONDS", type=_seconds, default=1.0,
        help="with --follow: how often the view is redrawn (1)",
    )  # fmt: skip
    parser.add_argument(
        "--from-end", action="store_true",
        help="with --follow: only lines written from now on, not those already there",
    )  # fmt: skip
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.05 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be seconds from 0.05 to 3600, got {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _settings(args: argparse.Namespace) -> Config:
    """The environment's config with the command line's flags laid over it."""
    wanted = FOLLOW_SETTINGS if args.follow else ANALYSIS_SETTINGS
    config = config_from_environment(args.env_file, wanted)
    changes: dict[str, object] = {}
    if args.top is not None:
        changes["top_n"] = args.top
    if args.timezone is not None:
        changes["timezone"] = check_timezone(args.timezone, "--timezone")
    if args.workers is not None:
        changes["workers"] = args.workers
    if args.drop_level:
        changes["drop_levels"] = check_levels(",".join(args.drop_level), "--drop-level")
    if args.drop_regex is not None:
        changes["drop_regex"] = check_regex(args.drop_regex, "--drop-regex")
    if args.formats_file is not None:
        changes["formats_file"] = args.formats_file
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the analyzer; return the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = _settings(args)
        formats = formats_from_config(
            config, "--formats-file" if args.formats_file is not None else "FORMATS_FILE"
        )
        if args.list_formats:
            for fmt in (*formats, GENERIC_FORMAT):
                sys.stdout.write(f"{fmt.name:16} {fmt.description}\n")
            return EXIT_OK
        if not args.paths:
            parser.error("give at least one PATH (a file, directory, glob, or - for stdin)")
        if args.format is not None:
            format_by_name(args.format, formats)  # fail now, not once per file
        options = options_from_config(config, formats, args.format, args.events)
    except (ConfigError, FormatError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE

    if args.follow or args.from_end:
        return _follow(parser, args, options, config)
    sources, problems = expand_paths(args.paths)
    if args.explain_format:
        return _explain(sources, problems, options, as_json=args.json)
    try:
        with _progress(sum(s.size for s in sources), enabled=not args.quiet) as advance:
            analysis = analyse(sources, options, progress=advance)
    except LoglensError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_PARTIAL
    problems += analysis.problems
    for problem in problems:
        sys.stderr.write(f"error: {problem}\n")
    if not analysis.summary.files:
        sys.stderr.write("error: no input could be analysed\n")
        return EXIT_PARTIAL
    report = build_report(analysis.summary, analysis.templates, config.top_n, analysis.findings)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return EXIT_PARTIAL if problems else EXIT_OK


def _follow(
    parser: argparse.ArgumentParser, args: argparse.Namespace, options: Options, config: Config
) -> int:
    """Check the flags that --follow takes, then follow the file (with the alert rules of
    ALERT_RULES_FILE, POSTed to ALERT_WEBHOOK_URL)."""
    if not args.follow:
        parser.error("--from-end goes with --follow")
    if len(args.paths) != 1 or args.paths[0] == "-":
        parser.error("--follow takes exactly one FILE (not - : pipe the stream to client.py)")
    if args.events is not None or args.explain_format:
        parser.error("--follow does not go with --events or --explain-format")
    path = Path(args.paths[0])
    if path.exists() and not path.is_file():
        parser.error(f"--follow: {path} is not a regular file")
    from loglens.cli.follow import follow
    from loglens.cli.live_alerts import LiveAlerts
    from loglens.processor.alerting import rules_from_config

    try:
        rules = rules_from_config(config)
    except LoglensError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    alerts = LiveAlerts(rules, config.alert_webhook_url, str(path)) if rules else None
    return follow(path, options, config.top_n, args.interval, args.json, args.from_end, alerts)


def _explain(
    sources: Sequence[Source], problems: list[InputError], options: Options, as_json: bool
) -> int:
    """Print what was understood of each source's first lines."""
    reports = []
    for source in sources:
        try:
            reports.append(explain(source, options))
        except InputError as exc:
            problems.append(exc)
    for problem in problems:
        sys.stderr.write(f"error: {problem}\n")
    if as_json:
        sys.stdout.write(json.dumps(reports, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(render_explanation(report) for report in reports))
    return EXIT_PARTIAL if problems or not reports else EXIT_OK


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar over bytes on stderr, shown only when stderr is a terminal."""
    if not (enabled and sys.stderr.isatty() and total > 0):
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("analysing", total=total)
        yield lambda done: bar.advance(task, done)
