"""Tests of template mining: masking in polars, clustering of pattern keys, template ids."""

from __future__ import annotations

import random

import polars as pl
import pytest

from loglens.analysis.template_columns import generalisations
from loglens.analysis.templates import (
    MASK_PATTERN,
    VARIABLE,
    Template,
    build_templates,
    mask_expr,
    template_id,
)


def mask(message: str) -> str:
    """Return the pattern key polars computes for one message."""
    key = pl.select(mask_expr(pl.lit(message, dtype=pl.String))).item()
    assert isinstance(key, str)
    return key


def mine(messages: list[str]) -> list[str]:
    """Mine templates the way workers and the merge step do; return each message's text."""
    keys = pl.DataFrame({"message": messages}, schema={"message": pl.String}).select(
        mask_expr(pl.col("message")).alias("key")
    )
    counts = dict(keys.group_by("key").len().iter_rows())
    templates = build_templates(counts)
    return [templates[key].text for key in keys["key"]]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("PacketResponder 1 for block terminating", "PacketResponder <*> for block terminating"),
        ("offset -12 of 3.75", "offset <*> of <*>"),
        ("register 0x7f3a00 and deadbeef", "register <*> and <*>"),
        ("Invalid user x from 173.234.31.186", "Invalid user x from <*>"),
        ("served 10.251.43.21:50010 ok", "served <*> ok"),
        ("src: /10.251.43.21:50010 dest: /10.0.0.2:50010", "src: <*> dest: <*>"),
        ("session 550e8400-e29b-41d4-a716-446655440000 open", "session <*> open"),
        ("request a1b2c3d4-e29b-41d4-a716-446655440000 open", "request <*> open"),
        ("Received block blk_-1608999687919862906 of size 91", "Received block <*> of size <*>"),
        ("attempt_1445144423722_0020_m_000000_0 done", "<*> done"),
        ("Found block rdd_42_20 locally", "Found block <*> locally"),
        ("wrote /tmp/run2/out.log", "wrote <*>"),
        ("Error loading /home/j42/prog: invalid image", "Error loading <*>: invalid image"),
        ("serving blk_7 to /10.251.42.84:", "serving <*> to <*>:"),
        ("allocateBlock: /tmp/part-00296. blk_7", "allocateBlock: <*> <*>"),
        ("fetch hdfs://msra-sa-41:9000/pageinput2.txt", "fetch <*>"),
        ("took 250ms then 1.5s", "took <*> then <*>"),
        (
            "stored as bytes (estimated size 1.2 KB, free 384.0 B)",
            "stored as bytes (estimated size <*>, free <*>)",
        ),
        ("connection at Sun Jul 10 03:55:15 2005 closed", "connection at <*> closed"),
        ("started 2015-10-18 18:01:47,978 ok", "started <*> ok"),
        ("kernel 2.6.9-1.667smp booted", "kernel <*>-<*> booted"),
        ("(uid=0) [pid 42]", "(uid=<*>) [pid <*>]"),
        ("connect to server: msra-sa-41:8030.", "connect to server: <*>."),
        ("Old: msra-sa-41/10.190.173.170:8030 New: x", "Old: <*> New: x"),
        ("peer 2001:db8:b261:aa::dbf3, closed", "peer <*>, closed"),
        ("bound to fe80::1%eth0 and ::1", "bound to <*>%eth0 and <*>"),
        ("client ::ffff:10.0.0.1 left", "client <*> left"),
        ("via 2001:0db8:85a3:0000:0000:8a2e:0370:7334 up", "via <*> up"),
        ("link 00:1a:2b:3c:4d:5e up", "link <*> up"),
        ("chip FF:F0:7F:95:CF:6F:66:6D:56:E7:26:F6 found", "chip <*> found"),
    ],
)
def test_mask_replaces_each_kind_of_variable(message: str, expected: str) -> None:
    assert mask(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "Failed password for root port ssh2",
        "tty2 on x86 with log4j and L3 cache",
        "Directory index forbidden by rule: /var/www/html/",
        "see http://wiki.apache.org/hadoop/NoRouteToHost",
        "Decade of facade",
        "in Bad::Foo and std::vector",
    ],
)
def test_mask_keeps_words_that_only_contain_digits_or_look_like_hex(message: str) -> None:
    assert mask(message) == message


def test_mask_handles_empty_and_unicode_messages() -> None:
    assert mask("") == ""
    assert (
        mask("Benutzer müller hat 3 Dateien gelöscht") == "Benutzer müller hat <*> Dateien gelöscht"
    )
    assert mask("用户 42 登录") == "用户 <*> 登录"


