"""`python server.py`: run the upload server and its processor until SIGINT or SIGTERM.

Exit status: 0 after a graceful stop, 2 for a usage or configuration error, 1 when the
server cannot start (port taken, database unwritable, ...). Both are found, as far as
they can be, before the server creates its database or starts its processor.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from loglens.config import SERVER_SETTINGS, Config, config_from_environment
from loglens.errors import ConfigError, LoglensError
from loglens.tls import server_context

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
logger = logging.getLogger("loglens.server")


def build_parser() -> argparse.ArgumentParser:
    """The server's command-line flags; each overrides its setting in the environment."""
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="Receive log uploads, store them verified, and analyse them "
        "(settings from the environment and .env; see .env.example).",
    )
    parser.add_argument("--host", help="address to listen on (HOST)")
    parser.add_argument("--port", type=int, help="port to listen on, 0 for any free one (PORT)")
    parser.add_argument("--storage-path", type=Path, help="folder for uploads (STORAGE_PATH)")
    parser.add_argument("--db-path", type=Path, help="SQLite results database (DB_PATH)")
    parser.add_argument("--workers", type=int, help="analysis worker processes (WORKERS)")
    parser.add_argument("--env-file", default=".env", help="settings file (.env)")
    parser.add_argument(
        "--quiet", action="store_true", help="do not log each upload and client error"
    )
    return parser


def _settings(args: argparse.Namespace) -> Config:
    config = config_from_environment(args.env_file, SERVER_SETTINGS)
    changes: dict[str, object] = {}
    for flag, key in (
        ("host", "host"),
        ("port", "port"),
        ("storage_path", "storage_path"),
        ("db_path", "db_path"),
        ("workers", "workers"),
    ):
        value = getattr(args, flag)
        if value is not None:
            changes[key] = value
    if args.port is not None and not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: use 0 to 65535")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers {args.workers} must be 0 (one per CPU) or more")
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def listen_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on `host:port`, found by binding it as asyncio will
    and letting go at once; None when it can (or when `port` is 0: any free one)."""
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"HOST={host!r} is not an address to listen on: {exc.strerror}"
    for family, kind, proto, _name, address in dict.fromkeys(addresses):
        try:
            probe = socket.socket(family, kind, proto)
        except OSError:
            continue  # a family this host lacks (IPv6): asyncio skips it too
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return (
                        f"port {port} on {host} is in use by another program: stop it, or "
                        "choose another port (--port or PORT; 0 for any free one)"
                    )
                return f"cannot listen on {host}:{port} (HOST, PORT): {exc.strerror}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.quiet:
        logging.getLogger("loglens.server.session").setLevel(logging.WARNING)
    from loglens.processor.options import check_setting_files

    try:
        config = _settings(args)
        check_setting_files(config)
        tls = server_context(config)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    problem = listen_problem(config.host, config.port)
    if problem is not None:
        sys.stderr.write(f"error: the server cannot start: {problem}\n")
        return EXIT_FAILED
    if not config.auth_tokens:
        logger.warning("no AUTH_TOKENS configured: every upload will be refused")
    try:
        asyncio.run(serve(config, tls))
    except (LoglensError, OSError) as exc:
        sys.stderr.write(f"error: the server could not run: {exc}\n")
        return EXIT_FAILED
    return EXIT_OK


async def serve(config: Config, tls: ssl.SSLContext | None = None) -> None:
    """Start the server and its processor, over TLS with `tls`; stop gracefully on SIGINT
    or SIGTERM."""
    from loglens.processor.service import run_processor
    from loglens.server.app import Server

    server = Server(config, run_processor, ssl=tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if tls is not None:
        required = config.tls_client_ca_file is not None
        logger.info(
            "connections use TLS%s",
            " and need a client certificate (TLS_CLIENT_CA_FILE)" if required else "",
        )
    try:
        await server.start()
    except BaseException:
        await server.shutdown(grace=0)
        raise
    await stop.wait()
    logger.info("stopping: no new connections; uploads in flight may finish")
    await server.shutdown()
