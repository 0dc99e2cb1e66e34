"""Who may connect: the addresses connections are counted under, and lockouts after wrong
tokens, on a clock the test turns."""

from __future__ import annotations

from loglens.server.admission import FailedLogins, address_key, reserve_for_authenticated


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_locked_after_the_limit_within_the_window_and_for_as_long() -> None:
    clock = Clock()
    logins = FailedLogins(3, 60.0, clock)
    assert [logins.failed("10.0.0.5") for _ in range(2)] == [1, 2]
    assert logins.locked_for("10.0.0.5") == 0
    clock.now += 30
    assert logins.failed("10.0.0.5") == 3
    assert logins.locked_for("10.0.0.5") == 60.0
    assert logins.locked_for("10.0.0.6") == 0
    clock.now += 59
    assert logins.locked_for("10.0.0.5") == 1.0
    clock.now += 1
    assert logins.locked_for("10.0.0.5") == 0
    assert logins.failed("10.0.0.5") == 1  # a fresh start after the lockout


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    logins = FailedLogins(3, 60.0, clock)
    logins.failed("10.0.0.5")
    logins.failed("10.0.0.5")
    clock.now += 61
    assert logins.failed("10.0.0.5") == 1
    assert logins.locked_for("10.0.0.5") == 0


def test_connections_are_counted_per_ipv4_address_or_ipv6_network() -> None:
    assert address_key(("10.0.0.5", 40000)) == "10.0.0.5"
    assert address_key(("2001:db8::1", 40000, 0, 0)) == "2001:db8::/64"
    assert address_key(("2001:db8::ffff:1", 1, 0, 0)) == address_key(("2001:db8::2", 2, 0, 0))
    assert address_key(("::ffff:10.0.0.5", 40000, 0, 0)) == "10.0.0.5"
    assert address_key(None) == "unknown"
    assert reserve_for_authenticated(512) == 128
