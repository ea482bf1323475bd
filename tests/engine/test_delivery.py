"""Delivery when a run is cancelled: no slot is waited for, the uploads in flight get a bounded
time to answer, and the unanswered ones are handed back (real HTTP, against the sandbox)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from syncline.config.models import CleverTapDestinationConfig
from syncline.destinations.clevertap.client import CleverTapClient
from syncline.engine.delivery import Batch, Delivery
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

ACCOUNT, PASSCODE = "DELIVERY-ACC", "pass"


@pytest.fixture
def client() -> Iterator[tuple[CleverTapClient, SandboxServer]]:
    with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as server:
        config = CleverTapDestinationConfig(
            type="clevertap", account_id=ACCOUNT, passcode=SecretStr(PASSCODE),
            endpoint=server.url,
        )
        client = CleverTapClient(config)
        try:
            yield client, server
        finally:
            client.close()


def _batch(client: CleverTapClient, first: int) -> Batch:
    records: list[dict[str, object]] = [
        {"type": "event", "identity": str(i), "evtName": "Seen", "evtData": {"n": i}}
        for i in range(first, first + 3)]
    return Batch([str(i) for i in range(first, first + 3)], [None] * 3, records,
                 client.encode(records))


def test_a_cancelled_drain_hands_back_what_did_not_answer(
    client: tuple[CleverTapClient, SandboxServer],
) -> None:
    ct, server = client
    server.set_faults(ACCOUNT, latency_ms=3000)
    cancel = threading.Event()
    delivery = Delivery(ct, in_flight=2, cancel=cancel)
    first, second = _batch(ct, 1), _batch(ct, 10)
    delivery.send(first)
    delivery.send(second)
    cancel.set()
    assert delivery.wait_for_slot() == []  # cancelled: no waiting for a slot to free
    assert list(delivery.drain(grace_s=0.05)) == []  # nothing answered within the grace time
    abandoned = delivery.abandon()
    delivery.close()  # does not wait for the abandoned requests
    assert sorted(b.keys[0] for b in abandoned) == ["1", "10"]
    assert delivery.abandon() == []


def test_without_cancel_drain_waits_for_every_answer(
    client: tuple[CleverTapClient, SandboxServer],
) -> None:
    ct, server = client
    server.set_faults(ACCOUNT, latency_ms=200)
    delivery = Delivery(ct, in_flight=2, cancel=threading.Event())
    delivery.send(_batch(ct, 1))
    delivery.send(_batch(ct, 10))
    results = list(delivery.drain(grace_s=0.05))  # the grace applies only once cancelled
    delivery.close()
    assert sorted(r.outcome.accepted_count for r in results if r.outcome) == [3, 3]
    assert delivery.abandon() == []


def test_free_slots_counts_the_uploads_not_handed_back(
    client: tuple[CleverTapClient, SandboxServer],
) -> None:
    """What the runner marks in flight in one write: never more batches than this."""
    ct, server = client
    server.set_faults(ACCOUNT, latency_ms=200)
    delivery = Delivery(ct, in_flight=3, cancel=threading.Event())
    assert delivery.free_slots() == 3
    delivery.send(_batch(ct, 1))
    delivery.send(_batch(ct, 10))
    assert delivery.free_slots() == 1
    delivery.send(_batch(ct, 20))
    assert delivery.free_slots() == 0
    finished = delivery.wait_for_slot()  # the first answer frees a slot
    assert finished and delivery.free_slots() == len(finished)
    results = finished + list(delivery.drain())
    delivery.close()
    assert len(results) == 3 and delivery.free_slots() == 3
