"""Analyse log files locally: `python processor.py PATH... [--json] [--events FILE]`.

The imports sit under the main guard so that worker processes, which re-import this
script when they start, do not load the engine before they configure it.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from loglens.processor.workers import configure_process

    configure_process()
    from loglens.cli.analyze import main

    sys.exit(main())
