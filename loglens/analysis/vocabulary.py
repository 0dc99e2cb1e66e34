"""Names the analysis shares with its readers, importing nothing (no polars): so that the
server process can check a rules file without loading the engine."""

from __future__ import annotations

# Every level an entry can have, least severe first; UNKNOWN when a line carries none.
LEVEL_ORDER = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "UNKNOWN")
# The levels the series counts per minute (the others per hour): where spikes matter.
FINE_LEVELS = ("WARNING", "ERROR", "CRITICAL")
# The kinds of anomaly, most telling first: the events output names the first that covers
# an entry.
ANOMALY_KINDS = (
    "error_spike",
    "new_template",
    "rare_template",
    "level_shift",
    "volume_spike",
    "silence",
)
MICROS_PER_MINUTE = 60_000_000
