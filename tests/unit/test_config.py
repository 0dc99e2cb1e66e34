"""The one config: defaults, parsing, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from loglens.config import (
    ANALYSIS_SETTINGS,
    SERVER_SETTINGS,
    Config,
    check_regex,
    load_config,
    parse_size,
)
from loglens.errors import ConfigError


def test_defaults_need_no_environment() -> None:
    config = load_config({})
    assert config == Config()
    assert config.server == "127.0.0.1:7878"
    assert config.auth_tokens == ()


def test_tokens_from_the_variable_and_the_file(tmp_path: Path) -> None:
    listed = tmp_path / "tokens"
    listed.write_text("# operators\ncarol:c4rol\n\ndave: d4ve \n")
    config = load_config(
        {"AUTH_TOKENS": "alice:s3cret, bob:hunter2", "AUTH_TOKENS_FILE": str(listed)}
    )
    assert config.auth_tokens == (
        ("alice", "s3cret"),
        ("bob", "hunter2"),
        ("carol", "c4rol"),
        ("dave", "d4ve"),
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"AUTH_TOKENS": "alice"}, "'alice' is not operator:token"),
        ({"AUTH_TOKENS": "alice:x,bob:x"}, "reuses another operator's token"),
        ({"AUTH_TOKENS_FILE": "/nonexistent/tokens"}, "AUTH_TOKENS_FILE=/nonexistent/tokens"),
        ({"MAX_FRAME_BYTES": "12 parsecs"}, "MAX_FRAME_BYTES='12 parsecs' is not a size"),
        ({"MAX_FRAME_BYTES": "10"}, "MAX_FRAME_BYTES=10 is too small"),
        ({"DIRECT_RECEIVE_BYTES": "big"}, "DIRECT_RECEIVE_BYTES='big' is not a size"),
        ({"IDLE_TIMEOUT": "soon"}, "IDLE_TIMEOUT='soon' is not a number of seconds"),
        ({"IDLE_TIMEOUT": "0"}, "IDLE_TIMEOUT=0 must be more than 0"),
        ({"PARTIAL_TTL": "-5"}, "PARTIAL_TTL=-5 must be more than 0"),
        ({"MAX_CONNECTIONS": "0"}, "MAX_CONNECTIONS=0 is too small"),
        ({"PORT": "http"}, "PORT='http' is not a whole number"),
        ({"PORT": "70000"}, "PORT=70000 is not a port"),
        ({"API_PORT": "99999"}, "API_PORT=99999 is not a port"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE='Mars/Olympus' is not a known time zone"),
        ({"LEARN_FORMATS": "maybe"}, "LEARN_FORMATS='maybe' is not a yes/no setting"),
    ],
)
def test_a_bad_setting_is_named_with_its_value(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(env)
    assert words in str(raised.value)


def test_learning_formats_is_on_unless_turned_off() -> None:
    assert load_config({}).learn_formats
    assert not load_config({"LEARN_FORMATS": "false"}).learn_formats
    assert load_config({"LEARN_FORMATS": " Yes "}).learn_formats


def test_limits_take_sizes_with_units() -> None:
    config = load_config(
        {"MAX_UPLOAD_BYTES": "2GiB", "MAX_HEADER_BYTES": "8KiB", "DIRECT_RECEIVE_BYTES": "0"}
    )
    assert (config.max_upload_bytes, config.max_header_bytes) == (2 * 1024**3, 8192)
    assert config.direct_receive_bytes == 0  # every upload that can is read by a thread
    assert parse_size("1.5MB", "X") == 1_500_000


def test_the_client_server_defaults_to_host_and_port() -> None:
    assert load_config({"HOST": "10.0.0.5", "PORT": "9000"}).server == "10.0.0.5:9000"
    assert load_config({"LOGLENS_SERVER": "logs.example:7000"}).server == "logs.example:7000"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?<=a)b", "look-around, including look-ahead and look-behind, is not supported"),
        ("(a)\\1", "backreferences are not supported"),
        ("(unclosed", "unclosed group"),
    ],
)
def test_a_regex_is_checked_by_the_engine_that_runs_it(pattern: str, why: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"DROP_REGEX": pattern})
    message = str(raised.value)
    assert message.startswith(f"DROP_REGEX={pattern!r} is not a regex")
    assert message.endswith(why) and "\n" not in message
    assert check_regex("(?i)disk (?P<dev>sd[a-z])\\d", "--drop-regex").startswith("(?i)")


def test_a_command_reads_only_its_own_settings() -> None:
    server_only = {"PORT": "http", "AUTH_TOKENS": "alice", "MAX_FRAME_BYTES": "lots"}
    config = load_config({**server_only, "TOP_N": "9"}, ANALYSIS_SETTINGS)
    assert (config.top_n, config.port, config.auth_tokens) == (9, Config.port, ())
    with pytest.raises(ConfigError, match="TIMEZONE='Mars/Olympus'"):
        load_config({**server_only, "TIMEZONE": "Mars/Olympus"}, ANALYSIS_SETTINGS)
    # The server reads its own and the analysis' settings, not the API's or the client's.
    assert load_config({"API_PORT": "99999"}, SERVER_SETTINGS).api_port == Config.api_port
    with pytest.raises(ConfigError, match="PORT='http'"):
        load_config(server_only, SERVER_SETTINGS)
    assert ANALYSIS_SETTINGS < SERVER_SETTINGS
