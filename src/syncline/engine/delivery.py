"""Deliver batches to a destination: bounded concurrency, retries with backoff, one place.

The runner hands over encoded batches in order; up to ``in_flight`` of them are sent at once from a
small thread pool (CleverTap allows 15 concurrent uploads per account and answers 429 beyond). A
batch whose request fails with a ``Transient`` error is retried with exponential backoff and full
jitter; a ``Terminal`` error (bad credentials, a malformed request) stops the run, because every
later batch would fail the same way. Record-level rejections are never retried: they come back as
data in the ``BatchOutcome``.

Events need one more distinction. When an upload times out or its connection drops after the body
was sent, CleverTap may or may not have stored the events; sending them again could raise them
twice. Such a failure is *ambiguous*: for a batch that must not be duplicated (``retry_ambiguous``
false) the batch is not retried but reported as in doubt, and the sync's in-doubt policy decides.

Two things outside the run can narrow what it may send. A ``budget`` (the account's upload slots
in the state store, shared with every other run to that account) caps the uploads in flight
below ``in_flight`` while other runs hold slots; a ``halt`` (the run lost its lease) stops all
sending: no batch starts and no retry is made once it is true, and the batches not sent come
back with ``attempts == 0``.

Batches can also be *queued* ahead (``queue``): each is started by the delivering thread whose
answer freed a slot, at once, rather than when the run's thread next gets round to it (it may
be building the next chunk, or committing). See bench/PROFILING.md, round two: W5, a freed slot
starts the next upload itself.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from syncline.destinations.base import BatchOutcome, DestinationClient, Record
from syncline.errors import (
    DestinationError,
    DestinationRateLimitError,
    DestinationUnreachableError,
    Terminal,
    Transient,
)

__all__ = ["Batch", "BatchResult", "Budget", "Delivery", "RetryPolicy", "is_ambiguous",
           "uploads_in_flight"]

_CANCEL_POLL_S = 0.1


class Budget(Protocol):
    """Upload slots shared with other runs (``syncline.store.UploadSlots``)."""

    @property
    def held(self) -> int: ...

    def acquire(self, want: int, *, stop: Callable[[], bool] = ...) -> int: ...


_uploads = 0
_uploads_lock = threading.Lock()


def uploads_in_flight() -> int:
    """Requests this process has open to destinations right now, over every run (for metrics)."""
    return _uploads


def _count_upload(delta: int) -> None:
    global _uploads
    with _uploads_lock:
        _uploads += delta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for transient failures; attributes so a test or a user can tune them."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff (AWS architecture blog): spreads retries apart."""
        return rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


@dataclass(slots=True)
class Batch:
    """One request's worth of records, with the sync keys and row hashes they came from."""

    keys: list[str]
    hashes: list[object]
    records: list[Record]
    body: bytes = b""


@dataclass(slots=True)
class BatchResult:
    """What became of one batch: an outcome per record, or the error that ended it."""

    batch: Batch
    outcome: BatchOutcome | None = None
    error: DestinationError | None = None
    in_doubt: bool = False
    """The request may have been processed although it failed (events only, not retried)."""
    attempts: int = 0
    retried_after: list[str] = field(default_factory=list)
    throttled: int = 0
    """How many of the attempts the destination answered 429 (too many concurrent uploads)."""


