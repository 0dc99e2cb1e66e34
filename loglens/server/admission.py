"""Who may connect: handshake slots per address, and lockouts after wrong tokens.

A connection is *in its handshake* from its accept until its first UPLOAD's token is
checked. Only then does it cost the server anything worth stealing, so the connections in
their handshake are the ones limited (an idle or dripping crowd of them locked every
upload out once): each gets HANDSHAKE_TIMEOUT seconds in all, at most
MAX_HANDSHAKES_PER_ADDRESS come from one address at once, and together they never take
the last quarter of MAX_CONNECTIONS, kept for authenticated connections. When their share
is full a new connection pushes out the oldest one still in its handshake: a real client
authenticates within a round trip or two, so it gets through a crowd that only waits.

An address that sends AUTH_FAILURE_LIMIT wrong tokens within AUTH_LOCKOUT_SECONDS is
refused for AUTH_LOCKOUT_SECONDS, whatever token it sends meanwhile. Addresses are
IPv4 addresses, or IPv6 /64 networks (one host commonly holds a whole /64).
"""

from __future__ import annotations

import collections
import ipaddress
import time
from collections.abc import Callable
from typing import Any

# Addresses whose failures are remembered at most: beyond this the oldest are forgotten,
# so that a spray of addresses cannot grow the server's memory without bound.
MAX_TRACKED_ADDRESSES = 65536


def address_key(peername: Any) -> str:
    """The address a connection is counted under: its IPv4 address, or its IPv6 /64."""
    host = peername[0] if isinstance(peername, tuple) and peername else None
    if not isinstance(host, str):
        return "unknown"
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def reserve_for_authenticated(max_connections: int) -> int:
    """Connection slots that connections in their handshake never take: a quarter."""
    return max_connections // 4


class FailedLogins:
    """Wrong tokens per address within a sliding window, and the addresses locked out."""

    def __init__(
        self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._locked: collections.OrderedDict[str, float] = collections.OrderedDict()

    def locked_for(self, address: str) -> float:
        """Seconds `address` stays locked out, or 0."""
        until = self._locked.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._locked[address]
            return 0.0
        return left

    def failed(self, address: str) -> int:
        """Count a wrong token from `address`; return its failures within the window (the
        address is locked once they reach the limit)."""
        now = self._clock()
        times = self._failures.pop(address, None) or collections.deque()
        while times and times[0] <= now - self.seconds:
            times.popleft()
        times.append(now)
        self._failures[address] = times  # the most recent last: the oldest are dropped
        if len(times) >= self.limit:
            self._locked.pop(address, None)
            self._locked[address] = now + self.seconds
            del self._failures[address]
        self._forget_beyond(MAX_TRACKED_ADDRESSES)
        return len(times)

    def _forget_beyond(self, most: int) -> None:
        while len(self._failures) > most:
            self._failures.popitem(last=False)
        while len(self._locked) > most:
            self._locked.popitem(last=False)
