"""Produce the next items of an iterator on a thread of their own, a bounded number ahead.

The runner reads, builds, screens and encodes the plan's next chunk here while its own thread
keeps the upload slots full: built on that thread, the chunk kept every slot that freed during
the build idle until the build ended (bench/PROFILING.md, "Round two: W5, the next chunk read
ahead"). DuckDB's reader and Arrow's kernels release the GIL; the Python parts of a build give
it up at every switch interval, so a freed slot waits milliseconds rather than a build.

The items are handed over in order, and the producer touches nothing the consumer owns: what it
finds goes into the items, and the consumer applies it. An error in the producer is raised in
the consumer, as the same exception, when the consumer reaches the item it stopped at. Closing
(``with`` ends, however it ends) stops the producer before its next item and waits for it: no
thread outlives the ``with``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ["ReadAhead"]

T = TypeVar("T")


class _End:
    """The producer's iterator ended."""


class _Failed:
    """The producer's iterator raised ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """``source()``'s items, produced on a thread at most ``ahead`` items ahead of the reader.

    ``ahead`` counts the items produced (or being produced) and not yet taken: memory holds
    the consumer's item and at most ``ahead`` more. ``source`` is called on the producer's
    thread, so whatever it opens (a DuckDB cursor's reader, a server-side cursor) is used
    from that thread only, and closed there.
    """

    def __init__(self, source: Callable[[], Iterator[T]], *, ahead: int = 1,
                 name: str = "syncline-read-ahead") -> None:
        if ahead < 1:
            raise ValueError("ahead must be at least 1")
        self._source = source
        self._items: queue.SimpleQueue[tuple[T] | _End | _Failed] = queue.SimpleQueue()
        self._room = threading.Semaphore(ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._started = False

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        self._started = True
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        """The items in order; the producer's error, raised here, ends them."""
        if not self._started:
            raise RuntimeError("ReadAhead used outside its `with`")
        while True:
            got = self._items.get()
            if isinstance(got, _End):
                return
            if isinstance(got, _Failed):
                raise got.error
            self._room.release()  # taken: the producer may start on the next one
            yield got[0]

    def close(self) -> None:
        """Stop the producer before its next item and wait for it to end."""
        self._stop.set()
        self._room.release()  # a producer waiting for room wakes, and sees the stop
        if self._started:
            self._thread.join()

    def _produce(self) -> None:
        try:
            items = self._source()
            try:
                while True:
                    self._room.acquire()
                    if self._stop.is_set():
                        return
                    try:
                        item = next(items)
                    except StopIteration:
                        self._items.put(_End())
                        return
                    self._items.put((item,))
            finally:
                close = getattr(items, "close", None)
                if close is not None:  # a generator's `finally` runs here, on this thread
                    close()
        except BaseException as exc:  # handed to the consumer, raised there
            self._items.put(_Failed(exc))
