"""Progress of a run: a Rich bar on a terminal, plain log lines otherwise (CI, cron, pipes)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from syncline.engine.summary import RunSummary

__all__ = ["LogProgress", "RichProgress", "progress_for"]


class RichProgress:
    """A live bar of records sent (accepted, rejected) out of those planned."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None

    def start(self, sync: str, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(sync, total=max(total, 1), detail="")

    def advance(self, summary: RunSummary, done: int) -> None:
        if self._task is not None:
            detail = f"accepted {summary.accepted:,} · rejected {summary.rejected:,}"
            self._progress.update(self._task, completed=done, detail=detail)

    def finish(self, summary: RunSummary) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[0].total)
        self._progress.stop()


class LogProgress:
    """One line every few seconds; nothing fancy for logs that are read later."""

    def __init__(self, every_s: float = 5.0) -> None:
        self._every_s = every_s
        self._last = 0.0
        self._total = 0
        self._sync = ""

    def start(self, sync: str, total: int) -> None:
        self._sync, self._total, self._last = sync, total, time.monotonic()
        print(f"{sync}: {total:,} records to send", file=sys.stderr, flush=True)

    def advance(self, summary: RunSummary, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= self._every_s:
            self._last = now
            print(
                f"{self._sync}: {done:,}/{self._total:,} sent · accepted {summary.accepted:,}"
                f" · rejected {summary.rejected:,}",
                file=sys.stderr,
                flush=True,
            )

    def finish(self, summary: RunSummary) -> None:
        return None


def progress_for(console: Console, quiet: bool) -> RichProgress | LogProgress | None:
    """The right display for where the output goes."""
    if quiet:
        return None
    return RichProgress(console) if console.is_terminal else LogProgress()
