"""Syncline scaled out, as the deployment guide runs it: several ``syncline worker`` and
``syncline scheduler`` processes sharing a PostgreSQL state store and a broker.

The shape (issue #16): 3 workers, 2 schedulers, 40 syncs over 3 CleverTap (sandbox) accounts on
minute schedules for 3 minutes. One worker is SIGKILLed in the middle of a run and the leading
scheduler is SIGKILLed too. What must hold: every due instant of every sync fired exactly once
and became exactly one run; the killed run is finalised as failed by the next run of its sync
(which runs elsewhere); the other scheduler took over; and CleverTap never throttled us (the
sandbox's ``throttled`` stat, when it has one: the per-account upload budget is what keeps it
at 0).

RabbitMQ runs the same scenario in a smaller shape (2 workers, 8 syncs, 2 minutes) to show the
other broker works; ``SYNCLINE_SCALE_OUT_MINUTES`` lengthens or shortens both.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncline.errors import RunLockedError
from syncline.store import Coordination, StateStore
from syncline.store import tables as t
from syncline.store.statuses import is_success
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer
from tests.servers import need_postgres

from .brokers import Broker, broker
from .fleet import (
    ACCOUNTS,
    BIG,
    PASSCODE,
    SECRET,
    apply,
    make_warehouse,
    postgres_database,
    postgres_url,
    spawn,
    stop,
    write_project,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class Shape:
    workers: int
    syncs: int
    minutes: float


SHAPES = {"redis": Shape(workers=3, syncs=40, minutes=3),
          "rabbitmq": Shape(workers=2, syncs=8, minutes=2)}


@pytest.fixture
def database() -> Iterator[str]:
    need_postgres()
    with postgres_database("syncline_scale") as name:
        yield name


def _pid(holder: str | None) -> int | None:
    return int(holder.rpartition(":")[2]) if holder else None


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_workers_and_schedulers_run_every_due_run_once(
    kind: str, database: str, tmp_path: Path
) -> None:
    shape = SHAPES[kind]
    minutes = float(os.environ.get("SYNCLINE_SCALE_OUT_MINUTES", shape.minutes))
    state_url = postgres_url(database)
    make_warehouse(state_url, shape.syncs)
    root = tmp_path / "project"
    root.mkdir()
    accounts = [Account(a, {PASSCODE}) for a in ACCOUNTS]
    with SandboxServer(accounts) as sandbox, broker(kind) as queue:
        sandbox.set_faults(ACCOUNTS[-1], latency_ms=150)  # `big` takes 30 x 150 ms and more
        write_project(root, database, sandbox.url, shape.syncs)
        env = {**os.environ, "SYNCLINE_STATE_URL": state_url, "SYNCLINE_SECRET_KEY": SECRET,
               "CLEVERTAP_PASSCODE": PASSCODE, "SYNCLINE_BROKER_URL": queue.url,
               "SYNCLINE_QUEUE": queue.queue}
        apply(root, env)
        _scenario(root, env, tmp_path, shape, minutes, state_url, queue, sandbox)


def _scenario(root: Path, env: dict[str, str], tmp: Path, shape: Shape, minutes: float,
              state_url: str, queue: Broker, sandbox: SandboxServer) -> None:
    store = StateStore(state_url)
    coordination = Coordination(store.engine)
    workers = [spawn(["worker", "--project", str(root), "--concurrency", "2"], env,
                      tmp / f"worker{i}.log") for i in range(shape.workers)]
    schedulers = [spawn(["scheduler", "--project", str(root)], env, tmp / f"scheduler{i}.log")
                  for i in range(2)]
    processes = workers + schedulers
    killed_run: int | None = None
    killed_leader: str | None = None
    try:
        started = time.monotonic()
        end = started + minutes * 60
        # the window, then until the killed run's sync has run again (at most a minute more)
        while time.monotonic() < end or (
                killed_run is not None and not _ran_after(store, killed_run)
                and time.monotonic() < end + 75):
            for process in processes:
                assert process.poll() is None or process.returncode == -signal.SIGKILL, (
                    f"a process exited early ({process.args}); see the logs in {tmp}")
            if killed_run is None:
                killed_run = _kill_worker_mid_run(store, workers)
            if killed_leader is None and time.monotonic() - started > minutes * 30:
                killed_leader = _kill_leader(coordination, schedulers)
            time.sleep(0.2)
        stop(schedulers)
        stopped_at = datetime.now(UTC)
        _wait_for_runs(store, killed_run)
        cancelled = _run_and_cancel_from_a_server(root, store, queue)
    finally:
        stop(processes)
    _check(store, coordination, shape, stopped_at, killed_run, killed_leader, sandbox)
    assert store.run(cancelled).status == "cancelled"
    assert 0 < store.run(cancelled).accepted < 300
    store.close()


def _kill_worker_mid_run(store: StateStore, workers: list[subprocess.Popen[bytes]]) -> int | None:
    """SIGKILL the worker running ``big`` once it has sent part of it; the killed run's id."""
    with store.engine.connect() as conn:
        lease = conn.execute(sa.select(t.leases).where(t.leases.c.sync == BIG)).first()
    if lease is None or lease.run_id is None:
        return None
    run = store.run(lease.run_id)
    if run.status != "running" or run.accepted < 20:
        return None  # not yet in the middle of it
    worker = next((w for w in workers if w.pid == _pid(lease.holder)), None)
    assert worker is not None, f"`big` runs in {lease.holder}, not in one of our workers"
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    return int(lease.run_id)


