"""Why a connection failed when TLS is the cause, told plainly so that it is not retried.

A TLS listener closes a plain client's connection without a word, and a server that
requires client certificates closes a TLS 1.3 client's connection without one right
after the handshake, also without a word (asyncio sends no TLS alert). Both look like a
dropped connection, which a client retries; `closed_by_tls` tells them apart with one
more connection. A TLS client that meets a plain server fails in the handshake itself:
`tls_failure` words that, and the other handshake failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from loglens.client.models import UploadOptions
from loglens.protocol import HANDSHAKE, HANDSHAKE_SIZE
from loglens.tls import NO_CERTIFICATE_REASONS, NOT_TLS_REASONS

# A TLS record starts with its content type (21 alert, 22 handshake) and major version 3.
_TLS_RECORD_TYPES = frozenset({21, 22})
_TLS_MAJOR_VERSION = 3
# X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_NAME_MISMATCH = frozenset({62, 64})


def tls_failure(exc: ssl.SSLError, where: str) -> str:
    """The message for a TLS handshake with the server at `where` that failed."""
    reason = getattr(exc, "reason", None) or ""
    if reason in NOT_TLS_REASONS:
        return (
            f"the server at {where} does not speak TLS (its answer is no TLS record): "
            "drop --tls (and LOGLENS_TLS), or give the server TLS_CERT_FILE and TLS_KEY_FILE"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _NAME_MISMATCH:
            return (
                f"TLS with {where} failed: the server's certificate is not for this "
                f"address ({exc.verify_message}): connect with a name or IP address that "
                "its certificate names (--server)"
            )
        return (
            f"TLS with {where} failed: the server's certificate is not trusted "
            f"({exc.verify_message}): give --ca FILE, the certificate of the CA that signed it"
        )
    if reason in NO_CERTIFICATE_REASONS:
        return (
            f"the server at {where} requires a client certificate: give --cert FILE and "
            "--key FILE, signed by a CA of its TLS_CLIENT_CA_FILE"
        )
    return f"TLS with {where} failed: {exc}"


async def closed_by_tls(host: str, port: int, options: UploadOptions) -> str | None:
    """Why the server closed a connection before the protocol's handshake, when TLS is
    the cause (a message for the user); None when it is not, and a retry may help."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if options.ssl is None:
        if await _speaks_tls(host, port, options.timeout):
            return (
                f"the server at {where} speaks TLS: use --tls (or LOGLENS_TLS=true), "
                "with --ca FILE when its certificate is signed by your own CA"
            )
        return None
    if await _closes_after_handshake(host, port, options):
        return (
            f"the server at {where} closes TLS connections from this client right after "
            "the handshake: it requires a client certificate signed by a CA it trusts "
            "(its TLS_CLIENT_CA_FILE): give --cert FILE and --key FILE"
        )
    return None


async def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether the server answers a TLS ClientHello, sent over plain TCP, in TLS."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(_client_hello())
                await writer.drain()
                head = await reader.readexactly(2)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, EOFError, TimeoutError):
        return False
    return head[0] in _TLS_RECORD_TYPES and head[1] == _TLS_MAJOR_VERSION


async def _closes_after_handshake(host: str, port: int, options: UploadOptions) -> bool:
    """Whether the server, once more, completes the TLS handshake and then closes the
    connection before it answers the protocol's handshake."""
    try:
        async with asyncio.timeout(options.timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=options.ssl, server_hostname=options.server_hostname
            )
            try:
                writer.write(HANDSHAKE)
                await writer.drain()
                await reader.readexactly(HANDSHAKE_SIZE)
            except (EOFError, ConnectionResetError, ssl.SSLError):
                return True
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return False


def _client_hello() -> bytes:
    """The first flight of a TLS client: its ClientHello, made in memory."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nothing is verified: the answer is only looked at
    outgoing = ssl.MemoryBIO()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()
