"""Run the upload server: `python server.py [--port N] ...` (settings in `.env.example`).

The imports sit under the main guard so that the processor process, which re-imports
this script when it starts, does not load the server.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from loglens.processor.workers import configure_process

    configure_process()
    from loglens.cli.serve import main

    sys.exit(main())
