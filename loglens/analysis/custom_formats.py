"""Read user-defined log formats from TOML text (the file named by FORMATS_FILE).

    [[format]]
    name = "myapp"
    regex = '^(?P<ts>\\S+ \\S+) \\[(?P<level>\\w+)\\] (?P<message>.*)$'
    ts_format = "%Y-%m-%d %H:%M:%S"     # optional, strftime-style

User formats are tried before the built-in ones.
"""

from __future__ import annotations

import tomllib

from loglens.analysis.formats import LogFormat, custom_format
from loglens.errors import FormatError


def parse_formats_toml(text: str, origin: str) -> tuple[LogFormat, ...]:
    """Parse `[[format]]` tables into formats; FormatError names `origin` and the entry."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormatError(f"{origin}: not valid TOML: {exc}") from exc
    entries = document.get("format", [])
    if not isinstance(entries, list):
        raise FormatError(f"{origin}: `format` must be an array of tables ([[format]])")
    formats = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise FormatError(f"{origin}: format #{number} is not a table")
        name, regex = entry.get("name"), entry.get("regex")
        ts_format = entry.get("ts_format")
        if not isinstance(name, str) or not name or not isinstance(regex, str):
            raise FormatError(f"{origin}: format #{number} needs a `name` and a `regex` string")
        if ts_format is not None and not isinstance(ts_format, str):
            raise FormatError(f"{origin}: format {name!r}: `ts_format` must be a string")
        try:
            formats.append(custom_format(name, regex, ts_format))
        except FormatError as exc:
            raise FormatError(f"{origin}: format {name!r}: {exc}") from exc
    return tuple(formats)
