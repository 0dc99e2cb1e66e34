"""`python -m loglens COMMAND ...`."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from loglens.cli import main

    sys.exit(main())
