"""TLS settings: TLS_* and LOGLENS_TLS* parsed and checked, contexts built from the files."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from loglens.config import SERVER_SETTINGS, load_config
from loglens.errors import ConfigError
from loglens.tls import client_context, server_context, uvicorn_options
from tests.certificates import Certificates, make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """One test CA and its certificates for the module."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def server_settings(certs: Certificates, **more: str) -> dict[str, str]:
    """TLS_CERT_FILE and TLS_KEY_FILE of the test server certificate, and `more`."""
    return {"TLS_CERT_FILE": str(certs.server_cert), "TLS_KEY_FILE": str(certs.server_key)} | more


def test_no_tls_by_default() -> None:
    config = load_config({})
    assert config.tls_cert_file is None and config.tls_client_ca_file is None
    assert not config.client_tls and config.client_ca_file is None
    assert server_context(config) is None and uvicorn_options(config) == {}


def test_server_settings_are_read_by_the_server_only() -> None:
    assert {"TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE"} <= SERVER_SETTINGS
    ignored = load_config({"TLS_CERT_FILE": "cert.pem"}, {"HOST"})  # half set, not read
    assert ignored.tls_cert_file is None


@pytest.mark.parametrize(
    ("env", "named", "missing"),
    [
        ({"TLS_CERT_FILE": "cert.pem"}, "TLS_CERT_FILE", "TLS_KEY_FILE"),
        ({"TLS_KEY_FILE": "key.pem", "TLS_CERT_FILE": " "}, "TLS_KEY_FILE", "TLS_CERT_FILE"),
    ],
)
def test_certificate_and_key_come_together(env: dict[str, str], named: str, missing: str) -> None:
    with pytest.raises(ConfigError, match=f"^{named} is set but {missing} is not"):
        load_config(env)


def test_client_certificates_need_tls() -> None:
    with pytest.raises(ConfigError, match=r"TLS_CLIENT_CA_FILE=ca.pem requires TLS"):
        load_config({"TLS_CLIENT_CA_FILE": "ca.pem"})


def test_client_settings(tmp_path: Path) -> None:
    config = load_config(
        {"LOGLENS_TLS": "yes", "LOGLENS_CA": "~/ca.pem", "LOGLENS_CERT": "c.pem",
         "LOGLENS_KEY": "k.pem", "HOME": str(tmp_path)}
    )  # fmt: skip
    assert config.client_tls
    assert config.client_ca_file == Path("~/ca.pem").expanduser()
    assert (config.client_cert_file, config.client_key_file) == (Path("c.pem"), Path("k.pem"))
    with pytest.raises(ConfigError, match="LOGLENS_TLS='maybe' is not a yes/no setting"):
        load_config({"LOGLENS_TLS": "maybe"})


def test_server_context_plain_and_with_client_certificates(certs: Certificates) -> None:
    plain = server_context(load_config(server_settings(certs)))
    assert plain is not None and plain.verify_mode == ssl.CERT_NONE
    mutual = server_context(load_config(server_settings(certs, TLS_CLIENT_CA_FILE=str(certs.ca))))
    assert mutual is not None and mutual.verify_mode == ssl.CERT_REQUIRED
    # Only the CA of TLS_CLIENT_CA_FILE is trusted for client certificates, not the system's.
    assert [ca["subject"] for ca in mutual.get_ca_certs()] == [
        ((("commonName", "loglens test CA"),),)
    ]


def test_uvicorn_gets_the_same_files(certs: Certificates) -> None:
    config = load_config(server_settings(certs, TLS_CLIENT_CA_FILE=str(certs.ca)))
    assert uvicorn_options(config) == {
        "ssl_certfile": str(certs.server_cert),
        "ssl_keyfile": str(certs.server_key),
        "ssl_ca_certs": str(certs.ca),
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }


def test_unreadable_files_are_named(certs: Certificates, tmp_path: Path) -> None:
    absent = tmp_path / "absent.pem"
    cases = {
        "TLS_CERT_FILE": server_settings(certs, TLS_CERT_FILE=str(absent)),
        "TLS_KEY_FILE": server_settings(certs, TLS_KEY_FILE=str(absent)),
        "TLS_CLIENT_CA_FILE": server_settings(certs, TLS_CLIENT_CA_FILE=str(absent)),
    }
    for name, env in cases.items():
        with pytest.raises(ConfigError, match=f"^{name}=.*absent.pem: cannot read: No such file"):
            server_context(load_config(env))
    with pytest.raises(ConfigError, match=r"^TLS_CERT_FILE=.*: cannot read: Is a directory"):
        server_context(load_config(server_settings(certs, TLS_CERT_FILE=str(tmp_path))))


def test_files_that_hold_the_wrong_thing_are_named(certs: Certificates, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"^TLS_CERT_FILE=.*junk.pem holds no certificate"):
        server_context(load_config(server_settings(certs, TLS_CERT_FILE=str(junk))))
    with pytest.raises(ConfigError, match=r"^TLS_KEY_FILE=.*client-key.pem is not the private key"):
        server_context(load_config(server_settings(certs, TLS_KEY_FILE=str(certs.client_key))))
    with pytest.raises(ConfigError, match=r"^TLS_CLIENT_CA_FILE=.*junk.pem holds no CA"):
        server_context(load_config(server_settings(certs, TLS_CLIENT_CA_FILE=str(junk))))


def test_an_encrypted_key_is_refused_without_asking(certs: Certificates, tmp_path: Path) -> None:
    encrypted = tmp_path / "encrypted-key.pem"
    subprocess.run(
        ["openssl", "pkey", "-in", str(certs.server_key), "-aes256", "-passout", "pass:secret",
         "-out", str(encrypted)],
        check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"^TLS_KEY_FILE=.* is an encrypted private key"):
        server_context(load_config(server_settings(certs, TLS_KEY_FILE=str(encrypted))))


def test_client_context(certs: Certificates, tmp_path: Path) -> None:
    own_ca = client_context((certs.ca, "--ca"))
    assert own_ca.verify_mode == ssl.CERT_REQUIRED and own_ca.check_hostname
    assert len(own_ca.get_ca_certs()) == 1  # the system's CAs are not trusted beside it
    client_context((certs.ca, "--ca"), (certs.client_cert, "--cert"), (certs.client_key, "--key"))
    both = tmp_path / "client-both.pem"  # a certificate and its key in one file
    both.write_bytes(certs.client_cert.read_bytes() + certs.client_key.read_bytes())
    client_context(None, (both, "LOGLENS_CERT"), None)
    with pytest.raises(ConfigError, match=r"^--ca .*absent.pem: cannot read"):
        client_context((tmp_path / "absent.pem", "--ca"))
    with pytest.raises(ConfigError, match=r"^LOGLENS_CERT=.*client.pem holds no private key"):
        client_context(None, (certs.client_cert, "LOGLENS_CERT"), None)  # no key anywhere
    with pytest.raises(ConfigError, match=r"^--key .* a key needs its certificate"):
        client_context(None, None, (certs.client_key, "--key"))
