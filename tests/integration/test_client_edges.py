"""`python client.py` at the edges: reports bigger than a control frame, file names that are
not UTF-8, and names for standard input; a real server and real client processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from loglens.protocol import MAX_HEADER_BYTES
from tests.conftest import run_cli
from tests.integration.conftest import ServerFactory, ServerHandle, rows
from tests.integration.test_client import run_client, stored_content, stored_lines

ERROR_TEMPLATES = 200
# What the client and `processor.py --json` must agree on, beside the top errors.
COMPARED = ("entries", "lines", "levels", "first_timestamp", "last_timestamp", "templates")


def _word(number: int) -> str:
    """A word of letters only (digits would make a token a variable of the template)."""
    text, number = "", number + 26 * 27
    while number:
        number, rest = divmod(number, 26)
        text = chr(ord("a") + rest) + text
    return text


def write_many_errors(path: Path) -> None:
    """A log4j log with ERROR_TEMPLATES different error messages of 60 words each, twice."""
    lines = []
    for i in range(2 * ERROR_TEMPLATES):
        kind = i % ERROR_TEMPLATES
        words = " ".join(_word(kind * 97 + j * 13) for j in range(60))
        stamp = f"2024-06-15 14:{i // 60:02d}:{i % 60:02d},{i % 1000:03d}"
        lines.append(f"{stamp} ERROR [main] com.example.Service - {_word(kind)} failed: {words}")
    lines.append("2024-06-15 14:59:59,999 INFO [main] com.example.Service - shutting down")
    path.write_text("\n".join(lines) + "\n")


def test_wait_receives_a_report_bigger_than_a_control_frame(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory(TOP_N=str(2 * ERROR_TEMPLATES))
    path = tmp_path / "many-errors.log"
    write_many_errors(path)
    run = run_client(str(path), "--wait", "--json", server=server, cwd=tmp_path)
    assert run.code == 0, run.err
    [item] = json.loads(run.out)
    assert item["ok"] is True and item["state"] == "done"
    report = item["report"]
    # Too big for one control frame: it came in REPORT_PART frames.
    assert len(json.dumps(report, ensure_ascii=False).encode()) > MAX_HEADER_BYTES
    local = run_cli("--json", "--quiet", "--top", str(2 * ERROR_TEMPLATES), str(path))
    assert local.code == 0, local.err
    expected = json.loads(local.out)
    assert len(expected["top_errors"]) == ERROR_TEMPLATES
    for key in COMPARED:
        assert report[key] == expected[key], key
    assert report["top_errors"] == expected["top_errors"]


def test_big_report_prints_as_text_too(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory(TOP_N=str(2 * ERROR_TEMPLATES))
    path = tmp_path / "many-errors.log"
    write_many_errors(path)
    run = run_client(str(path), "--wait", server=server, cwd=tmp_path)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert list(stored_lines(run.out)) == [str(path)]
    local = run_cli("--quiet", "--top", str(2 * ERROR_TEMPLATES), str(path)).out.splitlines()
    statistics = local[: local.index("")]  # levels, top errors, first and last log
    assert len(statistics) > ERROR_TEMPLATES
    assert lines[1 : 1 + len(statistics)] == statistics


def test_a_file_name_that_is_not_utf8_is_sent_escaped_and_harms_no_other_file(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    odd = tmp_path / "in" / os.fsdecode(b"caf\xe9.log")  # a Latin-1 name
    plain = tmp_path / "in" / "plain.log"
    odd.parent.mkdir()
    odd.write_bytes(b"2024-06-15 14:00:00,000 ERROR [main] a.B - odd one out\n")
    plain.write_bytes(b"2024-06-15 14:00:01,000 INFO [main] a.B - plain one\n")
    run = run_client(str(odd), str(plain), "--wait", "--json", server=loglens_server, cwd=tmp_path)
    assert run.code == 0, run.err
    by_name = {item["name"]: item for item in json.loads(run.out)}
    shown = str(tmp_path / "in") + "/caf\\xe9.log"
    assert set(by_name) == {shown, str(plain)}
    assert all(item["ok"] and item["state"] == "done" for item in by_name.values())
    recorded = dict(rows(loglens_server, "SELECT original_name, status FROM uploads"))
    assert recorded == {shown: "stored", str(plain): "stored"}  # and none "receiving"
    assert stored_content(loglens_server, by_name[shown]["upload_id"]) == odd.read_bytes()
    assert stored_content(loglens_server, by_name[str(plain)]["upload_id"]) == plain.read_bytes()
    [error] = by_name[shown]["report"]["top_errors"]
    assert error["file"] == shown
    # The text output shows the same name.
    again = run_client(str(odd), server=loglens_server, cwd=tmp_path)
    assert again.code == 0, again.err
    assert list(stored_lines(again.out)) == [shown]


def test_name_gives_stdin_uploads_their_own_names(
    loglens_server: ServerHandle, tmp_path: Path
) -> None:
    journal = b"2024-06-15 14:00:00,000 INFO [main] a.B - from the journal\n"
    syslog = b"2024-06-15 14:00:00,000 INFO [main] a.B - from syslog\n"
    for name, data in (("journal", journal), ("syslog", syslog)):
        run = run_client("-", "--name", name, stdin=data, server=loglens_server, cwd=tmp_path)
        assert run.code == 0, run.err
        assert list(stored_lines(run.out)) == [name]
    recorded = rows(loglens_server, "SELECT original_name, status FROM uploads ORDER BY id")
    assert recorded == [("journal", "stored"), ("syslog", "stored")]
    plain = run_client("-", stdin=b"x\n", server=loglens_server, cwd=tmp_path)
    assert plain.code == 0, plain.err
    assert list(stored_lines(plain.out)) == ["<stdin>"]


def test_a_bad_name_is_a_usage_error(loglens_server: ServerHandle, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("hello\n")
    cases = {
        "": "the name is empty",
        "two\nlines": "control characters",
        os.fsdecode(b"caf\xe9"): "is not valid UTF-8",
        "x" * 1025: "at most 1,024",
    }
    for value, said in cases.items():
        run = run_client("-", "--name", value, stdin=b"x\n", server=loglens_server, cwd=tmp_path)
        assert run.code == 2, (value, run.err)
        assert "--name" in run.err and said in run.err, run.err
    run = run_client(str(log), "--name", "journal", server=loglens_server, cwd=tmp_path)
    assert run.code == 2
    assert "--name names the upload read from standard input: give - too" in run.err
    assert rows(loglens_server, "SELECT count(*) FROM uploads") == [(0,)]
