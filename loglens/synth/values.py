"""Random variable parts of messages (ids, addresses, durations...), fast enough for GB/min.

Values that are costly to format (UUIDs, IPv6, URLs) come from pools drawn once per
generator; cheap ones (integers, hex ids, block ids) are fresh on every call.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from loglens.synth import vocab

POOL_BITS = 12  # pools hold 4096 values: varied enough for template mining, cheap to build
Getter = Callable[[], str]


class Values:
    """Render a variable part of a given kind; every kind's getter takes no argument."""

    def __init__(self, rng: random.Random) -> None:
        """Build the pools from ``rng`` and bind one getter per kind."""
        self._rng = rng
        self._bits = bits = rng.getrandbits
        size = 1 << POOL_BITS
        self.hosts = [
            f"{vocab.HOST_STEMS[i % len(vocab.HOST_STEMS)]}-{i // len(vocab.HOST_STEMS):02d}"
            for i in range(64)
        ]
        self._ipv4 = [f"10.{bits(8)}.{bits(8)}.{bits(8) or 1}" for _ in range(size)]
        self._ipv6 = [f"2001:db8:{bits(16):x}:{bits(16):x}::{bits(16) or 1:x}" for _ in range(size)]
        self._uuids = [_uuid4(bits(128)) for _ in range(size)]
        self._hostports = [
            f"{self.hosts[bits(6)]}:{rng.choice((8020, 9000, 9092, 5432, 6379, 443, 8443))}"
            if i % 2
            else f"{self._ipv4[i]}:{1024 + bits(15)}"
            for i in range(size)
        ]
        self._paths = [
            f"{vocab.DIRECTORIES[bits(3)]}/{vocab.FILE_STEMS[bits(3)]}-{bits(14):05d}"
            f"{vocab.FILE_EXTENSIONS[bits(8) % len(vocab.FILE_EXTENSIONS)]}"
            for _ in range(size)
        ]
        self._urls = [
            f"https://{self.hosts[bits(6)]}.quarry.example/hooks/{bits(24):06x}?attempt={bits(3)}"
            for _ in range(size)
        ]
        self._getters: dict[str, Getter] = {
            "int": self.integer,
            "small": self.small,
            "bytes": self.byte_count,
            "float": self.decimal,
            "dur": self.duration,
            "hex": self.hex32,
            "hex16": self.hex64,
            "uuid": self.uuid,
            "ip": self.ipv4,
            "ip6": self.ipv6,
            "hostport": self.hostport,
            "host": self.host,
            "user": self.user,
            "blk": self.block,
            "path": self.path,
            "url": self.url,
            "status": self.status,
        }

    def getter(self, kind: str) -> Getter:
        """Return the getter for ``kind``; KeyError names an unknown kind."""
        try:
            return self._getters[kind]
        except KeyError:
            raise KeyError(
                f"unknown variable kind {kind!r}, known: {sorted(self._getters)}"
            ) from None

    def integer(self) -> str:
        """Return an id-like integer spread over several magnitudes."""
        bits = self._bits
        return str(bits(4 + bits(4)))

    def small(self) -> str:
        """Return a small count (0-63)."""
        return str(self._bits(6))

    def byte_count(self) -> str:
        """Return a byte count up to about 1 GB."""
        bits = self._bits
        return str(bits(10 + bits(4) + bits(3)))

    def decimal(self) -> str:
        """Return a float with two decimals."""
        return f"{self._rng.random() * 1000:.2f}"

    def duration(self) -> str:
        """Return a duration in milliseconds or seconds."""
        bits = self._bits
        if bits(1):
            return f"{bits(10)}ms"
        return f"{bits(12) / 100:.2f}s"

    def hex32(self) -> str:
        """Return 8 hex digits."""
        return f"{self._bits(32):08x}"

    def hex64(self) -> str:
        """Return 16 hex digits."""
        return f"{self._bits(64):016x}"

    def uuid(self) -> str:
        """Return a version-4 UUID."""
        return self._uuids[self._bits(POOL_BITS)]

    def ipv4(self) -> str:
        """Return a private IPv4 address."""
        return self._ipv4[self._bits(POOL_BITS)]

    def ipv6(self) -> str:
        """Return a documentation-range IPv6 address."""
        return self._ipv6[self._bits(POOL_BITS)]

    def hostport(self) -> str:
        """Return ``host:port`` with a host name or an IPv4 address."""
        return self._hostports[self._bits(POOL_BITS)]

    def host(self) -> str:
        """Return a host name."""
        return self.hosts[self._bits(6)]

    def user(self) -> str:
        """Return a user name (one of them is not ASCII)."""
        return vocab.USERS[self._bits(5)]

    def block(self) -> str:
        """Return an HDFS-style block id with a signed 63-bit number."""
        return f"blk_{self._bits(63) - (1 << 62)}"

    def path(self) -> str:
        """Return an absolute file path."""
        return self._paths[self._bits(POOL_BITS)]

    def url(self) -> str:
        """Return an https URL."""
        return self._urls[self._bits(POOL_BITS)]

    def status(self) -> str:
        """Return an HTTP error status code."""
        return str((500, 502, 503, 504, 429, 409, 403, 404)[self._bits(3)])


def _uuid4(number: int) -> str:
    """Format 128 random bits as a version-4 UUID."""
    digits = f"{number:032x}"
    return (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-"
        f"{'89ab'[number & 3]}{digits[17:20]}-{digits[20:]}"
    )
