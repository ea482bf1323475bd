"""The server's side of the queue without a broker process: a server ``RunManager`` with a
queue hands runs to a ``WorkerRuntime`` (another manager on the same state store, as a worker
process has), learns their run ids, refuses a second run of a running sync, and cancels a run
it does not run itself through the store's cancel flag."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncline.errors import RunLockedError
from syncline.server import jobs
from syncline.server.jobs import RunManager
from syncline.workers.worker import WorkerRuntime
from tests.server.served import ACCOUNT, SOURCE_BODY, USERS, Served, destination_body, served
from tests.server.test_runs import PROFILE_SYNC


class ThreadQueue:
    """A ``RunQueue`` that delivers each task to a worker runtime on a thread of its own."""

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime
        self.threads: list[threading.Thread] = []

    def enqueue(self, sync: str, *, full: bool, trigger: str,
                due: datetime | None = None, resend_events: bool = False) -> str:
        task_id = uuid.uuid4().hex
        thread = threading.Thread(target=self.runtime.run, args=(sync,), kwargs={
            "full": full, "trigger": trigger, "task_id": task_id, "due": due,
            "resend_events": resend_events})
        thread.start()
        self.threads.append(thread)
        return task_id


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path) as running:
        with running.api() as client:
            client.post("/api/connections", json=destination_body(running.sandbox))
            client.post("/api/connections", json=SOURCE_BODY)
            slow = {**PROFILE_SYNC, "batch_size": 1, "in_flight": 1}
            assert client.post("/api/syncs", json={"name": "slow", "config": slow}
                               ).status_code == 201
        yield running


def test_a_queued_run_reports_its_id_and_is_cancelled_from_another_process(app: Served) -> None:
    queue = ThreadQueue(WorkerRuntime(app.jobs))  # app.jobs plays the worker process
    server = RunManager(app.root, app.store, app.jobs.sessions, app.jobs.box, queue=queue)
    app.sandbox.set_faults(ACCOUNT, latency_ms=500)
    run_id = server.trigger("slow")
    assert app.store.run(run_id).sync == "slow"
    assert server.live(run_id) is None  # the server runs nothing itself
    with pytest.raises(RunLockedError):
        server.trigger("slow")
    deadline = time.monotonic() + 10
    while app.store.run(run_id).accepted < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.cancel(run_id)
    for thread in queue.threads:
        thread.join(30)
    ended = app.store.run(run_id)
    assert ended.status == "cancelled"
    assert 2 <= ended.accepted < USERS - 1
    assert not server.cancel(run_id)  # it is over


def test_a_new_leader_queues_a_due_run_its_predecessor_recorded_but_never_queued(
    app: Served,
) -> None:
    queue = ThreadQueue(WorkerRuntime(app.jobs))
    server = RunManager(app.root, app.store, app.jobs.sessions, app.jobs.box, queue=queue)
    due = datetime.now(UTC).replace(microsecond=0)
    # the old leader recorded the due run, then died before putting it on the queue
    assert server.coordination.claim_fire("slow", due, "dead-leader:1")
    assert server.coordination.claim_fire("slow", due - timedelta(hours=1), "dead-leader:1")
    leader = server.scheduler._leader
    assert leader is not None and leader.leads()  # takes over, re-queues what is unstarted
    for thread in queue.threads:
        thread.join(30)
    assert server.coordination.fires("slow")[-1].run_id is not None
    queue.enqueue("slow", full=False, trigger="schedule", due=due)  # a duplicate delivery
    for thread in queue.threads:
        thread.join(30)
    fires = {f.due_at: f for f in server.coordination.fires("slow")}
    assert fires[due].run_id is not None
    assert app.store.run(fires[due].run_id).status == "succeeded_with_rejections"  # u007
    assert fires[due - timedelta(hours=1)].run_id is None  # too old to replay
    assert [r.trigger for r in app.store.runs("slow")] == ["schedule"]  # ran once


def _stranded_server(app: Served, monkeypatch: pytest.MonkeyPatch
                     ) -> tuple[RunManager, ThreadQueue]:
    """A leading server whose stranded-run upkeep acts on its first sighting (no 30 s wait)."""
    monkeypatch.setattr(jobs, "_STRANDED_AFTER_S", 0.0)
    queue = ThreadQueue(WorkerRuntime(app.jobs))
    server = RunManager(app.root, app.store, app.jobs.sessions, app.jobs.box, queue=queue)
    return server, queue


def test_a_due_run_a_killed_worker_took_and_never_opened_is_queued_again(
    app: Served, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, queue = _stranded_server(app, monkeypatch)
    due = datetime.now(UTC).replace(microsecond=0)
    coordination = server.coordination
    assert coordination.claim_fire("slow", due, "leader:1")
    assert coordination.start_fire("slow", due, "killed-worker:1")  # then SIGKILLed
    assert server.scheduler._leader is not None and server.scheduler._leader.leads()
    for thread in queue.threads:
        thread.join(30)
    fire = coordination.fires("slow")[-1]
    assert fire.run_id is not None, "the due run never happened"
    assert fire.started_by != "killed-worker:1"
    assert [r.trigger for r in app.store.runs("slow")] == ["schedule"]  # ran once
    server._stranded_checked = 0.0
    assert server.scheduler._leader.leads()  # nothing stranded now: nothing queued again
    assert len(queue.threads) == 1


def test_a_due_run_a_killed_worker_had_opened_is_linked_to_that_run(
    app: Served, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, queue = _stranded_server(app, monkeypatch)
    coordination = server.coordination
    due = datetime.now(UTC).replace(microsecond=0)
    assert coordination.claim_fire("slow", due, "leader:1")
    assert coordination.start_fire("slow", due, "killed-worker:1")
    opened = app.store.start_run("slow", trigger="schedule")  # opened, then SIGKILLed
    assert server.scheduler._leader is not None and server.scheduler._leader.leads()
    assert coordination.fires("slow")[-1].run_id == opened
    assert queue.threads == []  # not run a second time
    # a worker still opening its run (the sync's lock held) is left alone
    later = due + timedelta(minutes=1)
    assert coordination.claim_fire("slow", later, "leader:1")
    assert coordination.start_fire("slow", later, "busy-worker:1")
    with app.store.lease("slow", holder="busy-worker:1"):
        server._stranded_checked = 0.0
        assert server.scheduler._leader.leads()
        assert coordination.fires("slow")[-1].run_id is None
        assert coordination.fires("slow")[-1].started_by == "busy-worker:1"
    assert queue.threads == []
