"""Text from clients, made safe for the server's log."""

from __future__ import annotations


def shown(name: str) -> str:
    """A client's file name for the log: control characters escaped, so that a name
    cannot write lines of its own into the log."""
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")
