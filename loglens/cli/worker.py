"""`python -m loglens worker`: a Celery worker that runs loglens analysis tasks.

    python -m loglens worker [--env-file .env] [--broker URL] [--storage-path DIR]
                             [CELERY WORKER FLAGS...]
    python -m loglens worker --ping [--timeout S] [--hostname NAME]

It is `celery worker` on the app `loglens.distributed.app.make_app` builds from BROKER_URL
(RabbitMQ `amqp://…`, Redis `redis://…`), STORAGE_PATH (where it reads blobs and writes
partial summaries: the processor's, shared over NFS on other machines) and BROKER_QUEUE.
Every flag this command does not know goes to `celery worker` as it is: --concurrency
(default: WORKERS, else one per CPU), --loglevel (default INFO), -Q (default
BROKER_QUEUE), --hostname, --pool, --max-tasks-per-child...; `--celery-help` lists them.

Each task logs one line: its job, task, file, bytes and offset, and its time; a refused
message (unknown job, path outside STORAGE_PATH, wrong lease) a warning saying why.

`--ping` is a health check: it asks the workers over the broker (Celery's control ping)
and exits 0 if one answered (the one `--hostname` names, if given), else 1.

Exit status: 0 after a warm shutdown (SIGTERM or Ctrl-C), 1 when the broker cannot be
reached or a ping is not answered, 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loglens.config import Config, config_from_environment
from loglens.errors import ConfigError, LoglensError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
WORKER_SETTINGS = frozenset({"BROKER_URL", "BROKER_QUEUE", "STORAGE_PATH", "WORKERS"})


def build_parser() -> argparse.ArgumentParser:
    """The worker's own flags; the others are `celery worker`'s."""
    parser = argparse.ArgumentParser(
        prog="loglens worker",
        description="Run loglens analysis tasks from BROKER_URL (a Celery worker). Flags "
        "not listed here go to `celery worker` unchanged: --concurrency N, --loglevel L, "
        "-Q QUEUES, --hostname NAME, --pool prefork|solo|threads ... (see --celery-help).",
        epilog="Settings: BROKER_URL, BROKER_QUEUE, STORAGE_PATH, WORKERS (environment, "
        ".env). Blobs are read from STORAGE_PATH: on another machine, mount the server's "
        "STORAGE_PATH there (NFS) at any path and point STORAGE_PATH at it.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file (.env)")
    parser.add_argument("--broker", help="broker URL (BROKER_URL)")
    parser.add_argument(
        "--storage-path", type=Path, help="the shared folder of the uploads (STORAGE_PATH)"
    )
    parser.add_argument(
        "--ping", action="store_true", help="health check: exit 0 if a worker answers, else 1"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds a ping waits (5)")
    parser.add_argument(
        "--celery-help", action="store_true", help="show the flags of `celery worker`"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker (or ping the workers); return the exit status."""
    args, rest = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        config = _settings(args)
        from loglens.distributed.app import BrokerUnavailable, check_broker, make_app

        app = make_app(config)
        if args.celery_help:
            return int(app.start(["worker", "--help"]) or 0)
        check_broker(app, config.broker_url)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except BrokerUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED
    if args.ping:
        return _ping(app, _hostname(rest), args.timeout)
    return _run(app, config, rest)


def _settings(args: argparse.Namespace) -> Config:
    config = config_from_environment(args.env_file, WORKER_SETTINGS)
    changes: dict[str, Any] = {}
    if args.broker is not None:
        changes["broker_url"] = args.broker.strip()
    if args.storage_path is not None:
        changes["storage_path"] = args.storage_path
    config = dataclasses.replace(config, **changes)
    if not config.broker_url:
        raise ConfigError(
            "BROKER_URL is empty: set it (or --broker) to the broker the server sends its "
            "tasks to, e.g. amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/0"
        )
    if not config.storage_path.is_dir():
        raise ConfigError(
            f"STORAGE_PATH={config.storage_path} is not a folder: point it at the server's "
            "uploads (shared over NFS on another machine)"
        )
    return config


def _run(app: Any, config: Config, rest: list[str]) -> int:
    """Run `celery worker` with our defaults for the flags not given."""
    from celery.signals import worker_process_init

    worker_process_init.connect(_init_worker_process, weak=False)
    argv = ["worker", *rest]
    given = {item.split("=", 1)[0] for item in rest}
    if not given & {"-c", "--concurrency"} and not any(a.startswith("-c") for a in rest):
        argv += ["--concurrency", str(config.worker_count)]
    if not given & {"-l", "--loglevel"}:
        argv += ["--loglevel", "INFO"]
    if not given & {"-Q", "--queues"}:
        argv += ["-Q", config.broker_queue]
    try:
        return int(app.worker_main(argv) or 0)
    except LoglensError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED


def _init_worker_process(**_kwargs: object) -> None:
    """A worker's pool process: one polars thread (the pool is the parallelism)."""
    from loglens.processor.workers import limit_threads

    limit_threads()


def _hostname(rest: list[str]) -> str | None:
    """The --hostname (-n) among the flags for celery, if any."""
    for number, item in enumerate(rest):
        if item in ("-n", "--hostname") and number + 1 < len(rest):
            return rest[number + 1]
        if item.startswith("--hostname="):
            return item.split("=", 1)[1]
    return None


def _ping(app: Any, hostname: str | None, timeout: float) -> int:
    """Ask the workers (or the one named) whether they are there."""
    from celery.utils.nodenames import host_format

    hostname = host_format(hostname) if hostname else None
    destination = [hostname] if hostname else None
    try:
        answers = app.control.ping(destination=destination, timeout=timeout) or []
    except Exception as exc:  # kombu's transport errors: the broker went away meanwhile
        sys.stderr.write(f"error: ping failed: {exc}\n")
        return EXIT_FAILED
    names = sorted(name for answer in answers for name in answer)
    if not names:
        who = f"worker {hostname} did not answer" if hostname else "no worker answered"
        sys.stderr.write(f"{who} within {timeout:g} s (BROKER_URL, BROKER_QUEUE?)\n")
        return EXIT_FAILED
    sys.stdout.write("".join(f"{name}: ok\n" for name in names))
    return EXIT_OK
