"""A daemon thread that renews something (a lease, upload slots) until told to stop.

Why a thread: a run renews what it holds between batches too rarely to trust, since one upload
can block for a minute (CleverTap's timeout) while the rest of the run waits on it. A renewal
that must not depend on the run's progress needs its own thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Heartbeat"]

log = logging.getLogger("syncline.store.heartbeat")


class Heartbeat:
    """Calls ``beat`` every ``every_s`` seconds in a daemon thread until ``stop``."""

    def __init__(self, every_s: float, beat: Callable[[], object], name: str) -> None:
        self._every_s, self._beat = every_s, beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for a beat under way (never from the beating thread itself)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._beat()
            except Exception:  # a bug in one beat must not end the renewals that follow
                log.exception("%s: renewal failed", self._thread.name)
