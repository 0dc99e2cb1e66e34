"""One frozen configuration, built once from the environment and an optional `.env`.

Every key, its default and its meaning is listed in `.env.example`. Command-line flags
override the environment by `dataclasses.replace` on the object built here. Tests pass a
plain dict to `load_config` instead of touching `os.environ`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loglens.errors import ConfigError

# Any gzip may decompress to this much; past it, MAX_COMPRESSION_RATIO applies (a small file
# of repetitive lines compresses far better than a big one). The server and the processor
# both hold every gzip they open to it.
RATIO_FREE_BYTES = 16 * 1024 * 1024

LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4,
}  # fmt: skip

# The settings `python processor.py` reads: it ignores the others, so a server-only value
# (PORT, AUTH_TOKENS_FILE, ...) cannot stop a local analysis.
ANALYSIS_SETTINGS = frozenset(
    {
        "WORKERS",
        "CHUNK_BYTES",
        "TIMEZONE",
        "LEARN_FORMATS",
        "TOP_N",
        "DROP_LEVELS",
        "DROP_REGEX",
        "FORMATS_FILE",
        "CATEGORIES_FILE",
        "MAX_DECOMPRESSED_BYTES",
        "MAX_COMPRESSION_RATIO",
        "MAX_LINE_BYTES",
    }
)
# `processor.py --follow` also evaluates the alert rules as lines come (a plain analysis
# does not, and is not stopped by a bad value of theirs).
FOLLOW_SETTINGS = ANALYSIS_SETTINGS | {"ALERT_RULES_FILE", "ALERT_WEBHOOK_URL"}
# The settings `python server.py` reads, for itself and for the processor it runs: all
# but those of the HTTP API and of the client.
SERVER_SETTINGS = FOLLOW_SETTINGS | {
    "HOST",
    "PORT",
    "STORAGE_PATH",
    "DB_PATH",
    "DATABASE_URL",
    "BROKER_URL",
    "BROKER_QUEUE",
    "BROKER_IN_FLIGHT",
    "BROKER_RESEND_SECONDS",
    "AUTH_TOKENS",
    "AUTH_TOKENS_FILE",
    "MAX_HEADER_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_UPLOAD_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_CONNECTIONS",
    "IDLE_TIMEOUT",
    "HANDSHAKE_TIMEOUT",
    "MAX_HANDSHAKES_PER_ADDRESS",
    "AUTH_FAILURE_LIMIT",
    "AUTH_LOCKOUT_SECONDS",
    "DIRECT_RECEIVE_BYTES",
    "PARTIAL_TTL",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_CA_FILE",
}


@dataclass(frozen=True)
class Config:
    """Settings of every loglens component; see `.env.example` for each key."""

    host: str = "127.0.0.1"
    port: int = 7878
    storage_path: Path = Path("data/uploads")
    db_path: Path = Path("data/loglens.db")
    # A postgresql:// URL: results in PostgreSQL instead of the SQLite file at db_path.
    database_url: str = ""
    broker_url: str = ""
    broker_queue: str = "loglens"  # the Celery queue of the analysis tasks
    broker_in_flight: int = 32  # tasks of one job sent to the broker before one is back
    broker_resend_seconds: float = 60.0  # no answer this long, none queued: send again
    workers: int = 0
    chunk_bytes: int = 4 * 1024 * 1024
    timezone: str = "UTC"
    learn_formats: bool = True
    top_n: int = 5
    drop_levels: tuple[str, ...] = ()
    drop_regex: str = ""
    formats_file: Path | None = None
    categories_file: Path | None = None
    alert_rules_file: Path | None = None
    alert_webhook_url: str = ""
    auth_tokens: tuple[tuple[str, str], ...] = ()
    # The tokens marked `:read-all`: the API lets them read every operator's uploads.
    read_all_tokens: frozenset[str] = frozenset()
    max_header_bytes: int = 64 * 1024
    max_frame_bytes: int = 1024 * 1024
    max_upload_bytes: int = 16 * 1024**3
    # As much as the biggest plain upload: a gzip never buys more disk or analysis time.
    max_decompressed_bytes: int = 16 * 1024**3
    max_compression_ratio: int = 100  # logs gzip 4-20x; a gzip bomb ~1000x
    max_line_bytes: int = 1024 * 1024
    max_connections: int = 512
    idle_timeout: float = 60.0
    handshake_timeout: float = 10.0
    max_handshakes_per_address: int = 64
    auth_failure_limit: int = 10
    auth_lockout_seconds: float = 60.0
    direct_receive_bytes: int = 32 * 1024 * 1024
    partial_ttl: float = 7 * 24 * 3600.0
    server: str = "127.0.0.1:7878"
    token: str = ""
    resume_dir: Path | None = None  # where the client remembers unfinished uploads
    api_host: str = "127.0.0.1"
    api_port: int = 7879
    # TLS of the server and the API (both files or neither), and the CAs whose client
    # certificates they require (mTLS); built into contexts by `loglens.tls`.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # The client's TLS (LOGLENS_TLS): the CA it trusts, its certificate and key for mTLS.
    client_tls: bool = False
    client_ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None

    @property
    def database(self) -> Path | str:
        """The results database: DATABASE_URL when set, else the SQLite file DB_PATH."""
        return self.database_url or self.db_path

    @property
    def worker_count(self) -> int:
        """Worker processes to use: `workers`, or one per CPU when it is 0."""
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


def parse_size(text: str, name: str) -> int:
    """Parse a byte size such as `64MiB`, `1.5GB` or `4096`; ConfigError names `name`."""
    match = _SIZE_RE.match(text)
    unit = (match.group(2) or "").lower() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise ConfigError(f"{name}={text!r} is not a size: use a number of bytes or e.g. 64MiB")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no setting: use true or false")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small: it must be at least {minimum}")
    return value


def check_timezone(name: str, setting: str = "TIMEZONE") -> str:
    """Return `name` if it is a known IANA time zone, else raise ConfigError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{setting}={name!r} is not a known time zone: use an IANA name like "
            "'UTC' or 'Europe/Berlin'"
        ) from None
    return name


