"""Plain-text output of the small operator commands (`alerts`, `jobs`): columns and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def write_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows as plain columns, the last one unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[-1]]) + "\n")


def cut(text: str, size: int) -> str:
    """The text, cut to `size` characters with an ellipsis."""
    return text if len(text) <= size else text[: size - 3] + "..."


def write_json(value: Any) -> None:
    """The value as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2) + "\n")
