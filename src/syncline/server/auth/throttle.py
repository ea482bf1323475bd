"""Slow down password guessing: a user name with too many failed sign-ins waits a while.

Kept in memory, per server process: enough against a script hammering the sign-in form of one
server; a fleet of servers behind a load balancer would want it in the state store.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SignInThrottle"]


class SignInThrottle:
    """Counts failed sign-ins per user name within a sliding window."""

    _MAX_NAMES = 10_000

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, username: str) -> float:
        """Seconds before ``username`` may try again (0: now)."""
        with self._lock:
            recent = self._recent(username.lower())
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, recent[0] + self.window_s - self._clock())

    def failed(self, username: str) -> None:
        """Note a failed sign-in."""
        with self._lock:
            key = username.lower()
            entries = self._recent(key)
            entries.append(self._clock())
            self._failures[key] = entries
            if len(self._failures) > self._MAX_NAMES:
                # random user names must not grow memory without bound
                for name in list(self._failures):
                    self._recent(name)

    def succeeded(self, username: str) -> None:
        """Forget the failures of a user who signed in."""
        with self._lock:
            self._failures.pop(username.lower(), None)

    def _recent(self, key: str) -> deque[float]:
        """The failures of ``key`` still inside the window (expired ones are dropped)."""
        entries = self._failures.get(key, deque())
        horizon = self._clock() - self.window_s
        while entries and entries[0] <= horizon:
            entries.popleft()
        if not entries:
            self._failures.pop(key, None)
        return entries
