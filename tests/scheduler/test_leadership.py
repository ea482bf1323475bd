"""Several schedulers sharing one state store: only the leader fires, another takes over when
it stops renewing and resumes where it left off, and no due run ever fires twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncline.scheduler import ManualClock, Scheduler, parse_schedule
from syncline.scheduler.leadership import StoreLeadership
from syncline.store import Coordination, StateStore

from .test_scheduler import Recorder as _Recorder

START = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


class Recorder(_Recorder):
    """A shared scheduler also passes the due instant it fires for."""

    def trigger(self, name: str, due: datetime | None = None) -> bool:
        assert due is not None
        return super().trigger(name)


def _scheduler(store: StateStore, clock: ManualClock, holder: str,
               ttl_s: float = 60) -> tuple[Recorder, Scheduler]:
    rec = Recorder(clock)
    leader = StoreLeadership(Coordination(store.engine), holder, ttl_s=ttl_s)
    scheduler = Scheduler(rec.trigger, rec.record_skipped, clock, leader)
    scheduler.add("users", parse_schedule("every 1m"))
    return rec, scheduler


def test_only_the_leader_fires(store: StateStore) -> None:
    clock = ManualClock(START)
    rec_a, a = _scheduler(store, clock, "host:1")
    rec_b, b = _scheduler(store, clock, "host:2")
    for _ in range(3):
        a.tick()
        b.tick()
        clock.advance(timedelta(minutes=1))
    assert [due for _, due in rec_a.started] == [START + timedelta(minutes=i) for i in range(3)]
    assert rec_b.started == []


def test_a_follower_takes_over_where_the_dead_leader_stopped(store: StateStore) -> None:
    clock = ManualClock(START)
    # the lease is real time: 2 s outlasts the ticks below on a loaded machine (0.2 s did not)
    rec_a, a = _scheduler(store, clock, "host:1", ttl_s=2.0)
    rec_b, b = _scheduler(store, clock, "host:2", ttl_s=2.0)
    a.tick()  # leads, fires 12:00
    b.tick()  # follows
    clock.advance(timedelta(minutes=1))
    a.tick()  # fires 12:01, then "dies": it never ticks (renews) again
    time.sleep(2.2)  # its lease expires
    clock.advance(timedelta(seconds=30))
    assert b.tick() == START + timedelta(minutes=2)  # took over; next due from the last fire
    clock.advance(timedelta(seconds=30))
    b.tick()
    fired = [due for _, due in rec_a.started + rec_b.started]
    assert fired == [START, START + timedelta(minutes=1), START + timedelta(minutes=2)]
    assert [due for _, due in rec_b.started] == [START + timedelta(minutes=2)]


class _AlwaysLeads(StoreLeadership):
    """A leader whose lease check is wrong (a process frozen past its lease, waking up)."""

    def leads(self) -> bool:
        return True


def test_two_schedulers_both_believing_they_lead_fire_each_due_run_once(
    store: StateStore,
) -> None:
    clock = ManualClock(START)
    recs = []
    for holder in ("host:1", "host:2"):
        rec = Recorder(clock)
        leader = _AlwaysLeads(Coordination(store.engine), holder)
        scheduler = Scheduler(rec.trigger, rec.record_skipped, clock, leader)
        scheduler.add("users", parse_schedule("every 1m"),
                      last_run_at=START - timedelta(minutes=1))
        recs.append((rec, scheduler))
    for _ in range(5):
        for _, scheduler in recs:
            scheduler.tick()
        clock.advance(timedelta(minutes=1))
    fired = sorted(clock_at for rec, _ in recs for _, clock_at in rec.started)
    assert fired == [START + timedelta(minutes=i) for i in range(5)]
    coordination = Coordination(store.engine)
    assert len(coordination.fires("users")) == 5


def test_missed_interval_instants_stay_on_the_shared_grid(store: StateStore) -> None:
    """After a gap, the next due instant is stepped from the last one, not from "now", so
    every scheduler agrees on it (the key of the fired-run row)."""
    clock = ManualClock(START)
    _, a = _scheduler(store, clock, "host:1")
    a.tick()
    clock.advance(timedelta(minutes=3, seconds=17))
    assert a.tick() == START + timedelta(minutes=4)