def check_levels(raw: str, setting: str = "DROP_LEVELS") -> tuple[str, ...]:
    """Parse a comma-separated list of level names, each one of LEVELS."""
    names = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = [name for name in names if name not in LEVELS]
    if unknown:
        raise ConfigError(
            f"{setting} has unknown level {unknown[0]!r}: use some of {', '.join(LEVELS)}"
        )
    return names


def check_regex(pattern: str, setting: str = "DROP_REGEX") -> str:
    """Return `pattern` if the engine that runs it (polars, Rust's regex) compiles it.

    Python's `re` would accept look-arounds and back-references, which Rust's regex
    refuses only once the analysis runs; ConfigError names `setting` and the pattern.
    """
    import polars as pl  # imported here: only a command given a pattern needs the engine

    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        raise ConfigError(
            f"{setting}={pattern!r} is not a regex the analysis can run (Rust regex "
            f"syntax): {regex_problem(str(exc))}"
        ) from None
    return pattern


def regex_problem(message: str) -> str:
    """The one line of a polars regex error (many lines) that says what is wrong."""
    for line in message.splitlines():
        if line.startswith("error: "):
            return line.removeprefix("error: ").strip()
    return message.splitlines()[0] if message else "it does not compile"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default, 0)
    if value > 65535:
        raise ConfigError(f"{name}={value} is not a port: use 0 (any free one) to 65535")
    return value


def _size(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = parse_size(raw, name)
    if value < minimum:
        raise ConfigError(f"{name}={raw} is too small: it must be at least {minimum:,} bytes")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw} must be more than 0 seconds")
    return value


