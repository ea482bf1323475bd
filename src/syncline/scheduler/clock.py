"""Time as the scheduler sees it, injectable so tests control it.

The scheduler only ever asks two things of time: what instant it is, and to wait until a later
one unless woken earlier (a sync was added, paused or the server is stopping). ``SystemClock``
does that for real; ``ManualClock`` lets a test move time forward by hand, deterministically.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """The scheduler's source of time."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    def wait(self, seconds: float, wake: threading.Event) -> None:
        """Block for ``seconds`` of this clock's time, or until ``wake`` is set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when a test calls ``advance`` or ``set``.

    ``wait`` returns once the clock has been moved past the deadline (or when woken), so a
    scheduler thread driven by it fires exactly at the instants the test chooses.
    """

    _POLL_S = 0.005

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._moved = threading.Condition()

    def now(self) -> datetime:
        with self._moved:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by ``delta`` and wake waiters; returns the new instant."""
        return self.set(self.now() + delta)

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant`` (forward or back, as a restarted server might see)."""
        with self._moved:
            self._now = instant.astimezone(UTC)
            self._moved.notify_all()
            return self._now

    def wait(self, seconds: float, wake: threading.Event) -> None:
        with self._moved:
            deadline = self._now + timedelta(seconds=seconds)
            while self._now < deadline and not wake.is_set():
                # polling too, because ``wake`` is an Event we cannot attach a condition to
                self._moved.wait(self._POLL_S)
        # let other threads run between rounds, like a real wait would
        time.sleep(0)