def _run_and_cancel_from_a_server(root: Path, store: StateStore, queue: Broker) -> int:
    """What the API does with a broker: queue a run of `big`, get its run id from the worker
    that took it, then cancel it from here, another process than the worker running it."""
    from sqlalchemy.orm import sessionmaker

    from syncline.server.jobs import RunManager
    from syncline.server.project.secrets import SecretBox
    from syncline.workers import CeleryQueue

    # `syncline apply` kept ${CLEVERTAP_PASSCODE} as a reference: this process reads it too
    previous = os.environ.get("CLEVERTAP_PASSCODE")
    os.environ["CLEVERTAP_PASSCODE"] = PASSCODE
    server = RunManager(root, store, sessionmaker(store.engine), SecretBox(SECRET),
                        queue=CeleryQueue(queue.url, queue.queue))
    try:
        # a scheduled run of `big` may still hold its lease (its status is final a moment before
        # the lease goes, or a loaded worker only now takes a run queued before the end)
        # a full resync: an incremental run in the same minute as the last scheduled one finds
        # nothing changed (the model carries the minute) and ends at once with nothing sent
        deadline = time.monotonic() + 90
        while True:
            try:
                run_id = server.trigger(BIG, full=True)
                break
            except RunLockedError:
                assert time.monotonic() < deadline, f"`big` still leased: {store.lease_of(BIG)}"
                time.sleep(0.2)
        deadline = time.monotonic() + 90  # a worker on a loaded machine starts it late
        while store.run(run_id).accepted < 20:
            assert time.monotonic() < deadline, store.run(run_id)
            time.sleep(0.1)
        assert server.cancel(run_id)
        while store.run(run_id).status == "running":
            assert time.monotonic() < deadline + 30, store.run(run_id)
            time.sleep(0.2)
        return run_id
    finally:
        server.queue.close()  # type: ignore[union-attr]
        if previous is None:
            os.environ.pop("CLEVERTAP_PASSCODE", None)
        else:
            os.environ["CLEVERTAP_PASSCODE"] = previous


def _ran_after(store: StateStore, killed_run: int) -> bool:
    """Whether a later run of ``big`` ended (so it took over the killed run's lease)."""
    with store.engine.connect() as conn:
        return bool(conn.execute(sa.select(sa.func.count()).select_from(t.runs).where(
            t.runs.c.sync == BIG, t.runs.c.id > killed_run,
            t.runs.c.status != "running")).scalar())


def _kill_leader(coordination: Coordination,
                 schedulers: list[subprocess.Popen[bytes]]) -> str | None:
    leader = coordination.leader("scheduler")
    process = next((s for s in schedulers if s.pid == _pid(leader)), None)
    if process is None:
        return None
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return leader


def _wait_for_runs(store: StateStore, killed_run: int | None) -> None:
    """Let the runs already queued finish (the killed one stays `running` until its sync's
    next run takes its lease)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            running = conn.execute(sa.select(sa.func.count()).select_from(t.runs).where(
                t.runs.c.status == "running", t.runs.c.id != (killed_run or 0))).scalar()
        if not running:
            return
        time.sleep(0.5)


def _check(store: StateStore, coordination: Coordination, shape: Shape, stopped_at: datetime,
           killed_run: int | None, killed_leader: str | None, sandbox: SandboxServer) -> None:
    fires = coordination.fires()
    with store.engine.connect() as conn:
        runs = {r.id: r for r in conn.execute(sa.select(t.runs))}
    by_sync: dict[str, list[datetime]] = {}
    for fire in fires:
        by_sync.setdefault(fire.sync, []).append(fire.due_at)
    assert len(by_sync) == shape.syncs
    for sync, dues in by_sync.items():  # no due instant missed, none fired twice
        gaps = {b - a for a, b in itertools.pairwise(dues)}
        assert gaps <= {timedelta(minutes=1)}, (sync, dues)
        assert len(dues) >= 2, (sync, dues)
    # every fired due run became exactly one run (the duplicate deliveries were dropped)
    settled = [f for f in fires if f.due_at < stopped_at - timedelta(seconds=5)]
    assert all(f.run_id is not None for f in settled), [f for f in settled if f.run_id is None]
    ran = [f.run_id for f in fires if f.run_id is not None]
    assert len(ran) == len(set(ran))
    scheduled = {i for i, r in runs.items() if r.trigger == "schedule"}
    assert scheduled == set(ran)
    assert all(runs[i].sync == f.sync for f in fires if (i := f.run_id) is not None)
    # the worker killed mid-run: its run finalised as failed by the next run of `big`
    assert killed_run is not None, "`big` never ran long enough to be killed mid-run"
    assert runs[killed_run].status == "failed"
    assert runs[killed_run].error == "the process running it stopped"
    later = [r for i, r in runs.items() if r.sync == BIG and i > killed_run]
    assert any(is_success(r.status) for r in later)
    # the leading scheduler killed: the other fired the due runs after it
    assert killed_leader is not None
    assert {f.holder for f in fires} - {killed_leader}
    # the other runs went well, but for any other run the killed worker had going (it runs
    # two at once): those are finalised like the one we aimed at
    bad = {(r.sync, r.status, r.error) for r in runs.values()
           if not is_success(r.status) and r.trigger == "schedule"}
    assert bad <= {(r.sync, "failed", "the process running it stopped") for r in runs.values()
                   } | {(r.sync, "skipped", r.error) for r in runs.values()}, bad
    assert len([b for b in bad if b[1] == "failed"]) <= 2
    for account in ACCOUNTS:
        stats = sandbox.stats(account)
        if "throttled" in stats:  # the sandbox counts 429s once the upload budget is merged
            assert stats["throttled"] == 0, (account, stats)
