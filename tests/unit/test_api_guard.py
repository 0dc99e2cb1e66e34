"""FailureGuard: wrong tokens per address within a window, on a clock the test moves."""

from __future__ import annotations

import pytest

from loglens.api.guard import FailureGuard


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_failures_within_the_window_block_for_the_window() -> None:
    clock = Clock()
    guard = FailureGuard(3, 60.0, clock)
    for expected in (1, 2):
        assert guard.failed("10.0.0.1") == expected
        assert guard.blocked("10.0.0.1") is None
    clock.now += 10
    assert guard.failed("10.0.0.1") == 3
    assert guard.blocked("10.0.0.1") == 60.0
    assert guard.blocked("10.0.0.2") is None  # per address
    clock.now += 59
    assert guard.blocked("10.0.0.1") == pytest.approx(1.0)
    clock.now += 1
    assert guard.blocked("10.0.0.1") is None
    # The old failures left the window: one more is the first of a new count.
    assert guard.failed("10.0.0.1") == 1


def test_failures_spread_wider_than_the_window_never_block() -> None:
    clock = Clock()
    guard = FailureGuard(3, 60.0, clock)
    for _ in range(20):
        guard.failed("10.0.0.1")
        assert guard.blocked("10.0.0.1") is None
        clock.now += 31  # at most two within any 60 s


def test_addresses_remembered_are_bounded() -> None:
    clock = Clock()
    guard = FailureGuard(2, 60.0, clock, max_addresses=100)
    for i in range(1000):
        guard.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(guard) == 100
    guard.failed("10.9.9.9")
    assert guard.failed("10.9.9.9") == 2 and guard.blocked("10.9.9.9") == 60.0


def test_a_limit_or_window_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        FailureGuard(0, 60.0)
    with pytest.raises(ValueError, match="must be positive"):
        FailureGuard(3, 0.0)
