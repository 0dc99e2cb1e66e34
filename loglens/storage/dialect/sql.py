"""What differs in the SQL text: `Dialect` (marks, DDL, functions), and targets.

A target is a `Path` (a SQLite file, DB_PATH) or a `postgresql://` URL (DATABASE_URL).
Both drivers' errors become `DriverError`, so callers catch one type.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

Target = Path | str
"""Where the results database is: a SQLite file, or a `postgresql://` URL."""
Row = tuple[Any, ...]

# The PostgreSQL advisory lock of exclusive write transactions (and schema changes): the
# sums over every blob are kept by read-modify-write, one writer at a time as in SQLite.
WRITE_LOCK_KEY = 0x6C6F676C656E73  # "loglens"
POSTGRES_SCHEMES = ("postgresql", "postgres")


class DriverError(Exception):
    """An error of the database driver (sqlite3 or psycopg), whichever the database;
    `unreachable` when the server could not be reached or the connection to it was lost."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def is_postgres(target: Target) -> bool:
    """Whether `target` is a PostgreSQL URL (else it is a SQLite file)."""
    return isinstance(target, str) and target.partition("://")[0] in POSTGRES_SCHEMES


def describe(target: Target) -> str:
    """`target` for messages: a URL without its password."""
    if not is_postgres(target):
        return str(target)
    parts = urlsplit(str(target))
    if parts.password is None:
        return str(target)
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


@dataclass(frozen=True)
class Dialect:
    """The SQL that differs between SQLite and PostgreSQL."""

    name: str
    begin_write: str
    begin_read: str

    @property
    def sqlite(self) -> bool:
        """Whether this is SQLite."""
        return self.name == "sqlite"

    def translate(self, sql: str) -> str:
        """SQL written for both (with `?` marks) as this database runs it."""
        return sql if self.sqlite else postgres_sql(sql)

    def greatest(self, a: str, b: str) -> str:
        """The larger of two values (not an aggregate)."""
        return f"MAX({a}, {b})" if self.sqlite else f"GREATEST({a}, {b})"

    def is_not(self, a: str, b: str) -> str:
        """`a` differs from `b`, NULL counting as a value."""
        return f"{a} IS NOT {b}" if self.sqlite else f"{a} IS DISTINCT FROM {b}"

    def json_values(self, alias: str) -> str:
        """A FROM item of the strings of a JSON list given as one `?`, as `alias.value`."""
        if self.sqlite:
            return f"json_each(?) AS {alias}"
        return f"json_array_elements_text(CAST(? AS json)) AS {alias} (value)"

    def json_list_has(self, column: str) -> str:
        """Whether the JSON list of plain strings in `column` holds the string `?`."""
        if self.sqlite:
            return f"instr({column}, json_quote(?)) > 0"
        return f"strpos({column}, CAST(to_json(CAST(? AS text)) AS text)) > 0"

    def analyze(self, tables: Iterable[str]) -> str:
        """The statement that refreshes the planner's statistics of loglens' `tables`
        (SQLite: of the whole file, which is loglens'; PostgreSQL: of those tables only,
        the database may hold others)."""
        return "ANALYZE" if self.sqlite else f"ANALYZE {', '.join(tables)}"

    @property
    def aggregates_json(self) -> bool:
        """Whether JSON text is built by the database (SQLite's compact form); else the
        caller builds it (PostgreSQL's json_agg spaces it differently)."""
        return self.sqlite

    def least_row(self, columns: str, least: str, source: str, group: str) -> str:
        """`SELECT columns, least FROM source`, one row per `group`: the row of the least
        `least` (SQLite takes bare columns from the row of MIN; PostgreSQL: DISTINCT ON)."""
        if self.sqlite:
            return f"SELECT {columns}, MIN({least}) FROM {source} GROUP BY {group}"
        return (
            f"SELECT DISTINCT ON ({group}) {columns}, {least} FROM {source}"
            f" ORDER BY {group}, {least}"
        )

    @property
    def like(self) -> str:
        """The operator of SQLite's LIKE (case-insensitive for ASCII)."""
        return "LIKE" if self.sqlite else "ILIKE"

    def ddl(self, sql: str, rowid_tables: Iterable[str] = ()) -> str:
        """Schema text written for SQLite as this database takes it; tables named in
        `rowid_tables` get a `rowid` column (PostgreSQL has none of its own)."""
        if self.sqlite:
            return sql
        return _postgres_ddl(sql, frozenset(rowid_tables))


SQLITE = Dialect("sqlite", begin_write="BEGIN IMMEDIATE", begin_read="BEGIN")
POSTGRES = Dialect(
    "postgresql", begin_write="BEGIN", begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
)


@functools.lru_cache(maxsize=4096)
def postgres_sql(sql: str) -> str:
    # `CROSS JOIN x ON` is SQLite's way to fix a join order; PostgreSQL refuses the ON.
    return sql.replace("%", "%%").replace("?", "%s").replace(" CROSS JOIN ", " JOIN ")


_IDENTITY = re.compile(r"\bid(\s+)INTEGER PRIMARY KEY")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \(\n")


def _postgres_ddl(sql: str, rowid_tables: frozenset[str]) -> str:
    sql = _IDENTITY.sub(r"id\1BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    sql = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', sql)
    sql = sql.replace(") WITHOUT ROWID;", ");")
    sql = sql.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW")
    rowid = "    rowid BIGINT GENERATED ALWAYS AS IDENTITY,\n"
    return _TABLE.sub(lambda m: m.group(0) + (rowid if m.group(1) in rowid_tables else ""), sql)