READ_ALL_MARK = ":read-all"


def parse_token_entries(
    text: str, setting: str = "AUTH_TOKENS"
) -> tuple[tuple[str, str, bool], ...]:
    """Parse `alice:s3cret,bob:hunter2,root:t0p:read-all` (commas or newlines) into
    (operator, token, read_all) entries: a token followed by `:read-all` may read every
    operator's uploads in the API (the mark is not part of the token)."""
    entries: list[tuple[str, str, bool]] = []
    for item in re.split(r"[,\n]", text):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        operator, sep, token = item.partition(":")
        operator, token = operator.strip(), token.strip()
        read_all = token.endswith(READ_ALL_MARK)
        token = token.removesuffix(READ_ALL_MARK).strip()
        if not sep or not operator or not token:
            raise ConfigError(
                f"{setting}: {item!r} is not operator:token or operator:token:read-all"
            )
        if any(token == have for _op, have, _all in entries):
            raise ConfigError(f"{setting}: operator {operator!r} reuses another operator's token")
        entries.append((operator, token, read_all))
    return tuple(entries)


def parse_tokens(text: str, setting: str = "AUTH_TOKENS") -> tuple[tuple[str, str], ...]:
    """Parse `alice:s3cret,bob:hunter2` (commas or newlines) into (operator, token) pairs,
    without their `:read-all` marks (`parse_token_entries` has them)."""
    return tuple((operator, token) for operator, token, _all in parse_token_entries(text, setting))


def _tokens(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """AUTH_TOKENS, or the file AUTH_TOKENS_FILE names (one operator:token per line)."""
    return parse_tokens(_token_text(env))


def _read_all_tokens(env: Mapping[str, str]) -> frozenset[str]:
    """The tokens of AUTH_TOKENS and AUTH_TOKENS_FILE marked `:read-all`."""
    return frozenset(
        token for _op, token, read_all in parse_token_entries(_token_text(env)) if read_all
    )


def _token_text(env: Mapping[str, str]) -> str:
    """AUTH_TOKENS and the text of the file AUTH_TOKENS_FILE names, one after the other."""
    inline = env.get("AUTH_TOKENS", "")
    file_name = env.get("AUTH_TOKENS_FILE", "").strip()
    if file_name:
        try:
            inline += "\n" + Path(file_name).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"AUTH_TOKENS_FILE={file_name}: cannot read: {exc}") from exc
    return inline


def _resume_dir(env: Mapping[str, str]) -> Path | None:
    """LOGLENS_RESUME_DIR, or `loglens/uploads` in the XDG cache directory
    (`$XDG_CACHE_HOME`, else `~/.cache`); None when there is no home to put it in."""
    given = env.get("LOGLENS_RESUME_DIR", "").strip()
    if given:
        return Path(given).expanduser()
    cache = env.get("XDG_CACHE_HOME", "").strip()
    if not cache or not Path(cache).is_absolute():  # the XDG rule: a relative one is ignored
        home = env.get("HOME", "").strip()
        if not home:
            return None
        cache = str(Path(home) / ".cache")
    return Path(cache) / "loglens" / "uploads"


BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss")


def _broker_url(url: str) -> str:
    """Check BROKER_URL: empty (analyse on this machine), or a RabbitMQ or Redis URL."""
    if url and urlsplit(url).scheme.lower() not in BROKER_SCHEMES:
        shown = url.split("@")[-1]  # no password in a message
        raise ConfigError(
            f"BROKER_URL=...{shown} is not a RabbitMQ (amqp://) or Redis (redis://) URL: "
            "leave it empty to analyse on this machine"
        )
    return url


