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
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
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
        return max(0, self._limit() - len(self._pending))

    def _limit(self) -> int:
        """Uploads this run may have in flight now: ``in_flight``, or fewer slots if shared."""
        if self._budget is None:
            return self._in_flight
        return min(self._in_flight, self._budget.held)

    def send(self, batch: Batch) -> None:
        """Queue ``batch`` for sending now."""
        future = self._pool.submit(self._send, batch)
        self._pending.add(future)
        self._sending[future] = batch

    def collect_done(self) -> Iterator[BatchResult]:
        """The results of batches that finished, without waiting."""
        yield from self._collect_done()

    def drain(self, grace_s: float | None = None) -> Iterator[BatchResult]:
        """Wait for every pending batch and yield its result.

        Once ``cancel`` is set (before or while draining), retries stop and the wait is bounded
        by ``grace_s``; batches still unanswered then are left to ``abandon``.
        """
        deadline: float | None = None
        while self._pending:
            if deadline is None and grace_s is not None and self._cancelled():
                self.stop()
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() >= deadline:
                return
            yield from self._wait(FIRST_COMPLETED)

    def abandon(self) -> list[Batch]:
        """Give up on the batches still unanswered and return them (their fate is unknown).

        The pool then stops without waiting for their requests: the caller accounts for them
        (events in doubt, profiles failed) and may exit while they are still on the wire.
        """
        self.stop()
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
        done, _ = wait(self._pending, timeout=timeout, return_when=how)
        for future in done:
            self._pending.discard(future)
            self._sending.pop(future, None)
            yield future.result()

    def _collect_done(self) -> Iterator[BatchResult]:
        for future in [f for f in self._pending if f.done()]:
            self._pending.discard(future)
            self._sending.pop(future, None)
            yield future.result()

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

