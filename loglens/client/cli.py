"""`python client.py FILE...`: upload log files to the server, verified, and show the results.

Exit status: 0 when every file was stored and verified (and, with --wait, analysed); 1 when
some file failed (one `error:` line each on stderr); 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import ssl
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loglens.client.display import Display
from loglens.client.models import (
    ANALYSIS_FAILED,
    INPUT_ERROR,
    UploadError,
    UploadOptions,
    UploadResult,
)
from loglens.client.sources import (
    STDIN_NAME,
    list_sources,
    parse_server,
    prepare_file,
    prepare_stream,
    printable,
)
from loglens.client.upload import upload
from loglens.config import Config, config_from_environment
from loglens.errors import ConfigError, InputError
from loglens.processor.inputs import STDIN, Source
from loglens.protocol import MAX_NAME_CHARS
from loglens.tls import client_context

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM
_RESUME_HINT = "run the same command again to resume the unfinished uploads"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one file: its result, or why it failed (or both, when analysis did)."""

    name: str
    result: UploadResult | None = None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """Stored, verified and (when waited for) analysed."""
        return self.code is None


def build_parser() -> argparse.ArgumentParser:
    """The client's command-line flags."""
    parser = argparse.ArgumentParser(
        prog="client.py",
        description="Upload log files (plain or .gz, directories, globs, - for stdin) to a "
        "loglens server, which stores them verified by SHA-256 and analyses them.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="log files, directories, globs, -")
    parser.add_argument("--server", metavar="HOST:PORT", help="the server (LOGLENS_SERVER)")
    parser.add_argument("--token", help="your upload token (LOGLENS_TOKEN, safer than a flag)")
    parser.add_argument("--env-file", metavar="FILE", help="settings file (default: .env)")
    parser.add_argument(
        "--tls", action="store_const", const=True,
        help="connect over TLS (LOGLENS_TLS); the server's certificate is checked",
    )  # fmt: skip
    parser.add_argument(
        "--ca", type=Path, metavar="FILE",
        help="with --tls: trust the CA certificate(s) in FILE instead of the system's (LOGLENS_CA)",
    )  # fmt: skip
    parser.add_argument(
        "--cert", type=Path, metavar="FILE",
        help="with --tls: this client's certificate, for a server that requires one (LOGLENS_CERT)",
    )  # fmt: skip
    parser.add_argument(
        "--key", type=Path, metavar="FILE",
        help="with --cert: its private key, unless FILE of --cert holds it (LOGLENS_KEY)",
    )  # fmt: skip
    parser.add_argument(
        "--parallel", metavar="N", type=_whole(1), default=4, help="files at once (4)"
    )
    parser.add_argument(
        "--name", type=_source_name, metavar="NAME",
        help=f"the name of the upload read from - (standard input; default {STDIN_NAME})",
    )  # fmt: skip
    parser.add_argument(
        "-f", "--follow", action="store_true",
        help="follow each FILE as it grows, like tail -F (through rotation and truncation, "
        "and a file that does not exist yet), sending it as a live stream analysed as it "
        "arrives; Ctrl-C stops, the same command goes on where it stopped; - ends with "
        "the input",
    )  # fmt: skip
    parser.add_argument("--wait", action="store_true", help="wait for the analysis, print it")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--retries", metavar="N", type=_whole(0), default=5,
        help="reconnections after a dropped connection or a retryable error (5)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", metavar="SECONDS", type=_seconds, default=60.0,
        help="how long a silent server is waited for before reconnecting (60)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--verbose", action="store_true", help="log what happens")
    return parser


def _whole(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} must be at least {minimum}")
        return value

    return parse


def _source_name(text: str) -> str:
    """A --name: printable UTF-8, one line, at most MAX_NAME_CHARS characters."""
    if printable(text) != text:
        raise argparse.ArgumentTypeError(
            f"{printable(text)!r} is not valid UTF-8: give the name in UTF-8"
        )
    if not text.strip():
        raise argparse.ArgumentTypeError("the name is empty: give the upload a name")
    if not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"{text!r} has control characters (a newline, a tab…): give a one-line name"
        )
    if len(text) > MAX_NAME_CHARS:
        raise argparse.ArgumentTypeError(
            f"the name has {len(text):,} characters, at most {MAX_NAME_CHARS:,} are sent"
        )
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value


@dataclass(frozen=True)
class Settings:
    """What the client connects with, flags over the environment."""

    address: tuple[str, int]
    token: str
    frame_bytes: int  # the DATA frame size
    resume_dir: Path | None  # where unfinished uploads are remembered
    tls: ssl.SSLContext | None


