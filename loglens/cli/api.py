"""`python -m loglens api`: serve the HTTP API and dashboard with uvicorn until SIGINT/SIGTERM.

Exit status: 0 after a graceful stop, 2 for a usage or configuration error, 1 when the API
cannot start (port taken, no database, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from loglens.config import Config, config_from_environment
from loglens.errors import ConfigError, StorageError
from loglens.storage.read.queries import Reader
from loglens.tls import server_context, uvicorn_options

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
logger = logging.getLogger("loglens.api")


def build_parser() -> argparse.ArgumentParser:
    """The API's command-line flags; each overrides its setting in the environment."""
    parser = argparse.ArgumentParser(
        prog="loglens api",
        description="Serve the HTTP API (OpenAPI docs at /docs) and the web dashboard (/) "
        "over the results database (settings from the environment and .env; see .env.example).",
    )
    parser.add_argument("--host", help="address to listen on (API_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on, 0 for any free one (API_PORT)")
    parser.add_argument("--db-path", type=Path, help="SQLite results database (DB_PATH)")
    parser.add_argument("--env-file", default=".env", help="settings file (.env)")
    parser.add_argument(
        "--cache-mb",
        type=int,
        default=64,
        help="MiB of answers kept until the database changes; 0: none (64)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def _settings(args: argparse.Namespace) -> Config:
    config = config_from_environment(args.env_file)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: use 0 to 65535")
    return dataclasses.replace(
        config,
        api_host=args.host if args.host is not None else config.api_host,
        api_port=args.port if args.port is not None else config.api_port,
        db_path=args.db_path if args.db_path is not None else config.db_path,
        database_url="" if args.db_path is not None else config.database_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the API; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = _settings(args)
        server_context(config)  # TLS_* checked here, each error naming its setting
        if args.cache_mb < 0:
            raise ConfigError(f"--cache-mb {args.cache_mb} must be 0 (no cache) or more")
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    if config.database_url:
        try:  # a PostgreSQL that is down is said in one line, before uvicorn starts
            asyncio.run(_reachable(config))
        except StorageError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_FAILED
    elif not config.db_path.is_file():
        sys.stderr.write(
            f"error: no results database at {config.db_path} (DB_PATH): start the server "
            "first to create it, or give --db-path\n"
        )
        return EXIT_FAILED
    try:
        started = asyncio.run(serve(config, args.cache_mb * 1024 * 1024, args.verbose))
    except OSError as exc:
        sys.stderr.write(
            f"error: the API cannot listen on {config.api_host}:{config.api_port}: {exc}\n"
        )
        return EXIT_FAILED
    return EXIT_OK if started else EXIT_FAILED


async def _reachable(config: Config) -> None:
    """StorageError unless the results database can be opened for reading."""
    reader = await Reader.open(config.database)
    await reader.close()


async def serve(config: Config, cache_bytes: int, access_log: bool = False) -> bool:
    """Serve until SIGINT or SIGTERM; False if the app could not start (logged)."""
    from loglens.api import create_app

    sock = _listen(config.api_host, config.api_port)
    host, port = sock.getsockname()[:2]
    server = _Server(
        uvicorn.Config(
            create_app(config, cache_bytes),
            lifespan="on",
            log_config=None,  # our logging.basicConfig above
            access_log=access_log,
            server_header=False,
            # The client's address is the peer's: an X-Forwarded-For header would let a
            # client pick its own and dodge the per-address limit on wrong tokens.
            proxy_headers=False,
            **uvicorn_options(config),
        )
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if config.tls_cert_file is not None else "http"
        logger.info("loglens api listening on %s://%s:%d", scheme, shown, port)
    await task
    sock.close()
    return server.started


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by our signal handlers: after a graceful stop on SIGTERM the
    process exits 0 (uvicorn's own handlers raise the signal again once it has stopped)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        """Stop gracefully; a second request stops at once."""
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every keep-alive answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
