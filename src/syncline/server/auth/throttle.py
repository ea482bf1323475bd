"""Slow down password guessing, per client address, without letting anyone lock a user out.

Two counts of failed sign-ins within a sliding window (15 minutes):

* per client address and user name (``max_failures``, 5): guessing one user's password from one
  address waits. Keyed by the address too, so someone who types a user's name wrongly on
  purpose locks out only their own address, not the user;
* per client address across names (``max_per_address``, 20): spraying a common password over
  30 user names from one address waits too.

Behind a proxy every client has the proxy's address unless uvicorn trusts its forwarded headers
(``--forwarded-allow-ips``); SECURITY.md says so. Kept in memory, per server process: a fleet
behind a load balancer would want it in the state store.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SignInThrottle"]


class SignInThrottle:
    """Counts failed sign-ins per (address, user name) and per address in a sliding window."""

    _MAX_NAMES = 10_000

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_per_address: int = 20,
    ) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, username: str, address: str = "") -> float:
        """Seconds before ``username`` may try again from ``address`` (0: now)."""
        with self._lock:
            return max(self._wait(_pair(address, username), self.max_failures),
                       self._wait(_addr(address), self.max_per_address))

    def failed(self, username: str, address: str = "") -> None:
        """Note a failed sign-in."""
        with self._lock:
            for key in (_pair(address, username), _addr(address)):
                entries = self._recent(key)
                entries.append(self._clock())
                self._failures[key] = entries
            if len(self._failures) > self._MAX_NAMES:
                # random user names must not grow memory without bound
                for name in list(self._failures):
                    self._recent(name)

    def succeeded(self, username: str, address: str = "") -> None:
        """Forget the failures of a user who signed in from ``address`` (not the address's
        own count: one account of the attacker's must not reset their spraying)."""
        with self._lock:
            self._failures.pop(_pair(address, username), None)

    def _wait(self, key: str, limit: int) -> float:
        recent = self._recent(key)
        if len(recent) < limit:
            return 0.0
        return max(0.0, recent[-limit] + self.window_s - self._clock())

    def _recent(self, key: str) -> deque[float]:
        """The failures of ``key`` still inside the window (expired ones are dropped)."""
        entries = self._failures.get(key, deque())
        horizon = self._clock() - self.window_s
        while entries and entries[0] <= horizon:
            entries.popleft()
        if not entries:
            self._failures.pop(key, None)
        return entries


def _pair(address: str, username: str) -> str:
    return f"{address}\0{username.lower()}"


def _addr(address: str) -> str:
    return f"{address}\0"
