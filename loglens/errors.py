"""The exception tree of loglens.

    LoglensError                 root: catch this to catch everything loglens raises
    ├── ConfigError              a setting or flag is invalid (names the variable)
    ├── InputError               a path, file or stream cannot be analysed
    │   └── FormatError          an unknown format name or an invalid custom format
    ├── ProtocolError            a peer broke the wire protocol
    │   └── protocol.PeerError   ... with the protocol's error code (sent or received)
    ├── StorageError             the database could not be read or written
    │   └── DatabaseUnavailable  ... because its server cannot be reached (it may come back)
    ├── storage.QueryError       a query's filter, sort or page is invalid (also ValueError)
    └── client.UploadError       an upload failed for good (loglens.client.models)

Adapters translate foreign exceptions with ``raise ... from exc``. Only the CLI
turns these into exit codes.
"""

from __future__ import annotations


class LoglensError(Exception):
    """Base class of every error loglens raises on purpose."""


class ConfigError(LoglensError):
    """A configuration value or command-line flag is invalid."""


class InputError(LoglensError):
    """An input path, file or stream cannot be analysed."""


class FormatError(InputError):
    """An unknown log format name, or a custom format that does not compile."""


class ProtocolError(LoglensError):
    """A peer sent something the wire protocol does not allow."""


class StorageError(LoglensError):
    """The results database could not be read or written."""


class DatabaseUnavailable(StorageError):
    """The database server cannot be reached: down, restarting, or cut off by the network."""
