"""The processes under a pid, read from /proc: benchmarks measure whole process trees."""

from __future__ import annotations

import os


def process_tree(root: int) -> list[int]:
    """The pids of `root` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def rss_kib(pids: list[int]) -> int:
    """RSS sum in KiB over the given processes, from statm (cheap: no page-table walk)."""
    pages = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                pages += int(handle.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024
