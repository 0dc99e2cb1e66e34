"""TLS contexts built from the settings: the upload server's, the client's, and the HTTP
API's (as uvicorn's options); the server's logs one line for each failed handshake.

Only the certificate and key files are read here, no socket is opened. A file that is
missing, unreadable, or not what it should be is a ConfigError naming the setting (or
flag) that gave it. Keys must not be encrypted: a server started by a service manager
has no terminal to ask for a passphrase on.

The server trusts, for client certificates (TLS_CLIENT_CA_FILE), that file's CAs alone,
never the system's: a certificate any public CA signed must not open the door.
"""

from __future__ import annotations

import logging
import re
import ssl
from pathlib import Path
from typing import Any

from loglens.config import Config
from loglens.errors import ConfigError

logger = logging.getLogger(__name__)

# "[SSL] PEM lib (_ssl.c:3926)": the tag and the C source location around OpenSSL's words.
_SSL_NOISE = re.compile(r"^\[\w+\]\s*|\s*\(_ssl\.c:\d+\)$")

# OpenSSL's reasons when the bytes a TLS peer gets are no TLS record: it speaks plain TCP.
NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "UNKNOWN_PROTOCOL",
     "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNSUPPORTED_PROTOCOL"}
)  # fmt: skip
NO_CERTIFICATE_REASONS = frozenset(
    {"PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED"}
)


def server_context(config: Config) -> ssl.SSLContext | None:
    """The server's context from TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE (which
    makes client certificates required); None when TLS is not configured."""
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(
        context, (config.tls_cert_file, "TLS_CERT_FILE"), (config.tls_key_file, "TLS_KEY_FILE")
    )
    if config.tls_client_ca_file is not None:
        load_ca(context, config.tls_client_ca_file, "TLS_CLIENT_CA_FILE")
        context.verify_mode = ssl.CERT_REQUIRED
    # Failed handshakes are otherwise silent (asyncio logs them only in debug mode).
    context.sslobject_class = _LoggedHandshake
    return context


def uvicorn_options(config: Config) -> dict[str, Any]:
    """uvicorn.Config's TLS options from the same settings as the server's (check them
    with `server_context` first: it names the setting that is wrong); none without TLS."""
    if config.tls_cert_file is None or config.tls_key_file is None:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(config.tls_cert_file),
        "ssl_keyfile": str(config.tls_key_file),
    }
    if config.tls_client_ca_file is not None:
        options["ssl_ca_certs"] = str(config.tls_client_ca_file)
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    return options


def client_context(
    ca: tuple[Path, str] | None = None,
    cert: tuple[Path, str] | None = None,
    key: tuple[Path, str] | None = None,
) -> ssl.SSLContext:
    """The client's context: it trusts the CA file `ca` (else the system's CAs) and, for
    mTLS, presents the certificate `cert` with its key `key` (or the key inside `cert`).

    Each file comes with the flag or variable that named it, for the errors.
    """
    if ca is None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    else:
        # Only this CA, as curl's --cacert: the system's are not trusted beside it.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks certificate and host name
        load_ca(context, *ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        load_chain(context, cert, key)
    elif key is not None:
        raise ConfigError(f"{_given(*key)}: a key needs its certificate: give the certificate too")
    return context


def load_chain(
    context: ssl.SSLContext, cert: tuple[Path, str], key: tuple[Path, str] | None
) -> None:
    """Load a certificate (chain) and its private key; ConfigError names the faulty one."""
    cert_path, cert_name = cert
    _check_readable(cert_path, cert_name)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert_path)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"{_given(cert_path, cert_name)} holds no certificate in PEM format ({_reason(exc)})"
        ) from None
    if key is not None:
        _check_readable(*key)
    key_path, key_name = key if key is not None else (cert_path, cert_name)

    def no_passphrase() -> str:
        raise ConfigError(
            f"{_given(key_path, key_name)} is an encrypted private key: give it unencrypted "
            f"(openssl pkey -in {key_path} -out plain-key.pem), readable only by the server"
        )

    try:
        context.load_cert_chain(cert_path, key_path if key is not None else None, no_passphrase)
    except ssl.SSLError as exc:
        if key is None:
            raise ConfigError(
                f"{_given(cert_path, cert_name)} holds no private key for its certificate: give "
                f"the key file too ({_reason(exc)})"
            ) from None
        raise ConfigError(
            f"{_given(key_path, key_name)} is not the private key (in PEM format) of the "
            f"certificate in {_given(cert_path, cert_name)} ({_reason(exc)})"
        ) from None


def load_ca(context: ssl.SSLContext, path: Path, name: str) -> None:
    """Trust the CA certificates of a PEM file; ConfigError names `name`."""
    _check_readable(path, name)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"{_given(path, name)} holds no CA certificate in PEM format ({_reason(exc)})"
        ) from None


def handshake_problem(exc: ssl.SSLError) -> str:
    """What a client did wrong, as a TLS listener sees its failed handshake."""
    reason = getattr(exc, "reason", None) or ""
    if reason in NOT_TLS_REASONS:
        return "it does not speak TLS (a client without --tls?)"
    if reason in NO_CERTIFICATE_REASONS:
        return "it sent no client certificate (TLS_CLIENT_CA_FILE requires one: --cert, --key)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({exc.verify_message}; TLS_CLIENT_CA_FILE)"
    return _reason(exc)


class _LoggedHandshake(ssl.SSLObject):
    """A server's TLS connection that logs one line when a client fails the handshake."""

    def do_handshake(self) -> None:
        """Go on with the handshake; log why it failed, if it did."""
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise  # not done yet: more bytes to come
        except ssl.SSLEOFError:
            logger.info("a client closed its connection during the TLS handshake")
            raise
        except ssl.SSLError as exc:
            logger.warning("TLS handshake with a client failed: %s", handshake_problem(exc))
            raise


def _check_readable(path: Path, name: str) -> None:
    """ConfigError naming `name` when `path` cannot be opened for reading."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{_given(path, name)}: cannot read: {exc.strerror or exc}") from None


def _given(path: Path, name: str) -> str:
    """How a file was given: `TLS_CERT_FILE=cert.pem`, or `--cert cert.pem` for a flag."""
    return f"{name} {path}" if name.startswith("-") else f"{name}={path}"


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's words for a failure, without the library's tag and source location."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    reason = getattr(exc, "reason", None)  # set on the errors OpenSSL raises
    if reason:
        return str(reason).replace("_", " ").lower()
    return _SSL_NOISE.sub("", str(exc)) or type(exc).__name__