def _queue_name(name: str) -> str:
    """Check BROKER_QUEUE: letters, digits and ``._-`` (a name RabbitMQ and Redis take)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", name):
        raise ConfigError(
            f"BROKER_QUEUE={name!r} is not a queue name: use letters, digits, '.', '_', '-'"
        )
    return name


def _database_url(url: str) -> str:
    """Check DATABASE_URL: empty (SQLite at DB_PATH) or a postgresql:// URL with a host."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or parts.query):
        shown = f"{parts.scheme}://..." if parts.scheme else repr(url[:40])
        raise ConfigError(
            f"DATABASE_URL={shown} is not a PostgreSQL URL: use "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or leave it empty for the "
            "SQLite file at DB_PATH"
        )
    return url


def _webhook(url: str) -> str:
    """Check ALERT_WEBHOOK_URL: empty (no webhook) or an http(s) URL with a host."""
    if not url:
        return ""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"ALERT_WEBHOOK_URL={url} is not an http:// or https:// URL with a host")
    return url


def _path(env: Mapping[str, str], name: str) -> Path | None:
    """A file setting: None when unset or empty, `~` expanded."""
    raw = env.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _tls_files(env: Mapping[str, str]) -> tuple[Path | None, Path | None, Path | None]:
    """TLS_CERT_FILE and TLS_KEY_FILE (both or neither), TLS_CLIENT_CA_FILE (only with
    them). Whether the files hold what they should is checked by `loglens.tls`, where
    they are loaded: a client sharing the `.env` need not be able to read them."""
    cert, key = _path(env, "TLS_CERT_FILE"), _path(env, "TLS_KEY_FILE")
    client_ca = _path(env, "TLS_CLIENT_CA_FILE")
    if (cert is None) != (key is None):
        given, missing = ("TLS_CERT_FILE", "TLS_KEY_FILE") if key is None else (
            "TLS_KEY_FILE", "TLS_CERT_FILE"
        )  # fmt: skip
        raise ConfigError(
            f"{given} is set but {missing} is not: TLS needs both the certificate "
            "(TLS_CERT_FILE) and its private key (TLS_KEY_FILE), or neither"
        )
    if client_ca is not None and cert is None:
        raise ConfigError(
            f"TLS_CLIENT_CA_FILE={client_ca} requires TLS: set TLS_CERT_FILE and TLS_KEY_FILE too"
        )
    return cert, key, client_ca


