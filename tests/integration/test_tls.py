"""TLS end to end: `python server.py` with TLS_* settings, `python client.py --tls`, the
mismatches a user meets (plain client, TLS server, and the reverse), mutual TLS, and the
HTTP API over TLS; with a test CA made by openssl."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certificates import Certificates, make_certificates
from tests.conftest import ROOT, MakeLog, Run
from tests.integration.conftest import SERVER_SETTINGS, ServerFactory, ServerHandle, rows

CLIENT_TLS_SETTINGS = ("LOGLENS_TLS", "LOGLENS_CA", "LOGLENS_CERT", "LOGLENS_KEY")
_API_LISTENING = re.compile(r"loglens api listening on (https?://\S+)")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """One test CA and its certificates for the module."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def tls_settings(certs: Certificates, client_ca: bool = False) -> dict[str, str]:
    """A server's TLS settings: its certificate, and with `client_ca` mutual TLS."""
    settings = {"TLS_CERT_FILE": str(certs.server_cert), "TLS_KEY_FILE": str(certs.server_key)}
    if client_ca:
        settings["TLS_CLIENT_CA_FILE"] = str(certs.ca)
    return settings


def run_client(server: ServerHandle, *args: str, cwd: Path, **settings: str) -> Run:
    """`python client.py ARGS` to `server` as alice, with only the settings given here."""
    env = {k: v for k, v in os.environ.items() if k not in (*SERVER_SETTINGS, *CLIENT_TLS_SETTINGS)}
    env.update(LOGLENS_SERVER=server.address, LOGLENS_TOKEN=server.tokens["alice"], **settings)
    done = subprocess.run(
        [sys.executable, str(ROOT / "client.py"), *args],
        capture_output=True, env=env, cwd=cwd, timeout=300,
    )  # fmt: skip
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def assert_refused(run: Run, message: str) -> None:
    """The client failed at once, with one clear error: not retried, no traceback."""
    assert run.code == 1, run
    assert message in run.err, run.err
    assert "gave up after" not in run.err and "retry" not in run.err, run.err
    assert "Traceback" not in run.err and run.out == "", run


