"""The scheduler driven by a ManualClock: fires, skips while running, no burst, pause."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from syncline.errors import ConfigError
from syncline.scheduler import ManualClock, Scheduler, parse_schedule

START = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


class Recorder:
    """The server's side of the contract: starts runs (or says one is running), logs skips."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.started: list[tuple[str, datetime]] = []
        self.skipped: list[tuple[str, datetime]] = []
        self.running: set[str] = set()
        self.fired = threading.Event()

    def trigger(self, name: str) -> bool:
        self.fired.set()
        if name in self.running:
            return False
        self.started.append((name, self.clock.now()))
        return True

    def record_skipped(self, name: str, due_at: datetime) -> None:
        self.skipped.append((name, due_at))


def make(start: datetime = START) -> tuple[ManualClock, Recorder, Scheduler]:
    clock = ManualClock(start)
    rec = Recorder(clock)
    return clock, rec, Scheduler(rec.trigger, rec.record_skipped, clock)


def test_interval_fires_at_once_then_every_interval() -> None:
    clock, rec, scheduler = make()
    scheduler.add("users", parse_schedule("every 15m"))
    assert scheduler.tick() == START + timedelta(minutes=15)
    clock.advance(timedelta(minutes=14, seconds=59))
    scheduler.tick()
    clock.advance(timedelta(seconds=1))
    scheduler.tick()
    assert rec.started == [("users", START), ("users", START + timedelta(minutes=15))]


def test_cron_in_a_time_zone_fires_at_the_utc_instant_across_dst() -> None:
    clock, rec, scheduler = make()
    scheduler.add("daily", parse_schedule("0 9 * * *", timezone="Europe/Paris"))
    assert scheduler.tick() == datetime(2026, 3, 28, 8, tzinfo=UTC)  # 09:00 CET
    assert rec.started == []
    clock.set(datetime(2026, 3, 28, 8, tzinfo=UTC))
    assert scheduler.tick() == datetime(2026, 3, 29, 7, tzinfo=UTC)  # 09:00 CEST
    clock.set(datetime(2026, 3, 29, 7, tzinfo=UTC))
    scheduler.tick()
    assert [at for _, at in rec.started] == [
        datetime(2026, 3, 28, 8, tzinfo=UTC),
        datetime(2026, 3, 29, 7, tzinfo=UTC),
    ]


def test_a_run_due_while_the_last_still_runs_is_skipped_and_recorded() -> None:
    clock, rec, scheduler = make()
    scheduler.add("users", parse_schedule("every 1m"))
    scheduler.tick()
    rec.running.add("users")
    clock.advance(timedelta(minutes=1))
    scheduler.tick()
    assert rec.skipped == [("users", START + timedelta(minutes=1))]
    rec.running.clear()
    clock.advance(timedelta(minutes=1))
    scheduler.tick()
    assert rec.started == [("users", START), ("users", START + timedelta(minutes=2))]
    assert len(rec.skipped) == 1  # the skipped run was not queued and replayed


def test_restart_after_downtime_catches_up_once_not_in_a_burst() -> None:
    last_run = START - timedelta(hours=5)
    clock, rec, scheduler = make()
    scheduler.add("users", parse_schedule("every 15m"), last_run_at=last_run)
    scheduler.add("hourly", parse_schedule("0 * * * *"), last_run_at=last_run)
    scheduler.tick()
    scheduler.tick()
    assert sorted(rec.started) == [("hourly", START), ("users", START)]
    clock.advance(timedelta(minutes=15))
    scheduler.tick()
    assert rec.started[-1] == ("users", START + timedelta(minutes=15))
    assert len(rec.started) == 3


def test_restart_within_the_interval_waits_for_the_next_due_instant() -> None:
    _clock, rec, scheduler = make()
    entry = scheduler.add(
        "users", parse_schedule("every 15m"), last_run_at=START - timedelta(minutes=5)
    )
    assert entry.next_due == START + timedelta(minutes=10)
    scheduler.tick()
    assert rec.started == []


def test_a_long_stall_between_ticks_fires_once() -> None:
    clock, rec, scheduler = make()
    scheduler.add("users", parse_schedule("every 1m"))
    scheduler.tick()
    clock.advance(timedelta(hours=3))  # the machine slept
    scheduler.tick()
    scheduler.tick()
    assert len(rec.started) == 2
    assert scheduler.syncs()[0].next_due == clock.now() + timedelta(minutes=1)


def test_pause_stops_the_schedule_and_resume_restarts_it() -> None:
    clock, rec, scheduler = make()
    scheduler.add("users", parse_schedule("every 1m"))
    scheduler.tick()
    scheduler.pause("users")
    assert scheduler.syncs()[0].paused
    for _ in range(5):
        clock.advance(timedelta(minutes=1))
        assert scheduler.tick() is None
    assert len(rec.started) == 1
    assert scheduler.resume("users").next_due == clock.now() + timedelta(minutes=1)
    clock.advance(timedelta(minutes=1))
    scheduler.tick()
    assert len(rec.started) == 2
    assert rec.skipped == []


def test_paused_at_registration_and_removed_syncs_do_not_fire() -> None:
    clock, rec, scheduler = make()
    scheduler.add("a", parse_schedule("every 1m"), paused=True)
    scheduler.add("b", parse_schedule("every 1m"))
    scheduler.remove("b")
    clock.advance(timedelta(minutes=5))
    assert scheduler.tick() is None
    assert rec.started == []


def test_pausing_an_unknown_sync_names_it() -> None:
    _, _, scheduler = make()
    scheduler.add("users", parse_schedule("every 1m"))
    with pytest.raises(ConfigError, match=r"sync `nope` has no schedule.*users"):
        scheduler.pause("nope")


def test_a_failing_trigger_does_not_stop_the_other_syncs() -> None:
    clock = ManualClock(START)
    started: list[str] = []

    def trigger(name: str) -> bool:
        if name == "broken":
            raise RuntimeError("boom")
        started.append(name)
        return True

    scheduler = Scheduler(trigger, lambda name, due: None, clock)
    scheduler.add("broken", parse_schedule("every 1m"))
    scheduler.add("fine", parse_schedule("every 1m"))
    scheduler.tick()
    assert started == ["fine"]


def test_background_thread_fires_when_the_clock_moves() -> None:
    clock, rec, scheduler = make()
    with scheduler:
        scheduler.add("users", parse_schedule("every 10m"))
        assert rec.fired.wait(5)
        rec.fired.clear()
        clock.advance(timedelta(minutes=10))
        assert rec.fired.wait(5)
    assert [at for _, at in rec.started] == [START, START + timedelta(minutes=10)]
