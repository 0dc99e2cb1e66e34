"""Upload log files to a loglens server: `python client.py FILE... [--wait] [--json]`.

The imports sit under the main guard, as in the other entry points, so that importing
this script does nothing.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from loglens.client.cli import main

    sys.exit(main())
