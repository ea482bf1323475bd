"""Start scheduled runs from inside the server process, on one background thread.

The scheduler decides *when*; it never runs a sync itself. When a sync is due it calls
``trigger(sync_name)``, which must return quickly (start a thread, enqueue a job) and answer
whether a run was started. ``False`` means the previous run of that sync still holds its lease:
that due run is *skipped*, reported through ``record_skipped(sync_name, due_at)``, and not queued
for later — a sync that is slower than its schedule must not pile runs up behind itself.

Missed runs (the server was down, or the machine slept) are not replayed in a burst: at most one
catch-up run fires as soon as the scheduler notices, then the schedule resumes from the present.
A sync that has never run on an interval schedule is due at once; on a cron schedule it waits for
its next cron instant. A paused sync does not fire; resuming it waits for its next due instant
after the present (time spent paused is not caught up).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncline.errors import ConfigError
from syncline.scheduler.clock import Clock, SystemClock
from syncline.scheduler.leadership import Leader
from syncline.scheduler.schedule import IntervalSchedule, Schedule

__all__ = ["ScheduledSync", "Scheduler"]

log = logging.getLogger(__name__)

Trigger = Callable[..., bool]
"""``trigger(name)``; a scheduler with a leader calls ``trigger(name, due)``, so the run can be
tied to the due instant it was fired for."""
RecordSkipped = Callable[[str, datetime], None]


@dataclass
class ScheduledSync:
    """What the scheduler knows of one sync (also what the dashboard shows)."""

    name: str
    schedule: Schedule
    next_due: datetime
    paused: bool = False


class Scheduler:
    """Fires ``trigger`` for each sync at its due instants; see the module docstring for rules."""

    _IDLE_WAIT_S = 60.0
    """Longest sleep even with nothing due, so a wall-clock jump is noticed within a minute."""

    def __init__(
        self,
        trigger: Trigger,
        record_skipped: RecordSkipped,
        clock: Clock | None = None,
        leader: Leader | None = None,
    ) -> None:
        self._trigger = trigger
        self._leader = leader
        """With a leader, this scheduler is one of several: it fires only while it leads."""
        self._leading = False
        self._record_skipped = record_skipped
        self._clock: Clock = clock or SystemClock()
        self._syncs: dict[str, ScheduledSync] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_lag_s = 0.0
        """How late the last due run was fired (seconds after its due instant), for metrics."""

    def add(
        self,
        name: str,
        schedule: Schedule,
        *,
        last_run_at: datetime | None = None,
        paused: bool = False,
    ) -> ScheduledSync:
        """Schedule ``name`` (replacing any previous schedule of it).

        Args:
            name: the sync's name.
            schedule: from ``parse_schedule``.
            last_run_at: when the sync last started (from the state store), so a restart
                neither forgets nor replays what it missed.
            paused: register it without firing until ``resume``.
        """
        now = self._clock.now()
        if last_run_at is not None:
            due = max(schedule.next_after(last_run_at), now)
        elif isinstance(schedule, IntervalSchedule):
            due = now
        else:
            due = schedule.next_after(now)
        entry = ScheduledSync(name=name, schedule=schedule, next_due=due, paused=paused)
        with self._lock:
            self._syncs[name] = entry
        self._wake.set()
        return entry

    def remove(self, name: str) -> None:
        """Stop scheduling ``name`` (a sync deleted or whose schedule was cleared)."""
        with self._lock:
            self._syncs.pop(name, None)
        self._wake.set()

    def pause(self, name: str) -> None:
        """Stop firing ``name`` until ``resume``; runs already started are not touched."""
        with self._lock:
            self._get(name).paused = True

    def resume(self, name: str) -> ScheduledSync:
        """Fire ``name`` again from its next due instant after now."""
        with self._lock:
            entry = self._get(name)
            entry.paused = False
            entry.next_due = entry.schedule.next_after(self._clock.now())
        self._wake.set()
        return entry

    def syncs(self) -> list[ScheduledSync]:
        """A copy of every scheduled sync, by name."""
        with self._lock:
            return [
                ScheduledSync(e.name, e.schedule, e.next_due, e.paused)
                for _, e in sorted(self._syncs.items())
            ]

    def tick(self) -> datetime | None:
        """Fire every sync due now; return the next instant something is due (None: nothing).

        The background thread calls this in a loop; tests call it directly after moving a
        ``ManualClock``.
        """
        now = self._clock.now()
        if self._leader is not None and not self._follow_or_lead():
            return None
        fired: list[tuple[str, datetime]] = []
        with self._lock:
            for entry in self._syncs.values():
                if entry.paused or entry.next_due > now:
                    continue
                fired.append((entry.name, entry.next_due))
                following = entry.schedule.next_after(entry.next_due)
                # more than one instant missed: skip ahead, never replay them in a burst
                entry.next_due = following if following > now else self._skip_to(entry, now)
        for name, due in fired:
            self._fire(name, due)
        with self._lock:
            active = [e.next_due for e in self._syncs.values() if not e.paused]
        return min(active, default=None)

    def _follow_or_lead(self) -> bool:
        """Whether this scheduler leads now; on taking over, resume every schedule from the
        newest due instant any scheduler fired (a due instant in the past fires at once, as
        the one catch-up run)."""
        assert self._leader is not None
        leading = self._leader.leads()
        if leading and not self._leading:
            for entry in self.syncs():
                try:
                    last = self._leader.last_fire(entry.name)
                except Exception:
                    log.exception("could not read when sync %r last fired", entry.name)
                    continue
                if last is not None:
                    with self._lock:
                        current = self._syncs.get(entry.name)
                        if current is not None:
                            current.next_due = current.schedule.next_after(last)
        self._leading = leading
        return leading

    def _skip_to(self, entry: ScheduledSync, now: datetime) -> datetime:
        """The first due instant after ``now``. Shared schedulers step an interval from its
        previous due instant, so every scheduler computes the same instants (the key that
        stops two of them firing one due run twice)."""
        schedule = entry.schedule
        if self._leader is not None and isinstance(schedule, IntervalSchedule):
            periods = int((now - entry.next_due).total_seconds() // schedule.seconds) + 1
            return entry.next_due + timedelta(seconds=periods * schedule.seconds)
        return schedule.next_after(now)

    def start(self) -> None:
        """Run ``tick`` on a daemon thread until ``stop``."""
        if self._thread is not None:
            raise RuntimeError("the scheduler is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="syncline-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a run already triggered keeps going; it is not the scheduler's)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._leader is not None and self._leading:
            try:
                self._leader.resign()
            except Exception:
                log.exception("could not give the scheduler leadership up")
            self._leading = False

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            next_due = self.tick()
            wait_s = self._IDLE_WAIT_S if self._leader is None else self._leader.renew_every_s
            if next_due is not None:
                wait_s = min(wait_s, (next_due - self._clock.now()).total_seconds())
            if wait_s > 0:
                self._clock.wait(wait_s, self._wake)

    def _fire(self, name: str, due: datetime) -> None:
        self.last_lag_s = max((self._clock.now() - due).total_seconds(), 0.0)
        try:
            if self._leader is not None and not self._leader.claim(name, due):
                log.info("the run of sync %r due at %s was fired already", name, due)
                return
            started = self._trigger(name) if self._leader is None else self._trigger(name, due)
        except Exception:
            # one sync's failure to start must not stop the schedule of the others
            log.exception("scheduled run of sync %r due at %s could not be started", name, due)
            return
        if started:
            return
        log.info("sync %r still running: the run due at %s is skipped", name, due)
        try:
            self._record_skipped(name, due)
        except Exception:
            log.exception("could not record the skipped run of sync %r due at %s", name, due)

    def _get(self, name: str) -> ScheduledSync:
        try:
            return self._syncs[name]
        except KeyError:
            known = ", ".join(sorted(self._syncs)) or "none"
            raise ConfigError(
                f"sync `{name}` has no schedule (scheduled syncs: {known}); give it a "
                f"`schedule:` in syncline.yml, e.g. `every 15m`"
            ) from None