def test_a_client_with_tls_uploads_and_gets_the_analysis(
    server_factory: ServerFactory, certs: Certificates, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory(**tls_settings(certs))
    path, truth = make_log("log4j", lines=400)
    done = run_client(server, "--tls", "--ca", str(certs.ca), "--wait", "--json", str(path),
                      cwd=tmp_path)  # fmt: skip
    assert done.code == 0, done
    [item] = json.loads(done.out)
    assert item["ok"] and item["state"] == "done"
    assert item["report"]["entries"] == truth.entries
    assert rows(server, "SELECT status, operator FROM uploads") == [("stored", "alice")]
    assert "connections use TLS" in server.log()
    assert "need a client certificate" not in server.log()
    # The same from the settings of the client's environment (or .env).
    again = run_client(server, str(path), cwd=tmp_path, LOGLENS_TLS="true",
                       LOGLENS_CA=str(certs.ca))  # fmt: skip
    assert again.code == 0 and "duplicate" in again.out, again


def test_mismatches_get_clear_errors_at_once(
    server_factory: ServerFactory, certs: Certificates, make_log: MakeLog, tmp_path: Path
) -> None:
    tls_server = server_factory(**tls_settings(certs))
    plain_server = server_factory()
    path, _truth = make_log("log4j", lines=50)
    where = tls_server.address
    plain = run_client(tls_server, str(path), cwd=tmp_path)
    assert_refused(plain, f"the server at {where} speaks TLS: use --tls")
    log = tls_server.log()
    assert "TLS handshake with a client failed: it does not speak TLS" in log
    assert "Traceback" not in log
    # No --ca: the system's CAs do not know the test CA.
    untrusted = run_client(tls_server, "--tls", str(path), cwd=tmp_path)
    assert_refused(untrusted, "the server's certificate is not trusted")
    assert "give --ca FILE" in untrusted.err
    to_plain = run_client(plain_server, "--tls", "--ca", str(certs.ca), str(path), cwd=tmp_path)
    assert_refused(to_plain, f"the server at {plain_server.address} does not speak TLS")
    assert "drop --tls" in to_plain.err
    assert rows(tls_server, "SELECT count(*) FROM uploads") == [(0,)]
    assert rows(plain_server, "SELECT count(*) FROM uploads") == [(0,)]


def test_mutual_tls_requires_a_client_certificate_of_its_ca(
    server_factory: ServerFactory, certs: Certificates, make_log: MakeLog, tmp_path: Path
) -> None:
    server = server_factory(**tls_settings(certs, client_ca=True))
    assert "connections use TLS and need a client certificate" in server.log()
    path, _truth = make_log("log4j", lines=50)
    tls = ("--tls", "--ca", str(certs.ca))
    without = run_client(server, *tls, str(path), cwd=tmp_path)
    assert_refused(without, "it requires a client certificate")
    assert "give --cert FILE and --key FILE" in without.err
    stranger = run_client(server, *tls, "--cert", str(certs.stranger_cert),
                          "--key", str(certs.stranger_key), str(path), cwd=tmp_path)  # fmt: skip
    assert_refused(stranger, "it requires a client certificate signed by a CA it trusts")
    assert rows(server, "SELECT count(*) FROM uploads") == [(0,)]
    log = server.log()
    assert "it sent no client certificate" in log
    assert "its certificate is not trusted" in log and "Traceback" not in log
    # The certificate opens the connection; the token still names the operator.
    admitted = run_client(server, *tls, "--cert", str(certs.client_cert),
                          "--key", str(certs.client_key), str(path), cwd=tmp_path)  # fmt: skip
    assert admitted.code == 0, admitted
    bad_token = run_client(server, *tls, "--cert", str(certs.client_cert),
                           "--key", str(certs.client_key), "--token", "wrong", str(path),
                           cwd=tmp_path)  # fmt: skip
    assert bad_token.code == 1 and "the token is not valid" in bad_token.err, bad_token
    assert rows(server, "SELECT operator FROM uploads") == [("alice",)]


def test_bad_tls_settings_stop_server_and_client_before_they_start(
    loglens_server: ServerHandle, certs: Certificates, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(STORAGE_PATH=str(tmp_path / "storage"), DB_PATH=str(tmp_path / "loglens.db"),
               AUTH_TOKENS="alice:s3cret")  # fmt: skip
    cases = {
        "TLS_CERT_FILE is set but TLS_KEY_FILE is not": {"TLS_CERT_FILE": str(certs.server_cert)},
        "TLS_KEY_FILE=/nowhere/key.pem: cannot read": {
            **tls_settings(certs), "TLS_KEY_FILE": "/nowhere/key.pem"
        },
    }  # fmt: skip
    for message, settings in cases.items():
        done = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "--port", "0", "--env-file", os.devnull],
            capture_output=True, text=True, env={**env, **settings}, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2 and f"error: {message}" in done.stderr, done.stderr
        assert not (tmp_path / "loglens.db").exists()
    log = tmp_path / "app.log"
    log.write_text("2024-05-01 10:00:00,000 INFO hello\n")
    usage = run_client(loglens_server, "--ca", str(certs.ca), str(log), cwd=tmp_path)
    assert usage.code == 2 and "is used only over TLS: add --tls" in usage.err, usage
    key_only = run_client(loglens_server, "--tls", "--key", str(certs.client_key), str(log),
                          cwd=tmp_path)  # fmt: skip
    assert key_only.code == 2 and "give the certificate too" in key_only.err, key_only
    assert rows(loglens_server, "SELECT count(*) FROM uploads") == [(0,)]


@contextlib.contextmanager
def running_api(db_path: Path, log_dir: Path, settings: dict[str, str]) -> Iterator[str]:
    """`python -m loglens api` on port 0 over `db_path`; yields its URL once it listens."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env.update(AUTH_TOKENS="alice:s3cret", PYTHONPATH=str(ROOT), **settings)
    log_path = log_dir / "api.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loglens", "api", "--env-file", os.devnull, "--host",
             "127.0.0.1", "--port", "0", "--db-path", str(db_path)],
            stdout=log, stderr=log, env=env, cwd=log_dir, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (match := _API_LISTENING.search(log_path.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield match.group(1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def who(url: str, context: ssl.SSLContext) -> object:
    """GET /me as alice over `context`: the operator the API names."""
    request = urllib.request.Request(url + "/me", headers={"Authorization": "Bearer s3cret"})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.loads(response.read())["operator"]


def test_api_over_tls_and_mutual_tls(
    loglens_server: ServerHandle, certs: Certificates, tmp_path: Path
) -> None:
    trusting = ssl.create_default_context(cafile=certs.ca)
    with running_api(loglens_server.db_path, tmp_path, tls_settings(certs)) as url:
        assert url.startswith("https://127.0.0.1:")
        assert who(url, trusting) == "alice"
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            who(url, ssl.create_default_context())
    (tmp_path / "mutual").mkdir()
    with running_api(
        loglens_server.db_path, tmp_path / "mutual", tls_settings(certs, client_ca=True)
    ) as url:
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            who(url, trusting)  # no client certificate
        holding = ssl.create_default_context(cafile=certs.ca)
        holding.load_cert_chain(certs.client_cert, certs.client_key)
        assert who(url, holding) == "alice"