def test_messages_differing_only_in_variables_share_a_template() -> None:
    users = ["webmaster", "admin", "oracle", "test", "guest", "support"]
    messages = [f"Invalid user {user} from 10.0.{i}.{i + 7}" for i, user in enumerate(users)]
    assert set(mine(messages)) == {"Invalid user <*> from <*>"}


def test_messages_of_different_templates_stay_apart() -> None:
    messages = [
        "Accepted password for fztu from 10.0.0.1 port 22 ssh2",
        "Failed password for root from 10.0.0.2 port 51 ssh2",
        "Failed password for root from 10.0.0.3 port 52 ssh2",
        "Connection closed by 10.0.0.4 [preauth]",
        "Received disconnect from 10.0.0.5: 11: Bye Bye [preauth]",
    ]
    texts = mine(messages)
    assert texts[0] != texts[1]
    assert texts[1] == texts[2]
    assert len(set(texts)) == 4
    assert all(VARIABLE in text for text in texts)


def test_a_column_with_few_words_is_part_of_the_template() -> None:
    states = ["LOOKING", "FOLLOWING", "LEADING"]
    messages = [
        f"Notification: {i} (n.leader), {state} (my state)" for i in range(4) for state in states
    ]
    assert set(mine(messages)) == {
        f"Notification: <*> (n.leader), {state} (my state)" for state in states
    }


def test_a_column_of_many_words_is_a_variable_keeping_their_shared_punctuation() -> None:
    hosts = ["a.example.com", "b.example.org", "mail.test.net", "ns.foo.io"]
    messages = [f"authentication failure; rhost={host} user=root" for host in hosts]
    assert set(mine(messages)) == {"authentication failure; rhost=<*> user=root"}


def test_a_column_of_paths_is_a_variable_even_with_two_values() -> None:
    texts = mine(["adding path spec: /mapreduce/*", "adding path spec: /ws/*"])
    assert set(texts) == {"adding path spec: <*>"}


def test_short_messages_keep_a_constant_word() -> None:
    messages = [
        "JOB_CREATE job_1_2",
        "Launching attempt_1_2",
        "KILLING attempt_3_4",
        "ATTEMPT_START x_5",
    ]
    assert mine(messages) == ["JOB_CREATE <*>", "Launching <*>", "KILLING <*>", "ATTEMPT_START <*>"]


def test_empty_message_and_all_variable_message() -> None:
    assert mine(["", "12 0x1f 10.0.0.1", "13 0x2e 10.0.0.2"]) == ["", "<*> <*> <*>", "<*> <*> <*>"]


def test_whitespace_runs_do_not_split_a_template() -> None:
    assert mine(["Jul  9 session for 3", "Jul 10 session for 4"])[0] == "Jul <*> session for <*>"


def test_result_is_independent_of_input_order_and_counts() -> None:
    messages = [f"Invalid user u{i % 7}x from 10.0.0.{i}" for i in range(40)] + [
        f"session opened for user {name} by (uid={i})"
        for i, name in enumerate(["root", "news", "cyrus", "test"])
    ]
    keys = (
        pl.DataFrame({"message": messages})
        .select(mask_expr(pl.col("message")))["message"]
        .to_list()
    )
    expected = build_templates(dict.fromkeys(keys, 1))
    assert set(expected) == set(keys)
    assert {t.text for t in expected.values()} == {
        "Invalid user <*> from <*>",
        "session opened for user <*> by (uid=<*>)",
    }
    shuffled = keys[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert build_templates({key: 1000 + seed for key in shuffled}) == expected


def test_template_ids_are_stable_and_follow_the_text() -> None:
    assert template_id("Invalid user <*> from <*>") == "026af150026d"
    assert len(template_id("")) == 12
    assert template_id("a <*>") != template_id("a <*> b")
    templates = build_templates({"Invalid user <*> from <*>": 3})
    assert templates == {
        "Invalid user <*> from <*>": Template(
            template_id("Invalid user <*> from <*>"), "Invalid user <*> from <*>"
        )
    }


def test_many_distinct_keys_collapse_to_one_template() -> None:
    words = [f"w{a}{b}" for a in "abcdefghij" for b in "klmnopqrst"]
    rnd = random.Random(7)
    counts = {
        f"event {rnd.choice(words)} {rnd.choice(words)} id <*> n{i}": 1 for i in range(20_000)
    }
    templates = build_templates(counts)
    assert len(templates) == len(counts)
    assert {t.text for t in templates.values()} == {"event <*> <*> id <*> <*>"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            '"GET /api/v1/orders/42/items HTTP/1.1" 200 512',
            '"GET /api/v1/orders/<*>/items HTTP/<*>" <*> <*>',
        ),
        ('"POST /api/v2/orders HTTP/1.1" 201 12', '"POST /api/v2/orders HTTP/<*>" <*> <*>'),
        ("GET /api/v2/carts?page=3&limit=50", "GET /api/v2/carts?page=<*>&limit=<*>"),
        ("DELETE /api/v2/keys/deadbeef12 HTTP/1.0", "DELETE /api/v2/keys/<*> HTTP/<*>"),
        (
            "PATCH /users/550e8400-e29b-41d4-a716-446655440000/state (request_id=9f8e7d6c)",
            "PATCH /users/<*>/state (request_id=<*>)",
        ),
    ],
)
def test_mask_keeps_the_method_and_route_of_a_request_line(message: str, expected: str) -> None:
    assert mask(message) == expected


