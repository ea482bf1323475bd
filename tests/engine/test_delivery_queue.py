"""Queued batches start on the delivering thread whose answer freed a slot, not when the run's
thread gets round to them (it may be building the next chunk): bench/PROFILING.md, round two:
W5, a freed slot starts the next upload itself. No queued batch starts once the run stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from syncline.destinations.base import BatchOutcome, DestinationCapabilities, Record
from syncline.engine.delivery import Batch, Delivery


class GatedClient:
    """Answers each upload only once the test opens its gate; records the order of starts."""

    capabilities = DestinationCapabilities(max_in_flight=15)
    budget_key = ""

    def __init__(self) -> None:
        self.started: list[bytes] = []
        self.gates: dict[bytes, threading.Event] = {}
        self._lock = threading.Lock()

    def gate(self, body: bytes) -> threading.Event:
        with self._lock:
            return self.gates.setdefault(body, threading.Event())

    def encode(self, records: Sequence[Record]) -> bytes:
        return str(records[0]["identity"]).encode()

    def deliver(self, body: bytes, size: int, *, dry_run: bool = False) -> BatchOutcome:
        with self._lock:
            self.started.append(body)
        assert self.gate(body).wait(10), f"gate {body!r} never opened"
        return BatchOutcome(size=size)

    def wait_started(self, n: int) -> list[bytes]:
        deadline = time.monotonic() + 10
        while len(self.started) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            return list(self.started)


def _batches(client: GatedClient, n: int) -> list[Batch]:
    out = []
    for i in range(n):
        records: list[Record] = [{"identity": str(i)}]
        out.append(Batch([str(i)], [i], records, client.encode(records)))
    return out


def test_a_freed_slot_starts_the_next_queued_batch_without_the_callers_thread() -> None:
    client = GatedClient()
    delivery = Delivery(client, in_flight=2)  # type: ignore[arg-type]
    delivery.queue(_batches(client, 4))
    assert client.wait_started(2) == [b"0", b"1"]
    assert delivery.queued == 2
    client.gate(b"0").set()  # the caller does nothing: the answering thread starts the next
    assert client.wait_started(3) == [b"0", b"1", b"2"]
    time.sleep(0.05)
    assert len(client.started) == 3  # never more than `in_flight` unanswered
    for i in range(1, 4):
        client.gate(str(i).encode()).set()
    results = list(delivery.drain())
    delivery.close()
    assert sorted(r.batch.keys[0] for r in results) == ["0", "1", "2", "3"]
    assert all(r.outcome is not None and r.attempts == 1 for r in results)
    assert delivery.unsent() == [] and delivery.abandon() == []


def test_no_queued_batch_starts_once_halted_and_unsent_hands_them_back() -> None:
    client = GatedClient()
    halted = threading.Event()
    delivery = Delivery(client, in_flight=1, halt=halted.is_set)  # type: ignore[arg-type]
    delivery.queue(_batches(client, 3))
    assert client.wait_started(1) == [b"0"]
    halted.set()
    client.gate(b"0").set()
    results = list(delivery.drain())
    assert [r.batch.keys[0] for r in results] == ["0"]
    time.sleep(0.05)
    assert client.started == [b"0"]  # the freed slot started nothing
    assert [b.keys[0] for b in delivery.unsent()] == ["1", "2"]
    assert delivery.unsent() == [] and delivery.abandon() == []
    delivery.close()


def test_a_stop_keeps_queued_batches_from_starting() -> None:
    """A terminal error stops the run (``Delivery.stop``): what is queued stays unsent."""
    client = GatedClient()
    delivery = Delivery(client, in_flight=1)  # type: ignore[arg-type]
    delivery.queue(_batches(client, 2))
    assert client.wait_started(1) == [b"0"]
    delivery.stop()
    client.gate(b"0").set()
    assert [r.batch.keys[0] for r in delivery.drain()] == ["0"]
    assert [b.keys[0] for b in delivery.unsent()] == ["1"]
    assert client.started == [b"0"]
    delivery.close()


class Slots:
    """A shared budget holding no slot until the first ``acquire`` (as ``UploadSlots``)."""

    def __init__(self) -> None:
        self.held = 0
        self.acquired = 0

    def acquire(self, want: int, *, stop: object = None) -> int:
        self.acquired += 1
        self.held = want
        return self.held


def test_the_first_queued_batch_takes_a_shared_slot_and_starts_at_once() -> None:
    """No waiting for the caller's next wait: ``queue`` itself acquires the first slots."""
    client = GatedClient()
    slots = Slots()
    delivery = Delivery(client, in_flight=2, budget=slots)  # type: ignore[arg-type]
    delivery.queue(_batches(client, 3))
    assert client.wait_started(2) == [b"0", b"1"]
    assert slots.acquired == 1
    for i in range(3):
        client.gate(str(i).encode()).set()
    assert sorted(r.batch.keys[0] for r in delivery.drain()) == ["0", "1", "2"]
    delivery.close()


def test_a_batch_sent_and_batches_queued_behind_it_all_go() -> None:
    """``send`` (events) adds no done-callback: its answer starts nothing queued. Were a run
    to mix the two, the queued batches would still start, from ``drain`` (``wait_any``)."""
    client = GatedClient()
    delivery = Delivery(client, in_flight=1)  # type: ignore[arg-type]
    sent, *queued = _batches(client, 3)
    delivery.send(sent)
    delivery.queue(queued)
    assert client.wait_started(1) == [b"0"]
    assert delivery.queued == 2  # the slot is the sent batch's
    for i in range(3):
        client.gate(str(i).encode()).set()
    assert [r.batch.keys[0] for r in delivery.drain()] == ["0", "1", "2"]
    assert delivery.unsent() == []
    delivery.close()