def _settings(args: argparse.Namespace) -> Settings:
    """The client's settings, flags over the environment."""
    if args.env_file is not None and not Path(args.env_file).is_file():
        raise ConfigError(f"--env-file {args.env_file}: no such file")
    config = config_from_environment(args.env_file or ".env")
    if args.server is not None:
        address = parse_server(args.server, "--server")
    else:
        address = parse_server(config.server, "LOGLENS_SERVER")
    token = args.token if args.token is not None else config.token
    if not token.strip():
        raise ConfigError(
            "no upload token: set LOGLENS_TOKEN in the environment or in .env, or pass "
            "--token (the server's AUTH_TOKENS lists each operator's token)"
        )
    return Settings(
        address, token.strip(), config.max_frame_bytes, config.resume_dir, _tls(args, config)
    )


def _tls(args: argparse.Namespace, config: Config) -> ssl.SSLContext | None:
    """The TLS context of --tls/LOGLENS_TLS with its files (each flag over its variable);
    None for plain TCP. A file given without TLS is an error, not silently unused."""
    ca = _file(args.ca, "--ca", config.client_ca_file, "LOGLENS_CA")
    cert = _file(args.cert, "--cert", config.client_cert_file, "LOGLENS_CERT")
    key = _file(args.key, "--key", config.client_key_file, "LOGLENS_KEY")
    given = [file for file in (ca, cert, key) if file is not None]
    if not (args.tls or config.client_tls):
        if given:
            path, name = given[0]
            raise ConfigError(
                f"{name} {path} is used only over TLS: add --tls (or LOGLENS_TLS=true)"
            )
        return None
    if key is not None and cert is None:
        raise ConfigError(
            f"{key[1]} {key[0]} is the key of a client certificate: give the certificate "
            "too (--cert FILE or LOGLENS_CERT)"
        )
    return client_context(ca, cert, key)


def _file(
    flag: Path | None, flag_name: str, setting: Path | None, setting_name: str
) -> tuple[Path, str] | None:
    """A file given by a flag or by a setting (the flag wins), with the name that gave it."""
    if flag is not None:
        return flag, flag_name
    if setting is not None:
        return setting, setting_name
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; return the exit status."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    if not args.files:
        parser.error("give at least one FILE (a file, directory, glob, or - for stdin)")
    if args.name is not None and STDIN not in args.files:
        parser.error(f"--name names the upload read from standard input: give {STDIN} too")
    if args.follow:
        return _follow(parser, args)
    try:
        settings = _settings(args)
        sources, problems = list_sources(args.files, args.name or STDIN_NAME)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    address, token = settings.address, settings.token
    options = UploadOptions(
        wait=args.wait, retries=args.retries, timeout=args.timeout,
        frame_bytes=settings.frame_bytes, ssl=settings.tls, resume_dir=settings.resume_dir,
    )  # fmt: skip
    show = not args.quiet and sys.stderr.isatty() and bool(sources)
    display = Display(len(sources), sum(s.size for s in sources), enabled=show)
    try:
        with display:
            outcomes = asyncio.run(_upload_all(sources, address, token, options, args, display))
    except KeyboardInterrupt:
        sys.stderr.write(f"interrupted: {_RESUME_HINT}\n")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:  # SIGTERM
        sys.stderr.write(f"terminated: {_RESUME_HINT}\n")
        return EXIT_TERMINATED
    # Arguments and messages may hold bytes of file names that are not UTF-8.
    outcomes = [
        Outcome(printable(given), None, INPUT_ERROR, printable(str(exc))) for given, exc in problems
    ] + outcomes
    if args.json:
        document = [_as_json(outcome, args.wait) for outcome in outcomes]
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_text(outcomes, args.wait)
    for outcome in outcomes:
        if not outcome.ok:
            # An input error's message starts with the file's name already.
            shown = "" if outcome.code == INPUT_ERROR else f"{outcome.name}: "
            sys.stderr.write(f"error: {shown}{outcome.message}\n")
    return EXIT_OK if all(outcome.ok for outcome in outcomes) else EXIT_FAILED


