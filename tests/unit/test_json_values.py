"""Tests of reading top-level JSON values: one decode for flat objects, path matches else."""

from __future__ import annotations

import json
import random

import polars as pl

from loglens.analysis.json_values import json_path_values, top_level_key

# Lines where json_decode and json_path_match part: numbers in other notations, booleans,
# nested values, escapes, duplicate keys, damaged or trailing text, empty objects and values.
_EDGES = [
    '{"ts": "2024-07-02T15:03:09.049Z", "level": "info", "msg": "Evicted entry c0d8 in 29.18s"}',
    '{"ts": 1719932589, "level": 30, "msg": "naïve → ok"}',
    '{"ts": 1.50, "level": true, "msg": {"k": [1, 2]}}',
    '{"ts": 1e5, "level": -0, "msg": null}',
    '{"ts": -7, "level": 0, "msg": ""}',
    '{"ts": 123456789012345678901, "level": "x"}',
    '{"msg": "first", "msg": "last"}',
    '{"msg": "tab\\tand \\"quote\\" and \\u00e9"}',
    '{"msg": "bad \\ud800 surrogate"}',
    '{"msg": "x"} trailing',
    '{"msg": "x"}  \r',
    ' {"msg": "lead"}',
    '{"msg":"tight","level":"warn"}',
    '{"msg": "x",}',
    '{"msg": "unterminated',
    '{"other": "ts"}',
    '{"note": "\\"msg\\": \\"fake\\"", "msg": "real"}',
    "{}",
    "[1, 2]",
    "not json at all",
    "",
]
_PATHS = ["$['ts']", "$['level']", "$['msg']"]


def _reference(lines: pl.Series, paths: list[str]) -> pl.DataFrame:
    """What json_path_match reads, one parse per path."""
    return pl.DataFrame([lines.str.json_path_match(path).alias(path) for path in paths])


def test_values_equal_json_path_match_on_edge_lines() -> None:
    lines = pl.Series([*_EDGES, None], dtype=pl.String)
    values = json_path_values(lines, _PATHS)
    assert values.equals(_reference(lines, _PATHS))
    assert values["$['msg']"].to_list()[:2] == ["Evicted entry c0d8 in 29.18s", "naïve → ok"]
    assert values["$['msg']"][6] == "last"


def test_values_equal_json_path_match_on_random_objects() -> None:
    rnd = random.Random(16)
    choices: list[object] = ["a", "", "é ✓", 'q"uote', "back\\slash", 0, -3, 42, 1.5, True, None]
    choices += [{"ts": 1}, [1], "ts", 10**19]
    lines = []
    for _ in range(2000):
        keys = rnd.choices(["ts", "level", "msg", "other"], k=rnd.randrange(0, 5))
        body = ", ".join(f'"{key}": {json.dumps(rnd.choice(choices))}' for key in keys)
        lines.append("{" + body + "}" + rnd.choice(["", "", " ", "x"]))
    series = pl.Series(lines, dtype=pl.String)
    assert json_path_values(series, _PATHS).equals(_reference(series, _PATHS))


def test_nested_or_quoted_paths_take_the_path_match() -> None:
    assert top_level_key("$['msg']") == "msg"
    assert top_level_key("$['log']['level']") is None
    assert top_level_key("$['it\\'s']") is None
    lines = pl.Series(['{"log": {"level": "warn"}, "msg": "m"}', '{"msg": "n"}'])
    paths = ["$['log']['level']", "$['msg']"]
    values = json_path_values(lines, paths)
    assert values.equals(_reference(lines, paths))
    assert values.row(0) == ("warn", "m")


def test_lines_without_flat_objects_are_read_by_path() -> None:
    lines = pl.Series(['{"msg": {"a": 1}}', "plain text", None], dtype=pl.String)
    values = json_path_values(lines, ["$['msg']"])
    assert values["$['msg']"].to_list() == ['{"a":1}', None, None]