# Messages around request lines where the wrapped passes could part from the single pass:
# query values, versions, no data, two request lines, non-ASCII before, data whose context
# decides the next shape, a path that swallows a method, the markers themselves.
_REQUEST_EDGES = [
    "GET /api/users?user=42 HTTP/1.1",
    '"GET /index.html HTTP/1.1" 200 512',
    "GET /health",
    "GET /health ok",
    "GET /a/1 then POST /b/2 HTTP/2 done",
    "naïve café → GET /api/v1/orders/42 HTTP/1.1 für Jürgen 7",
    "GET /é/42/ü7 HTTP/1.1",
    "GET /api/orders/42/items7",
    "GET /x/42./a1",
    "GET /x/42-7/9?b=4&c=5#f",
    "/tmp/a1:GET /x/42 HTTP/1.1",
    "xGET /a/1 HTTP/1.1",
    "GET  /a/1",
    "HEAD / HTTP/1.0",
    "OPTIONS * HTTP/1.1",
    "Jul 10 03:55:15 GET /a/9 from 10.0.0.1:80 in 1.2 KB",
    "GET /a/1\x01 then 7",
    "\x00GET /a/1 HTTP/1.1 \x01",
    "GET /a/\x001\x01/2",
    "",
]


def _single_pass(messages: list[str | None]) -> list[str | None]:
    """The reference: one pass of every shape, each request line keeping its route."""
    frame = pl.DataFrame({"message": messages}, schema={"message": pl.String})
    return frame.select(pl.col("message").str.replace_all(MASK_PATTERN, "${keep}<*>"))[
        "message"
    ].to_list()


def _masked(messages: list[str | None]) -> list[str | None]:
    """The pattern keys of `messages` as one column."""
    frame = pl.DataFrame({"message": messages}, schema={"message": pl.String})
    return frame.select(mask_expr(pl.col("message")))["message"].to_list()


def test_mask_of_request_lines_equals_the_single_pass() -> None:
    messages: list[str | None] = [*_REQUEST_EDGES, None]
    assert _masked(messages) == _single_pass(messages)
    assert _masked(["GET /api/orders/42/items7"]) == ["GET /api/orders/<*>/items7"]


def test_mask_of_random_request_lines_equals_the_single_pass() -> None:
    pieces = [
        "GET ", "POST ", "DELETE ", "/api", "/v1", "/42", "/items7", "/deadbeef12", "?user=",
        "42", "&b=", " HTTP/1.1", '"', " ", " ", "é", "10.0.0.1:80", "::1", "-7", "0x1f",
        "/tmp/a1:", ".", "x", "\x01", "\x00", "1.2 KB", "Jul 10 03:55:15", "blk_-42", "#",
    ]  # fmt: skip
    rnd = random.Random(16)
    messages: list[str | None] = [
        "".join(rnd.choices(pieces, k=rnd.randrange(1, 14))) for _ in range(3000)
    ]
    assert _masked(messages) == _single_pass(messages)