def is_ambiguous(error: DestinationError) -> bool:
    """Whether the destination may have processed a request that failed with ``error``.

    A 429, a 503 and a connection that never opened mean nothing was processed; a timeout
    while reading the answer, a dropped connection or a 500 leave it unknown.
    """
    if isinstance(error, DestinationRateLimitError | DestinationUnreachableError):
        return False
    if error.status == 503:
        return False
    cause = error.__cause__
    if cause is None or not any(c.__module__.startswith("httpx") for c in type(cause).__mro__):
        return True
    # imported here, not at start-up (a run with nothing to send never needs httpx); it is
    # loaded already, as ``cause`` is one of its errors
    import httpx

    return not isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class Delivery:
    """Sends batches with at most ``in_flight`` requests at once.

    Use from one thread: ``submit`` blocks while ``in_flight`` batches are pending and yields the
    results that completed meanwhile, so the caller commits them as it goes; ``drain`` yields the
    rest. Results come back in completion order. With a ``cancel`` event, waits notice it within
    a tenth of a second: no slot is waited for once it is set, and ``drain`` gives the uploads
    in flight ``grace_s`` to answer before ``abandon`` hands the rest back.
    """

    def __init__(
        self,
        client: DestinationClient,
        *,
        in_flight: int,
        retry: RetryPolicy | None = None,
        retry_ambiguous: bool = True,
        dry_run: bool = False,
        sleep: Callable[[float], object] | None = None,
        seed: int | None = None,
        cancel: threading.Event | None = None,
        budget: Budget | None = None,
        halt: Callable[[], bool] = lambda: False,
    ) -> None:
        limit = client.capabilities.max_in_flight
        self._in_flight = max(1, min(in_flight, limit))
        self._client = client
        self._retry = retry or RetryPolicy()
        self._retry_ambiguous = retry_ambiguous
        self._dry_run = dry_run
        self._cancel = cancel
        self._stopped = threading.Event()
        # a backoff wait ends early on `stop`: a stopping run does not sit out a 20 s backoff
        self._sleep = sleep or self._stopped.wait
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self._in_flight, thread_name_prefix="syncline-deliver")
        self._pending: set[Future[BatchResult]] = set()
        self._sending: dict[Future[BatchResult], Batch] = {}
        self._queued: deque[Batch] = deque()
        # `_pending`, `_sending` and `_queued` change on the delivering threads too (a freed
        # slot starts the next queued batch there)
        self._lock = threading.Lock()
        self._abandoned = False
        self._budget = budget
        self._halt = halt

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def submit(self, batch: Batch) -> Iterator[BatchResult]:
        """Queue ``batch``; yield results of batches that finished while waiting for a slot.

        The batch is sent as soon as a slot frees, before the caller handles the results that
        freed it (commits can take milliseconds): a slot never waits for bookkeeping.
        """
        finished = self.wait_for_slot()
        self.send(batch)
        yield from finished
        yield from self.collect_done()

    def wait_for_slot(self) -> list[BatchResult]:
        """Block until a batch can be sent (or ``cancel`` is set); the results that freed it.

        Split from ``send`` so a run stopped meanwhile can decide not to send its next batch.
        """
        finished: list[BatchResult] = []
        while (not self._halt() and not self._cancelled()
               and len(self._pending) >= self._limit()):
            if self._pending:
                finished.extend(self._wait(FIRST_COMPLETED))
            elif self._budget is not None:  # no slot left: wait for another run to free one
                self._budget.acquire(self._in_flight,
                                     stop=lambda: self._halt() or self._cancelled())
        return finished

    def free_slots(self) -> int:
        """How many batches ``send`` may start now without going over the limit.

        Counts the batches not yet collected as pending (an answer frees its slot once
        ``wait_for_slot``, ``collect_done`` or ``drain`` has handed it back): a caller that
        marks this many batches in flight before sending them never marks more than it sends.
        """
        with self._lock:
            return max(0, self._limit() - len(self._pending))

    def _limit(self) -> int:
        """Uploads this run may have in flight now: ``in_flight``, or fewer slots if shared."""
        if self._budget is None:
            return self._in_flight
        return min(self._in_flight, self._budget.held)

    def send(self, batch: Batch) -> None:
        """Start sending ``batch`` now (a slot is free: ``wait_for_slot``, ``free_slots``).

        Its answer starts no queued batch: a run sends (events, ``submit``) or queues
        (profiles), and only a queued upload's done-callback (``_start_queued``) is needed to
        refill a slot from the delivering thread. Were the two mixed, queued batches would
        still start, from ``wait_any`` and ``drain`` (a test holds this).
        """
        with self._lock:
            self._start(batch)

    def queue(self, batches: Iterable[Batch]) -> None:
        """Hold ``batches`` (in order) to be sent as soon as slots free, starting what fits now.

        A queued batch is started by the delivering thread whose answer freed its slot, so the
        slot does not wait for the caller (building the next chunk, committing). No queued
        batch starts once ``halt``, ``cancel`` or ``stop`` is set; ``unsent`` hands them back.
        Not for batches that must be marked in flight before they are sent (events): the
        caller cannot tell when a queued batch goes.
        """
        with self._lock:
            self._queued.extend(batches)
        self._start_idle()

    @property
    def queued(self) -> int:
        """Batches queued and not started yet."""
        return len(self._queued)

    def wait_any(self) -> list[BatchResult]:
        """Block until an upload answers (or ``cancel`` is noticed); the results collected.

        With nothing in flight it starts queued batches first (waiting for a shared slot if
        the budget holds none), and returns at once if none can start.
        """
        self._start_idle()
        return list(self._wait(FIRST_COMPLETED))

    def _start_idle(self) -> None:
        """Start queued batches; with nothing in flight and no shared slot held (a run's first
        upload, or other runs took them all), wait for one first, as ``wait_for_slot`` does."""
        with self._lock:
            idle = not self._pending
        budget = self._budget
        if idle and budget is not None and budget.held == 0 and self._queued \
                and not self._halted():
            budget.acquire(self._in_flight, stop=self._halted)
        self._start_queued()

    def unsent(self) -> list[Batch]:
        """Take back the queued batches that were never started (the run stopped)."""
        with self._lock:
            batches = list(self._queued)
            self._queued.clear()
        return batches

    def _halted(self) -> bool:
        """Whether no new upload may start: halted, cancelled or stopped."""
        return self._halt() or self._cancelled() or self._stopped.is_set()

    def _start(self, batch: Batch) -> Future[BatchResult]:
        """Submit ``batch`` to the pool and count it pending; the caller holds ``_lock``."""
        future = self._pool.submit(self._send, batch)
        self._pending.add(future)
        self._sending[future] = batch
        return future

    def _start_queued(self, _done: Future[BatchResult] | None = None) -> None:
        """Start queued batches while uploads in flight are under the limit.

        Also the done-callback of every queued upload: it runs on the delivering thread as soon
        as the answer is in, so the freed slot is used without waiting for the run's thread.
        In flight here means not answered yet (an answer not collected holds no slot).
        """
        started: list[Future[BatchResult]] = []
        with self._lock:
            while self._queued and not self._halted():
                running = sum(1 for f in self._pending if not f.done())
                if running >= self._limit():
                    break
                started.append(self._start(self._queued[0]))
                self._queued.popleft()  # after: a pool shut down meanwhile leaves it queued
        for future in started:  # outside the lock: a future done already calls back at once
            future.add_done_callback(self._start_queued)

    def collect_done(self) -> Iterator[BatchResult]:
        """The results of batches that finished, without waiting."""
        yield from self._collect_done()

    def drain(self, grace_s: float | None = None) -> Iterator[BatchResult]:
        """Wait for every pending batch and yield its result.

        Once ``cancel`` is set (before or while draining), retries stop and the wait is bounded
        by ``grace_s``; batches still unanswered then are left to ``abandon``.
        """
        deadline: float | None = None
        while self._pending or (self._queued and not self._halted()):
            if deadline is None and grace_s is not None and self._cancelled():
                self.stop()
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() >= deadline:
                return
            yield from self.wait_any()

    def abandon(self) -> list[Batch]:
        """Give up on the batches still unanswered and return them (their fate is unknown).

        The pool then stops without waiting for their requests: the caller accounts for them
        (events in doubt, profiles failed) and may exit while they are still on the wire.
        """
        self.stop()
        with self._lock:
            batches = [self._sending.pop(f) for f in list(self._pending) if f in self._sending]
            self._pending.clear()
        if batches:
            self._abandoned = True
        return batches

    def stop(self) -> None:
        """Stop retrying: pending batches end with their last error (used on a terminal error)."""
        self._stopped.set()

    def close(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=not self._abandoned, cancel_futures=True)

    def _cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def _wait(self, how: str) -> Iterator[BatchResult]:
        # with a cancel event, wake up now and then to notice it (a signal sets it)
        timeout = None if self._cancel is None else _CANCEL_POLL_S
        with self._lock:
            pending = set(self._pending)
        done, _ = wait(pending, timeout=timeout, return_when=how)
        yield from self._take(done)

    def _collect_done(self) -> Iterator[BatchResult]:
        with self._lock:
            done = [f for f in self._pending if f.done()]
        yield from self._take(done)

    def _take(self, done: Iterable[Future[BatchResult]]) -> list[BatchResult]:
        """Collect answered uploads: they leave ``_pending`` (and free its slot there)."""
        with self._lock:
            for future in done:
                self._pending.discard(future)
                self._sending.pop(future, None)
        return [future.result() for future in done]

    def _send(self, batch: Batch) -> BatchResult:
        result = BatchResult(batch)
        while not self._halt():
            result.attempts += 1
            try:
                result.outcome = self._upload(batch)
                return result
            except DestinationError as exc:
                result.error = exc
                if isinstance(exc, DestinationRateLimitError):
                    result.throttled += 1
                if isinstance(exc, Terminal) or not isinstance(exc, Transient):
                    return result
                if not self._retry_ambiguous and is_ambiguous(exc):
                    result.in_doubt = True
                    return result
                if result.attempts >= self._retry.max_attempts or self._stopped.is_set():
                    return result
                result.retried_after.append(str(exc))
                self._sleep(self._backoff(result.attempts))
                if self._stopped.is_set():
                    return result
        return result

    def _upload(self, batch: Batch) -> BatchOutcome:
        """One request, counted in ``uploads_in_flight`` while it is open."""
        _count_upload(1)
        try:
            return self._client.deliver(batch.body, len(batch.records), dry_run=self._dry_run)
        finally:
            _count_upload(-1)

    def _backoff(self, attempt: int) -> float:
        with self._rng_lock:
            return self._retry.delay(attempt, self._rng)

