"""Top-level values of JSON lines, as ``str.json_path_match`` reads them, in one parse a line.

``json_path_match`` parses the whole line once per path; ``json_decode`` parses it once for
every key, but it is strict (one line of an unexpected shape fails the column) and reads
some values differently (the first of duplicate keys, numbers in another notation). So only
lines where the two agree are decoded: flat objects whose values are strings without
escapes or plain integers, with no wanted key twice. Every other line keeps its
``json_path_match``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

_WS = r"[ \t\r]*"  # JSON whitespace; a line holds no newline
# A string without escapes or control characters: its text is its value, and its quotes
# are the only ones around, so a key's quoted name can only match the key itself.
_STRING = r'"[^"\\\x00-\x1f]*"'
# An integer json_path_match writes back as it stands: not "-0" (a float to serde_json),
# no exponent or fraction (written again as 1.5, 100000.0), within 64 bits.
_INTEGER = r"(?:-?[1-9][0-9]{0,17}|0)"
_PAIR = f"{_STRING}{_WS}:{_WS}(?:{_STRING}|{_INTEGER})"
FLAT_OBJECT = rf"^\{{{_WS}(?:{_PAIR}(?:{_WS},{_WS}{_PAIR})*)?{_WS}\}}{_WS}$"
# A key that can be written without escapes and be read back from a path ``$['key']``.
_PLAIN_KEY = re.compile(r"""[^"'\\\x00-\x1f]+""")


def top_level_key(path: str) -> str | None:
    """The key of a path ``$['key']`` naming a plain top-level key, else None."""
    if path.startswith("$['") and path.endswith("']") and _PLAIN_KEY.fullmatch(path[3:-2]):
        return path[3:-2]
    return None


def json_path_values(lines: pl.Series, paths: Sequence[str]) -> pl.DataFrame:
    """One column per path, named by it: ``lines.str.json_path_match(path)``."""
    keys = [top_level_key(path) for path in paths]
    plain = [key for key in keys if key is not None]
    if not paths or len(plain) < len(keys):
        return _matched(lines, paths)
    repeated = "|".join(f'"{re.escape(key)}"{_WS}:.*"{re.escape(key)}"{_WS}:' for key in plain)
    flat = lines.str.contains(FLAT_OBJECT) & ~lines.str.contains(repeated)
    if not flat.any():
        return _matched(lines, paths)
    dtype = pl.Struct(dict.fromkeys(plain, pl.String))
    decoded = lines.filter(flat).str.json_decode(dtype).struct.unnest()
    others = ~flat
    matched = _matched(lines.filter(others), paths) if others.any() else None
    columns = []
    for path, key in zip(paths, plain, strict=True):
        column = pl.Series(path, dtype=pl.String).extend_constant(None, len(lines))
        column = column.scatter(flat.arg_true(), decoded[key])
        if matched is not None:
            column = column.scatter(others.arg_true(), matched[path])
        columns.append(column)
    return pl.DataFrame(columns)


def _matched(lines: pl.Series, paths: Sequence[str]) -> pl.DataFrame:
    """One column per path, each line parsed once per path."""
    return pl.DataFrame([lines.str.json_path_match(path).alias(path) for path in paths])
