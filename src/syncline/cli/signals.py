"""Ctrl+C and SIGTERM during ``syncline run``: stop cleanly first, at once the second time.

The first signal sets the runner's ``cancel`` event: the run takes no new batch, waits a bounded
time for the uploads in flight to answer, commits what CleverTap accepted, marks the unanswered
event batches in doubt and ends ``cancelled`` with its summary (exit code 130). A second signal
ends the process at once, as a crash would: the next run finds the run dead, closes its account
from the snapshot and applies the in-doubt policy to the keys it left in flight.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console

from syncline.errors import ConfigError

__all__ = ["EXIT_INTERRUPTED", "stop_grace_s", "stop_on_signals"]

EXIT_INTERRUPTED = 130
"""128 + SIGINT, what shells expect of a program stopped by Ctrl+C."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_GRACE_VAR = "SYNCLINE_STOP_GRACE_S"


def stop_grace_s(default: float) -> float:
    """Seconds a stopping run waits for uploads in flight: ``SYNCLINE_STOP_GRACE_S`` or default."""
    value = os.environ.get(_GRACE_VAR)
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        raise ConfigError(f"{_GRACE_VAR}={value!r} is not a number of seconds "
                          f"(e.g. {_GRACE_VAR}=30)") from None


@contextmanager
def stop_on_signals(cancel: threading.Event, console: Console, grace_s: float) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM set ``cancel``; a second one exits the process now."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; nothing to do
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            console.print("[red]stopped at once[/red]: batches in flight are in doubt; the "
                          "next run closes this run's account and applies the in-doubt policy.",
                          highlight=False)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        cancel.set()
        console.print(f"stopping: no new batch, waiting up to {grace_s:g} s for the uploads in "
                      "flight to answer (press Ctrl+C again to stop at once)", highlight=False)

    previous = {s: signal.signal(s, handle) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
