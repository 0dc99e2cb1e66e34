"""Failed authentications per client address: past a limit within a window, refuse."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Addresses remembered at most: a flood from many addresses cannot grow memory without end.
MAX_ADDRESSES = 100_000


class FailureGuard:
    """An address with `limit` failed authentications within `window` seconds is refused
    for `window` seconds after the last (AUTH_FAILURE_LIMIT, AUTH_LOCKOUT_SECONDS).

    `failed(address)` records one; `blocked(address)` is the seconds to wait before the
    next attempt is heard, or None. Refused attempts are not counted (they cost nothing).
    A success does not wipe the count: else an operator with a token of its own could
    guess another's between its own requests.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"limit={limit} and window={window} must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None when it may now."""
        times = self._failures.get(address)
        if times is None or len(times) < self.limit:
            return None
        wait = times[-1] + self.window - self._clock()
        return wait if wait > 0 else None

    def failed(self, address: str) -> int:
        """Record a failure of `address`; the failures it has within the window."""
        now = self._clock()
        times = self._failures.pop(address, None) or deque(maxlen=self.limit)
        while times and times[0] <= now - self.window:
            times.popleft()
        times.append(now)
        self._failures[address] = times  # most recent last
        if len(self._failures) > self._max_addresses:
            self._forget(now)
        return len(times)

    def _forget(self, now: float) -> None:
        """Drop addresses whose last failure left the window, then the oldest if still full."""
        for address in [a for a, t in self._failures.items() if t[-1] <= now - self.window]:
            del self._failures[address]
        while len(self._failures) > self._max_addresses:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)