def _follow(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """`--follow`: stream each source until it ends (stdin) or Ctrl-C; the exit status."""
    from loglens.client.follow import follow_all

    if args.wait or args.json:
        parser.error("--wait and --json are for files sent whole: a followed file has no end")
    if len(set(args.files)) != len(args.files):
        parser.error("a file is given twice: each is followed once")
    sources: list[tuple[str, Path | None]] = []
    for given in args.files:
        if given == STDIN:
            sources.append((args.name or STDIN_NAME, None))
        elif Path(given).is_dir():
            parser.error(f"{printable(given)} is a directory: --follow takes files (or -)")
        elif _is_gzip(Path(given)):
            parser.error(f"{printable(given)} is gzip, which does not grow line by line: "
                         "upload it without --follow")  # fmt: skip
        else:
            sources.append((printable(given), Path(given)))
    try:
        settings = _settings(args)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    options = UploadOptions(
        retries=args.retries, timeout=args.timeout, frame_bytes=settings.frame_bytes,
        ssl=settings.tls, resume_dir=settings.resume_dir,
    )  # fmt: skip

    def say(line: str) -> None:
        if not args.quiet:
            sys.stderr.write(line + "\n")

    async def run() -> list[str]:
        main_task = asyncio.current_task()
        assert main_task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
        return await follow_all(sources, settings.address, settings.token, options, say)

    hint = "the same command goes on from the last byte the server acknowledged"
    try:
        errors = asyncio.run(run())
    except KeyboardInterrupt:
        sys.stderr.write(f"stopped following: {hint}\n")
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        sys.stderr.write(f"terminated: {hint}\n")
        return EXIT_TERMINATED
    for error in errors:
        sys.stderr.write(f"error: {error}\n")
    return EXIT_FAILED if errors else EXIT_OK


def _is_gzip(path: Path) -> bool:
    """Whether a file (if it exists) starts as gzip does, or is named .gz."""
    if path.suffix == ".gz":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(2) == b"\x1f\x8b"
    except OSError:
        return False  # not there yet, or unreadable: the follow says so


async def _upload_all(
    sources: list[Source],
    address: tuple[str, int],
    token: str,
    options: UploadOptions,
    args: argparse.Namespace,
    display: Display,
) -> list[Outcome]:
    """Upload every source, `--parallel` at a time, one connection each, on this loop."""
    gate = asyncio.Semaphore(args.parallel)
    # SIGTERM ends the uploads as Ctrl-C does: connections closed, the stdin spool deleted.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with contextlib.ExitStack() as stack:
        spool = None
        if any(source.path is None for source in sources):
            spool = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loglens-client-")))

        async def one(source: Source) -> Outcome:
            async with gate:
                return await _upload_one(source, spool, address, token, options, display)

        return list(await asyncio.gather(*(one(source) for source in sources)))


async def _upload_one(
    source: Source,
    spool: Path | None,
    address: tuple[str, int],
    token: str,
    options: UploadOptions,
    display: Display,
) -> Outcome:
    """Prepare and upload one file; its outcome, failures included."""
    progress = display.track(source.name, source.size)
    try:
        if source.path is None:
            assert spool is not None
            # Unbuffered and lock-free: a reading thread left behind at exit blocks nothing.
            with open(sys.stdin.fileno(), "rb", buffering=0, closefd=False) as stdin:
                payload = await prepare_stream(stdin, spool, source.name, progress)
        else:
            payload = await prepare_file(source.path, source.name, progress)
        result = await upload(payload, address, token, options, progress=progress)
    except UploadError as exc:
        outcome = Outcome(source.name, None, exc.code, printable(exc.message))
    except InputError as exc:
        outcome = Outcome(source.name, None, INPUT_ERROR, printable(str(exc)))
    else:
        outcome = Outcome(source.name, result)
        if options.wait and result.state != "done":
            why = result.error or f"the job ended in state {result.state!r}"
            message = f"analysis of upload {result.upload_id} failed: {why}"
            outcome = Outcome(source.name, result, ANALYSIS_FAILED, message)
    display.finish(source.name, source.size, outcome.ok)
    return outcome


def _print_text(outcomes: list[Outcome], wait: bool) -> None:
    """One line per stored file; with --wait, its report below it."""
    for outcome in outcomes:
        result = outcome.result
        if result is None:
            continue
        line = (
            f"{result.name}: stored as upload {result.upload_id} ({result.size:,} bytes), "
            f"sha256 {result.sha256} verified"
        )
        if result.duplicate:
            line += "; duplicate: the server already had this content"
        elif result.offsets and result.offsets[0] > 0:
            # An unfinished upload (of an earlier run) taken over where the server held it.
            line += f"; resumed at byte {result.offsets[0]:,}"
        sys.stdout.write(line + "\n")
        if wait and result.report is not None:
            from loglens.analysis.report import render_text  # polars: only when needed

            sys.stdout.write(render_text(result.report) + "\n")


def _as_json(outcome: Outcome, wait: bool) -> dict[str, Any]:
    """One file's object in the --json document."""
    fields = ["upload_id", "sha256", "size", "compression", "duplicate", "job_id"]
    if wait:
        fields += ["state", "report"]
    item: dict[str, Any] = {"name": outcome.name, "ok": outcome.ok}
    for key in fields:
        item[key] = getattr(outcome.result, key) if outcome.result is not None else None
    item["error"] = None if outcome.ok else {"code": outcome.code, "message": outcome.message}
    return item
