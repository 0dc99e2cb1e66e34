"""`async with` for the objects that hold connections and close them with `async close`."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncClosing:
    """Closed at the end of an `async with` block: subclasses define `close`."""

    async def close(self) -> None:
        """Release what the object holds."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
