"""The runner reads, builds and screens the plan's next chunk on a thread of its own.

An error on that thread fails the run as the same exception, a cancel stops it within a chunk
or two, and in every case the thread has ended when the run returns (or raises). The chunks
(validation.READ_ROWS) are made small here so a run has many.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from syncline.config.load import load_project
from syncline.engine import runner, validation
from syncline.engine.builder import BuiltBatch, RecordBuilder
from syncline.engine.runner import Runner
from syncline.errors import SourceError
from syncline.store import StateStore
from tests.cli.test_event_sync import EventProject

ORDERS, BATCH, CHUNK = 600, 25, 50


class Boom(Exception):
    pass


@pytest.fixture
def orders(tmp_path: Path, sandbox_account: dict[str, Any],
           monkeypatch: pytest.MonkeyPatch) -> EventProject:
    project = EventProject.create(tmp_path, sandbox_account, users=10)
    project.create_orders(ORDERS)
    project.configure_events(batch_size=BATCH)
    monkeypatch.setattr(validation, "READ_ROWS", CHUNK)  # 12 chunks of 2 batches
    return project


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.close()


def _builds(monkeypatch: pytest.MonkeyPatch, then: Any = None) -> list[str]:
    """Record the thread each chunk is built on; ``then(n)`` after the n-th build."""
    threads: list[str] = []
    build = RecordBuilder.build

    def recorded(self: RecordBuilder, batch: pa.RecordBatch) -> BuiltBatch:
        threads.append(threading.current_thread().name)
        if then is not None:
            then(len(threads))
        return build(self, batch)

    monkeypatch.setattr(RecordBuilder, "build", recorded)
    return threads


def _read_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("syncline-read")]


def test_chunks_are_built_off_the_runs_thread_and_every_row_is_sent_once(
    orders: EventProject, store: StateStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = _builds(monkeypatch)
    summary = Runner(load_project(orders.root, env=orders.env), store).run("orders")
    assert (summary.status, summary.accepted) == ("succeeded", ORDERS)
    assert len(threads) == ORDERS // CHUNK
    assert set(threads) == {"syncline-read-orders"}
    assert not _read_threads()
    ids = [int(e["evtData"]["Order ID"]) for e in orders.events()]
    assert sorted(ids) == list(range(1, ORDERS + 1))


def test_an_error_while_reading_ahead_is_raised_by_the_run_as_itself(
    orders: EventProject, store: StateStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = Boom("the third chunk")

    def fail(n: int) -> None:
        if n == 3:
            raise error

    threads = _builds(monkeypatch, fail)
    with pytest.raises(Boom) as raised:
        Runner(load_project(orders.root, env=orders.env), store).run("orders")
    assert raised.value is error
    assert threads == ["syncline-read-orders"] * 3  # built there, and no chunk after it
    assert not _read_threads()
    [run] = store.runs("orders")
    assert run.status == "failed" and "the third chunk" in (run.error or "")
    # the two chunks before the error were sent (answered, or in doubt when the error came
    # while they were in flight), the rest counted not sent
    assert run.accepted + run.in_doubt == 2 * CHUNK and run.not_sent == ORDERS - 2 * CHUNK


def test_a_syncline_error_while_reading_ahead_fails_the_run_with_its_message(
    orders: EventProject, store: StateStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(n: int) -> None:
        if n == 2:
            raise SourceError("the warehouse went away")

    _builds(monkeypatch, fail)
    summary = Runner(load_project(orders.root, env=orders.env), store).run("orders")
    assert (summary.status, summary.error) == ("failed", "the warehouse went away")
    assert summary.accepted + summary.in_doubt == CHUNK
    assert summary.not_sent == ORDERS - CHUNK
    assert not _read_threads()


def test_a_cancel_stops_the_read_ahead_thread_within_a_chunk(
    orders: EventProject, store: StateStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cancel = threading.Event()

    def stop(n: int) -> None:
        if n == 3:
            cancel.set()

    threads = _builds(monkeypatch, stop)
    summary = Runner(load_project(orders.root, env=orders.env), store,
                     cancel=cancel).run("orders")
    assert summary.status == "cancelled"
    assert set(threads) == {"syncline-read-orders"}
    # the chunk that saw the cancel, at most READ_AHEAD ahead of the one being sent, and no
    # more: not the rest of the plan
    assert 3 <= len(threads) <= 3 + runner.READ_AHEAD
    assert not _read_threads()
    assert summary.accepted + summary.not_sent + summary.in_doubt == ORDERS
