"""`python processor.py` as a user runs it: reports, JSON, events, and every bad input."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from tests.conftest import MakeLog, run_cli

JSON_KEYS = {
    "levels",
    "top_errors",
    "first_timestamp",
    "last_timestamp",
    "entries",
    "rejected",
    "formats",
}


def test_text_report_has_the_classic_sections(make_log: MakeLog) -> None:
    path, truth = make_log("log4j")
    run = run_cli(str(path), "--quiet")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "Statistics:"
    assert lines[1] == "- Total logs per level:"
    assert f"  - INFO: {truth.levels['INFO']:,}" in lines
    assert "- Top 5 error messages:" in lines
    top = [line for line in lines if line.startswith("  1. ")]
    assert top and re.search(r" \([0-9,]+ times?\)$", top[0]) and "<*>" in top[0]
    first = str(truth.first_timestamp).replace("T", " ")[:19]
    assert f"- First log: {first}" in lines
    assert any(line.startswith("Rejected lines: ") for line in lines)
    assert any(str(path) in line and "log4j" in line for line in lines)


def test_json_report(make_log: MakeLog) -> None:
    path, truth = make_log("python")
    run = run_cli(str(path), "--json", "--top", "3")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert set(report) >= JSON_KEYS
    assert report["entries"] == truth.entries
    assert len(report["top_errors"]) <= 3
    for item in report["top_errors"]:
        assert {"template", "count", "example"} <= set(item)
    assert report["top_errors"] == sorted(report["top_errors"], key=lambda t: -t["count"])


def test_events_file_points_at_the_right_lines(make_log: MakeLog, tmp_path: Path) -> None:
    path, truth = make_log("log4j", lines=2000)
    events_path = tmp_path / "events.jsonl"
    run = run_cli(str(path), "--json", "--events", str(events_path), "--workers", "2",
                  env={"CHUNK_BYTES": "64KiB"})  # fmt: skip
    assert run.code == 0, run.err
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert len(events) == truth.entries
    assert set(events[0]) == {
        "file",
        "line",
        "ts",
        "level",
        "message",
        "template_id",
        "template",
        "category",
        "categories",
        "anomaly",
    }
    source = path.read_bytes().split(b"\n")
    assert [e["line"] for e in events] == sorted(e["line"] for e in events)
    for event in events:
        first_line = source[event["line"] - 1].decode("utf-8", "backslashreplace")
        assert first_line.endswith(event["message"].split("\n")[0])
        assert event["template_id"] and event["template"] is not None
        assert event["category"] == event["categories"][0]
    multi = [e for e in events if "\n" in e["message"]]
    assert len(multi) > 0
    assert not list(tmp_path.glob("*.partial"))


def test_gzip_and_stdin_give_the_same_counts_as_the_plain_file(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("zookeeper")
    packed = tmp_path / "zk.log.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    reports = []
    for args, stdin in (([str(path)], b""), ([str(packed)], b""), (["-"], path.read_bytes())):
        run = run_cli(*args, "--json", stdin=stdin)
        assert run.code == 0, run.err
        report = json.loads(run.out)
        del report["formats"], report["rejected_samples"]
        for item in report["top_errors"]:
            del item["file"]
        reports.append(report)
    assert reports[0] == reports[1] == reports[2]


def test_directory_with_several_formats(make_log: MakeLog, tmp_path: Path) -> None:
    for fmt in ("syslog", "jsonl", "apache_access"):
        make_log(fmt, lines=200)
    run = run_cli(str(tmp_path), "--json")
    assert run.code == 0, run.err
    found = {
        Path(item["file"]).name.split("-")[0]: item["format"]
        for item in json.loads(run.out)["formats"]
    }
    assert set(found) == {"syslog", "jsonl", "apache_access"}


def test_missing_path_is_reported_and_the_others_still_analysed(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, truth = make_log("spark")
    run = run_cli(str(path), str(tmp_path / "nope.log"), "--json")
    assert run.code == 1
    assert "nope.log: no such file or directory" in run.err
    assert json.loads(run.out)["entries"] == truth.entries


def test_binary_file_is_refused_by_name(make_log: MakeLog, tmp_path: Path) -> None:
    path, _ = make_log("hdfs")
    blob = tmp_path / "image.log"
    blob.write_bytes(bytes(range(256)) * 64)
    run = run_cli(str(blob), str(path), "--json")
    assert run.code == 1
    assert "image.log: binary file, not a text log" in run.err
    assert [item["file"] for item in json.loads(run.out)["formats"]] == [str(path)]


def test_nothing_analysable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run = run_cli(str(tmp_path / "empty"))
    assert run.code == 1
    assert "directory holds no log files" in run.err
    assert "no input could be analysed" in run.err


def test_usage_errors_exit_2_with_a_message(make_log: MakeLog) -> None:
    path, _ = make_log("log4j", lines=50)
    cases = {
        ("--format", "klingon"): "klingon",
        ("--timezone", "Mars/Olympus"): "Mars/Olympus",
        ("--top", "0"): "--top",
        ("--drop-level", "LOUD"): "LOUD",
        ("--drop-regex", "(unclosed"): "(unclosed",
        ("--no-such-flag",): "--no-such-flag",
    }
    for flags, named in cases.items():
        run = run_cli(str(path), *flags)
        assert run.code == 2, (flags, run.err)
        assert named in run.err
        assert run.out == ""
    run = run_cli()
    assert run.code == 2 and "PATH" in run.err


def test_bad_setting_in_the_environment_names_it(make_log: MakeLog) -> None:
    path, _ = make_log("log4j", lines=50)
    run = run_cli(str(path), env={"CHUNK_BYTES": "lots"})
    assert run.code == 2
    assert "CHUNK_BYTES" in run.err


def test_drop_level_counts_what_it_drops(make_log: MakeLog) -> None:
    path, truth = make_log("log4j", lines=1500)
    run = run_cli(str(path), "--json", "--drop-level", "INFO")
    report = json.loads(run.out)
    assert report["filtered"] == {"level INFO": truth.levels["INFO"]}
    assert "INFO" not in report["levels"]
    assert report["entries"] == truth.entries - truth.levels["INFO"]


def test_custom_format_from_a_toml_file(tmp_path: Path) -> None:
    log = tmp_path / "odd.log"
    log.write_text(
        "@@1700000000|W|disk almost full on /dev/sda1\n"
        "@@1700000060|E|disk full on /dev/sda1\n"
        "@@1700000120|E|disk full on /dev/sdb1\n"
    )
    formats = tmp_path / "formats.toml"
    formats.write_text(
        "[[format]]\n"
        'name = "atat"\n'
        "regex = '^@@(?P<ts>\\d+)\\|(?P<level>\\w)\\|(?P<message>.*)$'\n"
        'ts_format = "epoch"\n'
    )
    run = run_cli(str(log), "--json", "--formats-file", str(formats))
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["formats"][0]["format"] == "atat"
    assert report["levels"] == {"WARNING": 1, "ERROR": 2}
    assert report["top_errors"][0]["count"] == 2
    assert report["first_timestamp"] == "2023-11-14T22:13:20Z"


def test_broken_formats_file_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x\n")
    formats = tmp_path / "formats.toml"
    formats.write_text('[[format]]\nname = "x"\nregex = "(?P<message>.*"\n')
    run = run_cli(str(log), "--formats-file", str(formats))
    assert run.code == 2
    assert "formats.toml" in run.err and "'x'" in run.err


def test_list_formats(tmp_path: Path) -> None:
    run = run_cli("--list-formats")
    assert run.code == 0
    names = [line.split()[0] for line in run.out.splitlines()]
    assert len(names) >= 13 and "generic" in names


def test_timezone_applies_to_stamps_without_one(tmp_path: Path) -> None:
    log = tmp_path / "local.log"
    log.write_text(
        "2024-03-01 10:00:00,000 INFO [main] org.app.A: winter start\n"
        "2024-07-01 10:00:00,000 INFO [main] org.app.A: summer end\n"
    )
    utc = json.loads(run_cli(str(log), "--json").out)
    berlin = json.loads(run_cli(str(log), "--json", "--timezone", "Europe/Berlin").out)
    assert (utc["first_timestamp"], utc["last_timestamp"]) == (
        "2024-03-01T10:00:00Z",
        "2024-07-01T10:00:00Z",
    )
    assert (berlin["first_timestamp"], berlin["last_timestamp"]) == (
        "2024-03-01T09:00:00Z",
        "2024-07-01T08:00:00Z",
    )
    in_env = json.loads(run_cli(str(log), "--json", env={"TIMEZONE": "Europe/Berlin"}).out)
    assert in_env["first_timestamp"] == berlin["first_timestamp"]


def test_no_progress_bar_or_noise_when_not_on_a_terminal(make_log: MakeLog) -> None:
    path, _ = make_log("log4j", lines=300)
    run = run_cli(str(path))
    assert run.code == 0
    assert run.err == ""


def test_a_killed_worker_fails_the_run_cleanly(make_log: MakeLog, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    path, _ = make_log("log4j", lines=60_000)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "processor.py"), str(path), "--workers", "2", "--json"],
        env={**os.environ, "CHUNK_BYTES": "64KiB"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    killed = False
    deadline = time.monotonic() + 60
    while not killed and proc.poll() is None and time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == proc.pid and b"spawn_main" in command:
                os.kill(int(entry), signal.SIGKILL)
                killed = True
                break
        time.sleep(0.01)
    out, err = proc.communicate(timeout=120)
    assert killed, "no worker process was seen"
    assert proc.returncode == 1
    assert b"a worker process died" in err and b"Traceback" not in err and b"ERROR" not in err
    assert out == b""


def test_files_not_understood_get_one_warning_line_each(make_log: MakeLog, tmp_path: Path) -> None:
    log4j, truth = make_log("log4j", lines=300)
    prose = tmp_path / "letter.txt"
    prose.write_text("Dear operator,\nthe nightly backup failed again.\nPlease look at it.\n")
    events = tmp_path / "events.jsonl"  # JSON lines with no level key
    events.write_text(
        "".join(f'{{"ts": "2024-03-01T10:00:0{i}Z", "msg": "event {i}"}}\n' for i in range(5))
    )
    run = run_cli(str(log4j), str(prose), str(events), "--quiet")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    formats = lines[lines.index("Formats:") + 1 :]
    shown = f"  - {log4j}: log4j, {truth.lines:,} lines, {truth.entries:,} entries"
    assert f"{shown}; timestamps 100%, levels 100%" in formats
    warnings = [line for line in formats if line.startswith("  ! ")]
    assert len(warnings) == 2  # one a file, none for the log4j file
    letter = next(line for line in warnings if str(prose) in line)
    assert letter.startswith(f"  ! {prose}: no timestamps could be read (layout: Any text")
    assert letter.endswith(f"; try --explain-format {prose} or a FORMATS_FILE entry")
    assert f"  - {prose}: generic, 3 lines, 3 entries; timestamps 0%, levels 0%" in formats
    unleveled = next(line for line in warnings if str(events) in line)
    assert unleveled.startswith(f"  ! {events}: no levels could be read (layout: ")

    report = json.loads(run_cli(str(prose), "--json").out)
    (item,) = report["formats"]
    assert (item["confidence"], item["timestamps"], item["levels"]) == (0.0, 0.0, 0.0)
    assert item["entries"] == 3


def test_directive_lines_are_counted_alike_however_the_file_is_split(tmp_path: Path) -> None:
    log = tmp_path / "commented.log"
    groups = 1500
    with log.open("w") as out:
        out.write("# app.log, rotated daily\n")  # directive: the file starts with it
        for i in range(groups):
            second = f"{i % 60:02d}"
            out.write(
                f"2024-03-01 10:{i // 60 % 60:02d}:{second},001 INFO [main] org.app.Server: "
                f"request {i} served\n"
                f"# served by worker {i % 4}\n"  # continues the entry above
                "\n"
                f"# --- section {i} ---\n"  # directive: below an empty line
                "#Fields: ts level thread logger message\n"  # directive
                f"2024-03-01 10:{i // 60 % 60:02d}:{second},002 ERROR [pool-1] org.app.Db: "
                f"query {i} failed\n"
                f"\tat org.app.Db.query(Db.java:{i * 7 % 1000})\n"
            )
    # Lines of varied lengths: blocks of 64 KiB then start on empty and on comment lines.
    whole = run_cli(str(log), "--json", "--workers", "1")
    split = run_cli(str(log), "--json", "--workers", "2", env={"CHUNK_BYTES": "64KiB"})
    assert whole.code == split.code == 0, whole.err + split.err
    report = json.loads(whole.out)
    assert report["directive_lines"] == 2 * groups + 1
    assert report["continuation_lines"] == 2 * groups
    assert (report["entries"], report["rejected"]) == (2 * groups, {"empty": groups})
    assert json.loads(split.out) == report
    text = run_cli(str(log), "--quiet", "--workers", "2", env={"CHUNK_BYTES": "64KiB"})
    assert f"Directive and comment lines: {2 * groups + 1:,}" in text.out.splitlines()


_UNKNOWN_FORMAT = "".join(
    f"[2985] 2026/12/07 09:23:{second:02d}.{second * 1111:06d} [{level}] worker {second}: "
    f"request {second} took {second * 3} ms\n"
    for second, level in zip(range(40), ["INF", "INF", "WRN", "ERR"] * 10, strict=True)
)


def test_a_format_nobody_configured_is_learned_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(_UNKNOWN_FORMAT)
    run = run_cli(str(path), "--json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["levels"] == {"INFO": 20, "WARNING": 10, "ERROR": 10}
    assert report["first_timestamp"].startswith("2026-12-07T09:23:00")
    assert report["last_timestamp"].startswith("2026-12-07T09:23:39.043329")
    [fmt] = report["formats"]
    assert (fmt["format"], fmt["timestamps"], fmt["levels"]) == ("learned", 1.0, 1.0)
    assert "stamp %Y/%m/%d %H:%M:%S%.f" in fmt["layout"]
    assert "<*>" in report["top_errors"][0]["template"]
    assert not report["top_errors"][0]["template"].startswith("[")


def test_learning_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(_UNKNOWN_FORMAT)
    run = run_cli(str(path), "--json", env={"LEARN_FORMATS": "false"})
    assert run.code == 0, run.err
    [fmt] = json.loads(run.out)["formats"]
    assert fmt["format"] != "learned"
    assert fmt["timestamps"] == 0.0
    bad = run_cli(str(path), env={"LEARN_FORMATS": "perhaps"})
    assert bad.code == 2
    assert "LEARN_FORMATS='perhaps' is not a yes/no setting" in bad.err


def test_explain_format_shows_what_was_understood(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(_UNKNOWN_FORMAT)
    run = run_cli("--explain-format", str(path))
    assert run.code == 0, run.err
    assert f"{path}: format learned (learned from this file)" in run.out
    assert "timestamp read as: %Y/%m/%d %H:%M:%S%.f" in run.out
    assert "100% have a timestamp, 100% a level" in run.out
    assert "ts        2026-12-07T09:23:02.002222Z" in run.out
    assert "level     WARNING" in run.out
    as_json = run_cli("--explain-format", "--json", str(path))
    assert as_json.code == 0, as_json.err
    [explained] = json.loads(as_json.out)
    assert explained["learned"] and explained["timestamps"] == 1.0
    assert explained["lines"][3]["level"] == "ERROR"
    assert explained["lines"][3]["message"] == "worker 3: request 3 took 9 ms"


def test_explain_format_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    binary = tmp_path / "blob.log"
    binary.write_bytes(bytes(range(256)) * 64)
    run = run_cli("--explain-format", str(binary), str(tmp_path / "missing.log"))
    assert run.code == 1
    assert "blob.log: binary file, not a text log" in run.err
    assert "missing.log" in run.err


def test_a_regex_the_engine_refuses_is_one_line_naming_it(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, _ = make_log("log4j", lines=50)
    events = tmp_path / "events.jsonl"
    cases = [
        (("--drop-regex", "(?<=a)b"), {}, "--drop-regex='(?<=a)b'", "look-around"),
        (("--drop-regex", "(a)\\1"), {}, "--drop-regex='(a)\\\\1'", "backreferences"),
        ((), {"DROP_REGEX": "(?!x)y"}, "DROP_REGEX='(?!x)y'", "look-around"),
    ]
    for flags, env, named, why in cases:
        run = run_cli(str(path), "--events", str(events), *flags, env=env)
        assert run.code == 2, (flags, run.err)
        assert run.err.splitlines() == [run.err.strip()] and run.err.startswith("error: ")
        assert named in run.err and why in run.err
        assert run.out == "" and not events.exists()


def test_settings_only_other_commands_read_do_not_stop_an_analysis(
    make_log: MakeLog, tmp_path: Path
) -> None:
    path, truth = make_log("log4j", lines=50)
    env_file = tmp_path / "server.env"
    server_only = (
        "PORT=http\nAPI_PORT=99999\nAUTH_TOKENS=alice\nAUTH_TOKENS_FILE=/nonexistent/tokens\n"
        "MAX_FRAME_BYTES=lots\nIDLE_TIMEOUT=soon\nALERT_RULES_FILE=/nonexistent/rules.toml\n"
        "ALERT_WEBHOOK_URL=ftp://nowhere\n"
    )
    env_file.write_text(server_only)
    run = run_cli(str(path), "--json", "--quiet", "--env-file", str(env_file))
    assert run.code == 0, run.err
    assert json.loads(run.out)["entries"] == truth.entries
    # A bad value of a setting the analysis reads still stops it, named.
    env_file.write_text(server_only + "TOP_N=many\n")
    run = run_cli(str(path), "--json", "--quiet", "--env-file", str(env_file))
    assert run.code == 2 and run.out == ""
    assert run.err.strip() == "error: TOP_N='many' is not a whole number"


def test_a_formats_file_error_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x\n")
    formats = tmp_path / "formats.toml"
    formats.write_text('[[format]]\nname = "x"\nregex = "(?P<message>.*"\n')
    run = run_cli(str(log), "--formats-file", str(formats))
    assert run.code == 2 and run.out == ""
    assert run.err.splitlines() == [run.err.strip()]
    assert f"--formats-file={formats}: format 'x'" in run.err and "unclosed group" in run.err
    run = run_cli(str(log), env={"FORMATS_FILE": str(tmp_path / "absent.toml")})
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(f"error: FORMATS_FILE={tmp_path / 'absent.toml'}: cannot read")


def _journal_export(entries: int) -> bytes:
    """What `journalctl -o export` writes: fields, one a line, an empty line after each entry;
    a message with a newline in the binary form (name, 64-bit length, value)."""
    out = b""
    for n in range(entries):
        out += (
            f"__CURSOR=s=6c1;i={n:x};b=9f2;m={n:x};t=5f0;x=1\n"
            f"__REALTIME_TIMESTAMP={1_796_635_427_000_000 + n * 1_000_000}\n"
            f"__MONOTONIC_TIMESTAMP={5_000_000 + n}\n_BOOT_ID=9f2\n"
            f"PRIORITY={3 if n % 5 == 0 else 6}\nSYSLOG_IDENTIFIER=billing\n_PID=4242\n"
        ).encode()
        if n == 3:
            text = b"payment batch 3 failed:\ncard declined"
            out += b"MESSAGE\n" + len(text).to_bytes(8, "little") + text + b"\n"
        else:
            out += f"MESSAGE=payment batch {n} settled\n".encode()
        out += b"_HOSTNAME=pay-1\n\n"
    return out


def test_a_journal_export_is_read_entry_by_entry(tmp_path: Path) -> None:
    data = _journal_export(20)
    plain = tmp_path / "journal.export"
    plain.write_bytes(data)
    packed = tmp_path / "journal.export.gz"
    packed.write_bytes(gzip.compress(data))
    starts = [n + 1 for n, line in enumerate(data.split(b"\n")) if line.startswith(b"__CURSOR=")]
    for path in (plain, packed):
        events_path = tmp_path / f"{path.name}.events"
        run = run_cli(str(path), "--json", "--events", str(events_path))
        assert run.code == 0, run.err
        report = json.loads(run.out)
        assert report["entries"] == 20
        assert report["levels"] == {"ERROR": 4, "INFO": 16}
        assert report["first_timestamp"] == "2026-12-07T09:23:47Z"
        assert report["last_timestamp"] == "2026-12-07T09:24:06Z"
        assert report["rejected"] == {}
        assert "journal export" in report["formats"][0]["layout"]
        events = [json.loads(line) for line in events_path.read_text().splitlines()]
        assert [event["line"] for event in events] == starts
        assert events[3]["message"] == "payment batch 3 failed:\ncard declined"
        assert [events[0]["level"], events[3]["level"]] == ["ERROR", "INFO"]


def test_journal_verbose_pretty_and_marked_json_are_read_as_json(tmp_path: Path) -> None:
    records = [
        {"__REALTIME_TIMESTAMP": str(1_796_635_427_000_000 + n * 1_000_000),
         "PRIORITY": "3" if n % 4 == 0 else "6", "MESSAGE": f"job {n} done"}
        for n in range(12)
    ]  # fmt: skip
    verbose = b"".join(
        f"Mon 2026-12-07 09:23:{47 + n}.000000 UTC [s=1;i={n:x};b=2;m=3;"
        f"t={int(r['__REALTIME_TIMESTAMP']):x};x=4]\n"
        f"    PRIORITY={r['PRIORITY']}\n    MESSAGE={r['MESSAGE']}\n".encode()
        for n, r in enumerate(records)
    )
    files = {
        "verbose.log": verbose,
        "pretty.log": b"".join(json.dumps(r, indent=4).encode() + b"\n" for r in records),
        "seq.log": b"".join(b"\x1e" + json.dumps(r).encode() + b"\n" for r in records),
        "sse.log": b"".join(b"data: " + json.dumps(r).encode() + b"\n\n" for r in records),
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        run = run_cli(str(path), "--json")
        assert run.code == 0, run.err
        report = json.loads(run.out)
        assert report["levels"] == {"ERROR": 3, "INFO": 9}, name
        assert report["first_timestamp"] == "2026-12-07T09:23:47Z", name
        assert report["rejected"] == {}, name
        assert report["formats"][0]["lines"] == data.count(b"\n"), name


def test_times_of_day_take_the_date_of_the_w3c_date_directive(tmp_path: Path) -> None:
    path = tmp_path / "ex981119.log"
    path.write_text(
        "#Software: Microsoft Internet Information Server 4.0\n#Version: 1.0\n"
        "#Date: 1998-11-19 22:48:39\n#Fields: time c-ip cs-method cs-uri-stem sc-status\n"
        + "".join(
            f"22:{48 + n // 60:02d}:{n % 60:02d} 10.0.0.{n} GET /x/{n} 200\n" for n in range(90)
        )
    )
    run = run_cli(str(path), "--json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["entries"] == 90
    assert report["first_timestamp"] == "1998-11-19T22:48:00Z"
    assert report["last_timestamp"] == "1998-11-19T22:49:29Z"