def test_request_lines_keep_their_method_and_route_shape_as_templates() -> None:
    routes = [("GET", "orders/{}/items"), ("POST", "orders"), ("DELETE", "carts/{}")]
    routes += [("GET", "users/{}"), ("PUT", "users/{}"), ("GET", "carts?page={}")]
    rnd = random.Random(3)
    messages = [
        f"{method} /api/v1/{route.format(rnd.randrange(1, 999))} {rnd.choice([200, 404])}"
        f" {rnd.randrange(2, 900)}ms (request_id={rnd.getrandbits(40):x})"
        for _ in range(300)
        for method, route in [rnd.choice(routes)]
    ]
    assert set(mine(messages)) == {
        "GET /api/v1/orders/<*>/items <*> <*> (request_id=<*>)",
        "POST /api/v1/orders <*> <*> (request_id=<*>)",
        "DELETE /api/v1/carts/<*> <*> <*> (request_id=<*>)",
        "GET /api/v1/users/<*> <*> <*> (request_id=<*>)",
        "PUT /api/v1/users/<*> <*> <*> (request_id=<*>)",
        "GET /api/v1/carts?page=<*> <*> <*> (request_id=<*>)",
    }


# Each object takes a few verbs (the words of different statements), while every user
# goes with every statement (a variable).
STATEMENTS = [
    ("Deleting", "snapshot"),
    ("Restoring", "snapshot"),
    ("Opening", "file"),
    ("Reading", "file"),
    ("Opening", "session"),
    ("Closing", "session"),
    ("Renewing", "lease"),
    ("Revoking", "lease"),
]
USERS = ["xavier", "deploy", "alice", "root", "ops-bot", "priya"]


def test_words_that_vary_together_stay_and_a_freely_varying_word_is_masked() -> None:
    rnd = random.Random(5)
    messages = [
        f"{verb} {obj} {rnd.getrandbits(32):x}-{rnd.randrange(99)} for {rnd.choice(USERS)}"
        for _ in range(400)
        for verb, obj in [rnd.choice(STATEMENTS)]
    ]
    texts = set(mine(messages))
    assert texts == {f"{verb} {obj} <*> for <*>" for verb, obj in STATEMENTS}


def test_a_done_by_statement_keeps_its_object_and_verb() -> None:
    rnd = random.Random(6)
    messages = [
        f"{obj.capitalize()} {rnd.randrange(10**6)} {verb.lower()[:-3]}ed by"
        f" host-{rnd.randrange(9)}.example:{rnd.randrange(1024, 65535)}"
        for _ in range(400)
        for verb, obj in [rnd.choice(STATEMENTS)]
    ]
    texts = set(mine(messages))
    assert len(texts) == len(STATEMENTS)
    assert not any(text.startswith(VARIABLE) for text in texts)
    assert all(text.endswith(" by <*>") for text in texts)


def test_a_name_around_masked_data_is_kept() -> None:
    tasks = ["send_email", "send_sms", "resize_image", "charge_card", "sync_ledger"]
    rnd = random.Random(7)
    messages = [
        f"Retrying {task}[{rnd.getrandbits(64):016x}] in {rnd.randrange(1, 60)}s"
        for _ in range(100)
        for task in [rnd.choice(tasks)]
    ]
    assert set(mine(messages)) == {f"Retrying {task}[<*>] in <*>" for task in tasks}


def test_uid_and_login_uid_stay_two_templates() -> None:
    users = ["root", "news", "cyrus", "test", "guest"]
    messages = [f"session opened for user {u} by (uid={i})" for i, u in enumerate(users)]
    messages += [f"session opened for user {u} by LOGIN(uid={i})" for i, u in enumerate(users)]
    assert set(mine(messages)) == {
        "session opened for user <*> by (uid=<*>)",
        "session opened for user <*> by LOGIN(uid=<*>)",
    }


def test_state_pairs_of_a_transition_are_kept_when_entries_show_they_go_together() -> None:
    transitions = [("NEW", "SCHEDULED"), ("SCHEDULED", "RUNNING"), ("RUNNING", "SUCCEEDED")]
    transitions += [("RUNNING", "FAILED"), ("FAILED", "KILLED"), ("NEW", "KILLED")]
    counts = {f"task <*> Transitioned from {a} to {b}": 50 for a, b in transitions}
    texts = {t.text for t in build_templates(counts).values()}
    assert texts == set(counts)


def test_a_dash_for_a_missing_value_is_a_variable_like_a_number() -> None:
    messages = [f"GET /index.html 200 {size}" for size in ("512", "-", "1024")]
    assert set(mine(messages)) == {"GET /index.html <*> <*>"}


def test_a_template_stands_for_its_instances_but_a_vague_one_swallows_nothing() -> None:
    texts = {
        "Deleting snapshot <*> for <*>",
        "Deleting snapshot <*>-<*> for xavier",
        "<*> <*> <*> for <*>",
        "Restoring snapshot <*>-<*> for deploy",
    }
    assert generalisations(texts) == {
        "Deleting snapshot <*>-<*> for xavier": "Deleting snapshot <*> for <*>"
    }
