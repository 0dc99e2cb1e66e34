"""Create the schema of a new database, upgrade an older one, refuse a newer one: the
tables of `schema`, in either dialect, under one version number."""

from __future__ import annotations

import contextlib
import logging

from loglens.errors import StorageError
from loglens.storage.dialect import Connection, DriverError
from loglens.storage.schema import ALERT_TABLES, MIGRATIONS, ROWID_TABLES, SCHEMA, SCHEMA_VERSION

logger = logging.getLogger(__name__)


async def create(conn: Connection, where: str) -> None:
    """Create the schema of a new database, upgrade an older one; refuse a newer one."""
    if await _version(conn, where) == SCHEMA_VERSION:
        return
    try:
        await conn.begin(exclusive=True)
        try:
            # Another process may have created or upgraded it meanwhile: look again, holding
            # the write lock (two upgrades would add the same columns twice).
            version = await _version(conn, where)
            if version < SCHEMA_VERSION:
                # A new database needs no migrations. They change what exists; the schema
                # (IF NOT EXISTS throughout) adds what is missing. One statement at a time;
                # the text has no ';' but between statements.
                steps = [MIGRATIONS[n] for n in range(version, SCHEMA_VERSION)] if version else []
                text = conn.dialect.ddl("".join([*steps, SCHEMA]), ROWID_TABLES)
                for statement in text.split(";"):
                    if statement.strip():
                        await conn.execute(statement)
                await conn.set_schema_version(SCHEMA_VERSION)
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(DriverError):  # the error that brought us here matters
                await conn.execute("ROLLBACK")
            raise
    except DriverError as exc:
        raise StorageError(f"database {where}: cannot create its schema: {exc}") from exc
    if version == SCHEMA_VERSION:
        return  # another process did it first
    if version:
        logger.info(
            "upgraded database %s from schema version %d to %d", where, version, SCHEMA_VERSION
        )
    else:
        logger.info("created database schema version %d in %s", SCHEMA_VERSION, where)


async def create_alert_tables(conn: Connection, where: str) -> None:
    """Add the alerts table to a database that has none yet (one made before alerts)."""
    try:
        if await conn.has_table("alerts"):
            return
        await conn.begin(exclusive=True)
        try:
            for statement in conn.dialect.ddl(ALERT_TABLES).split(";"):
                if statement.strip():
                    await conn.execute(statement)
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(DriverError):
                await conn.execute("ROLLBACK")
            raise
    except DriverError as exc:
        raise StorageError(f"database {where}: cannot open for alerts: {exc}") from exc


async def check_version(conn: Connection, where: str) -> None:
    """StorageError unless a database opened to be read has this loglens' schema (only a
    writer upgrades one)."""
    try:
        version = await conn.schema_version()
    except DriverError as exc:
        raise StorageError(f"database {where}: cannot open for reading: {exc}") from exc
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        raise StorageError(f"{where} is not a loglens results database (no schema)")
    if version < SCHEMA_VERSION:
        raise StorageError(
            f"database {where} has schema version {version}, made by an older "
            f"loglens; this one reads {SCHEMA_VERSION}: start the server "
            "(python server.py) once with this database to upgrade it"
        )
    raise StorageError(
        f"database {where} has schema version {version}, this loglens reads "
        f"{SCHEMA_VERSION}: use the matching loglens"
    )


async def _version(conn: Connection, where: str) -> int:
    """The schema version of the database; StorageError if it is newer than this loglens."""
    try:
        version = await conn.schema_version()
    except DriverError as exc:
        raise StorageError(f"database {where}: cannot open: {exc}") from exc
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"database {where} has schema version {version}, this loglens knows up to "
            f"{SCHEMA_VERSION}: upgrade loglens or use another DB_PATH or DATABASE_URL"
        )
    return version
