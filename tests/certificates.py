"""A test CA with a server certificate (for 127.0.0.1) and a client certificate, made by the
openssl command, as the README's TLS section tells an operator to."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA, the server's certificate and key, a client's certificate and key,
    and a client certificate signed by another CA (which the server must not trust)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def make_certificates(folder: Path) -> Certificates:
    """Make a CA and certificates signed by it in `folder` (skip without openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca(folder, "ca", "loglens test CA")
    other_ca, other_key = _ca(folder, "other-ca", "another CA")
    server = _signed(
        folder, "server", "127.0.0.1", (ca, ca_key),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )  # fmt: skip
    client = _signed(folder, "client", "alice", (ca, ca_key), "extendedKeyUsage=clientAuth\n")
    stranger = _signed(
        folder, "stranger", "mallory", (other_ca, other_key), "extendedKeyUsage=clientAuth\n"
    )
    return Certificates(ca, *server, *client, *stranger)


def _ca(folder: Path, name: str, common_name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    _openssl(
        "req", "-x509", *_EC_KEY, "-days", "1", "-subj", f"/CN={common_name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def _signed(
    folder: Path, name: str, common_name: str, ca: tuple[Path, Path], extensions: str
) -> tuple[Path, Path]:
    cert, key, request = (folder / f"{name}{end}" for end in (".pem", "-key.pem", ".csr"))
    extfile = folder / f"{name}.ext"
    extfile.write_text("basicConstraints=CA:FALSE\n" + extensions)
    _openssl(
        "req", *_EC_KEY, "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(request)
    )
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-days", "1", "-extfile", str(extfile), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
