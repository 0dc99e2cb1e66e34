"""Progress bars on stderr: one per file in flight and one for all, only on a terminal."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING

from loglens.client.models import ProgressCallback, UploadEvent

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

_STAGES = {
    "hashing": "hashing",
    "connecting": "connecting",
    "sending": "uploading",
    "verifying": "verifying",
    "analysing": "analysing",
    "retrying": "retrying",
}


class Display:
    """Rich progress bars when enabled; otherwise every call does nothing."""

    def __init__(self, files: int, total_bytes: int, enabled: bool) -> None:
        self.enabled = enabled
        self._files = files
        self._finished = 0
        self._total = total_bytes
        self._sent: dict[str, int] = {}
        self._tasks: dict[str, TaskID] = {}
        self._progress: Progress | None = None
        self._all: TaskID | None = None
        self._handlers: list[logging.Handler] | None = None

    def __enter__(self) -> Display:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.logging import RichHandler
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            TextColumn("{task.description}", style="bold"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stage]}"),
        )
        console = Console(stderr=True)
        self._progress = Progress(*columns, console=console, transient=True, redirect_stdout=False)
        self._progress.start()
        self._all = self._progress.add_task(self._all_label(), total=self._total or None, stage="")
        # Log lines (retries, warnings) go above the bars instead of through them.
        root = logging.getLogger()
        self._handlers = root.handlers[:]
        root.handlers = [RichHandler(console=console, show_time=False, show_path=False)]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._handlers is not None:
            logging.getLogger().handlers = self._handlers

    def _all_label(self) -> str:
        return f"{self._finished}/{self._files} files"

    def track(self, name: str, size: int) -> ProgressCallback | None:
        """A progress callback that draws one file's bar."""
        progress = self._progress
        if progress is None:
            return None
        task = progress.add_task(name, total=size or None, stage="waiting")
        self._tasks[name] = task
        self._sent[name] = 0

        def update(event: UploadEvent) -> None:
            stage = _STAGES[event.stage]
            if event.stage == "retrying":
                stage = f"retrying: {event.note}"
            progress.update(task, completed=event.done, total=event.total or None, stage=stage)
            if event.stage in ("sending", "verifying", "analysing"):
                self._add_sent(name, event.done)

        return update

    def _add_sent(self, name: str, done: int) -> None:
        assert self._progress is not None and self._all is not None
        delta = done - self._sent.get(name, 0)
        self._sent[name] = done
        self._progress.advance(self._all, delta)

    def finish(self, name: str, size: int, ok: bool) -> None:
        """A file is done: drop its bar and count it."""
        if self._progress is None or self._all is None:
            return
        self._finished += 1
        task = self._tasks.pop(name, None)
        if task is not None:
            self._progress.remove_task(task)
        if ok:
            self._add_sent(name, size)
        self._progress.update(self._all, description=self._all_label())