def load_config(env: Mapping[str, str], settings: Collection[str] | None = None) -> Config:
    """Build and validate the Config from a mapping of setting names to strings.

    `settings` names those a command uses (e.g. ANALYSIS_SETTINGS); the others are
    ignored and keep their defaults, so a value only another command reads cannot stop
    this one. None reads and validates them all.
    """
    if settings is not None:
        env = {name: value for name, value in env.items() if name in settings}
    formats_file = env.get("FORMATS_FILE", "").strip()
    categories_file = env.get("CATEGORIES_FILE", "").strip()
    alert_rules_file = env.get("ALERT_RULES_FILE", "").strip()
    drop_regex = env.get("DROP_REGEX", "")
    chunk_raw = env.get("CHUNK_BYTES", "").strip()
    chunk_bytes = parse_size(chunk_raw, "CHUNK_BYTES") if chunk_raw else Config.chunk_bytes
    if chunk_bytes < 64 * 1024:
        raise ConfigError(f"CHUNK_BYTES={chunk_raw} is too small: use at least 64KiB")
    tls_cert_file, tls_key_file, tls_client_ca_file = _tls_files(env)
    return Config(
        host=env.get("HOST", Config.host),
        port=_port(env, "PORT", Config.port),
        storage_path=Path(env.get("STORAGE_PATH", str(Config.storage_path))),
        db_path=Path(env.get("DB_PATH", str(Config.db_path))),
        database_url=_database_url(env.get("DATABASE_URL", "").strip()),
        broker_url=_broker_url(env.get("BROKER_URL", "").strip()),
        broker_queue=_queue_name(env.get("BROKER_QUEUE", "").strip() or Config.broker_queue),
        broker_in_flight=_int(env, "BROKER_IN_FLIGHT", Config.broker_in_flight, 1),
        broker_resend_seconds=_seconds(env, "BROKER_RESEND_SECONDS", Config.broker_resend_seconds),
        workers=_int(env, "WORKERS", 0, 0),
        chunk_bytes=chunk_bytes,
        timezone=check_timezone(env.get("TIMEZONE", "UTC") or "UTC"),
        learn_formats=_flag(env, "LEARN_FORMATS", Config.learn_formats),
        top_n=_int(env, "TOP_N", Config.top_n, 1),
        drop_levels=check_levels(env.get("DROP_LEVELS", "")),
        drop_regex=check_regex(drop_regex) if drop_regex else "",
        formats_file=Path(formats_file) if formats_file else None,
        categories_file=Path(categories_file) if categories_file else None,
        alert_rules_file=Path(alert_rules_file) if alert_rules_file else None,
        alert_webhook_url=_webhook(env.get("ALERT_WEBHOOK_URL", "").strip()),
        auth_tokens=_tokens(env),
        read_all_tokens=_read_all_tokens(env),
        max_header_bytes=_size(env, "MAX_HEADER_BYTES", Config.max_header_bytes, 1024),
        max_frame_bytes=_size(env, "MAX_FRAME_BYTES", Config.max_frame_bytes, 1024),
        max_upload_bytes=_size(env, "MAX_UPLOAD_BYTES", Config.max_upload_bytes, 1),
        max_decompressed_bytes=_size(
            env, "MAX_DECOMPRESSED_BYTES", Config.max_decompressed_bytes, 1
        ),
        max_compression_ratio=_int(env, "MAX_COMPRESSION_RATIO", Config.max_compression_ratio, 1),
        max_line_bytes=_size(env, "MAX_LINE_BYTES", Config.max_line_bytes, 1024),
        max_connections=_int(env, "MAX_CONNECTIONS", Config.max_connections, 1),
        idle_timeout=_seconds(env, "IDLE_TIMEOUT", Config.idle_timeout),
        handshake_timeout=_seconds(env, "HANDSHAKE_TIMEOUT", Config.handshake_timeout),
        max_handshakes_per_address=_int(
            env, "MAX_HANDSHAKES_PER_ADDRESS", Config.max_handshakes_per_address, 1
        ),
        auth_failure_limit=_int(env, "AUTH_FAILURE_LIMIT", Config.auth_failure_limit, 1),
        auth_lockout_seconds=_seconds(env, "AUTH_LOCKOUT_SECONDS", Config.auth_lockout_seconds),
        direct_receive_bytes=_size(env, "DIRECT_RECEIVE_BYTES", Config.direct_receive_bytes, 0),
        partial_ttl=_seconds(env, "PARTIAL_TTL", Config.partial_ttl),
        server=env.get("LOGLENS_SERVER", "").strip()
        or f"{env.get('HOST', Config.host)}:{env.get('PORT', Config.port)}",
        token=env.get("LOGLENS_TOKEN", "").strip(),
        resume_dir=_resume_dir(env),
        api_host=env.get("API_HOST", "").strip() or Config.api_host,
        api_port=_port(env, "API_PORT", Config.api_port),
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_key_file,
        tls_client_ca_file=tls_client_ca_file,
        client_tls=_flag(env, "LOGLENS_TLS", Config.client_tls),
        client_ca_file=_path(env, "LOGLENS_CA"),
        client_cert_file=_path(env, "LOGLENS_CERT"),
        client_key_file=_path(env, "LOGLENS_KEY"),
    )


def config_from_environment(
    dotenv_path: str | Path | None = ".env", settings: Collection[str] | None = None
) -> Config:
    """Build the Config from `os.environ` over the values of an optional `.env` file
    (only `settings`, when given: see `load_config`)."""
    from dotenv import dotenv_values  # imported here: only entry points read the environment

    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ)
    return load_config(values, settings)
