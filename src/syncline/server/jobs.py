"""Runs started by the server: each in a background thread, answered at once with its run id.

The API, the dashboard's "Run Sync Now" and the scheduler all go through ``RunManager.trigger``:
it builds the project from the stored definitions, starts the same ``Runner`` the CLI uses on
a thread, and returns as soon as the run has a row in the state store (its id), so a caller
polls ``GET /api/runs/{id}``. Cancelling sets the runner's cancel event; the runner stops
between batches and records the run as cancelled. A sync whose previous run still holds its
lease raises ``RunLockedError`` (a 409 for the API; a *skipped* run for the scheduler).

With a broker (``SYNCLINE_BROKER_URL``, see ``syncline.workers``) the server runs nothing
itself: ``trigger`` puts the run on the queue (a ``RunQueue``) and waits for a worker to record
it; the scheduler becomes one of possibly several, firing only while it holds the leadership
lease; and cancelling a run another process runs sets its ``cancel_requested`` flag, which that
worker polls.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from syncline.config.models import Project
from syncline.engine.summary import RunSummary
from syncline.errors import ConfigError, RunLockedError, SynclineError
from syncline.scheduler import Clock, Scheduler, schedules_of
from syncline.scheduler.leadership import StoreLeadership
from syncline.server.project.definitions import list_syncs, stored_project
from syncline.server.project.secrets import SecretBox
from syncline.server.settings import source_fence
from syncline.store import Coordination, StateStore

__all__ = ["LiveRun", "RunManager", "RunQueue"]

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 30.0
_PLAN_RETRIES, _PLAN_WAIT_S = 3, 1.0
_SILENCE_EVERY_S = 60.0
_QUEUE_POLL_S = 0.2
_REQUEUE_WITHIN_S = 300.0
"""Our choice: a new leader re-queues unstarted due runs of the last 5 minutes, not older ones
(a run due long ago is not replayed, as after downtime; its next due run comes instead)."""


_STRANDED_EVERY_S = 5.0
_STRANDED_AFTER_S = 30.0
"""Our choice: a due run a worker took and has not linked to a run for 30 s, with its sync free,
is taken for stranded (its worker died while opening it); opening a run takes seconds."""


class RunQueue(Protocol):
    """Where runs go when workers run them (``syncline.workers.CeleryQueue``)."""

    def enqueue(self, sync: str, *, full: bool, trigger: str, due: datetime | None = None,
                resend_events: bool = False) -> str:
        """Queue one run of ``sync`` (``due``: the due instant a scheduler fired it for);
        returns the task id its run row will carry."""
        ...


def process_name() -> str:
    """``host:pid``, as leases name their holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class LiveRun:
    """A run this process started and has not yet seen finish."""

    sync: str
    cancel: threading.Event = field(default_factory=threading.Event)
    run_id: int | None = None
    total: int = 0
    done: int = 0
    summary: RunSummary | None = None
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def progress(self) -> dict[str, Any]:
        """What the run page polls: records planned to send and handled so far."""
        return {"total": self.total, "done": self.done, "cancelling": self.cancel.is_set()}


class _Progress:
    """The runner's progress hooks, kept on the ``LiveRun`` for the run page."""

    def __init__(self, live: LiveRun) -> None:
        self.live = live

    def start(self, sync: str, total: int) -> None:
        self.live.total = total

    def advance(self, summary: RunSummary, done: int) -> None:
        self.live.done = done

    def finish(self, summary: RunSummary) -> None:
        self.live.summary = summary


class _ReportingStore(StateStore):
    """The same state store (same engine), telling the ``LiveRun`` its id as soon as
    ``start_run`` makes it, so ``trigger`` can answer before the run ends."""

    def __init__(self, store: StateStore, live: LiveRun) -> None:
        # share the open store's engine and settings; no second connection pool, no migration
        self.__dict__.update(store.__dict__)
        self._live = live

    def start_run(self, sync: str, *, trigger: str = "manual", full: bool = False) -> int:
        run_id = super().start_run(sync, trigger=trigger, full=full)
        self._live.run_id = run_id
        self._live.started.set()
        return run_id


class RunManager:
    """Starts, tracks and cancels the server's runs, and owns the scheduler that fires them.

    Args:
        root: the project folder (relative source paths and local diff files live there).
        store: the ``syncline.store.StateStore`` runs are recorded in.
        sessions: opens a session on the server's tables (the stored definitions).
        box: opens the stored secrets.
        clock: the scheduler's clock (tests pass a ``ManualClock``).
    """

    def __init__(
        self,
        root: Path,
        store: StateStore,
        sessions: Callable[[], Session],
        box: SecretBox,
        clock: Clock | None = None,
        queue: RunQueue | None = None,
    ) -> None:
        self.root, self.store, self.sessions, self.box = root, store, sessions, box
        self.queue = queue
        self.coordination = Coordination(store.engine)
        self._lock = threading.Lock()
        self._live: dict[int, LiveRun] = {}
        self._threads: list[threading.Thread] = []
        self._stranded: dict[tuple[str, datetime, str | None], tuple[float, datetime]] = {}
        self._stranded_checked = 0.0
        leader = StoreLeadership(self.coordination, process_name(),
                                 on_takeover=self._requeue_unstarted,
                                 while_leading=self._recover_stranded) if queue else None
        self.scheduler = Scheduler(self._scheduled, self._record_skipped, clock, leader)
        self._retries: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self._watching = threading.Event()

    def project(self) -> Project:
        """The stored definitions as a ``Project`` (ConfigError if they do not validate),
        with the ``alerts:`` and ``server_url`` of the project folder's ``syncline.yml``."""
        with self.sessions() as session:
            project = stored_project(session, self.box)
        return self._with_alerts(project)

    def _with_alerts(self, project: Project) -> Project:
        from syncline.config.load import FILENAME, load_project

        alerts, server_url = {}, os.environ.get("SYNCLINE_SERVER_URL") or None
        if (self.root / FILENAME).is_file():
            try:
                local = load_project(self.root).project
            except SynclineError as exc:
                log.warning("alerts from %s not loaded: %s", FILENAME, exc)
            else:
                alerts, server_url = local.alerts, server_url or local.server_url
        known = set(project.syncs)
        alerts = {name: rule for name, rule in alerts.items()
                  if rule.syncs == "all" or set(rule.syncs) <= known}
        return project.model_copy(update={"alerts": alerts, "server_url": server_url})

    def upload_stats(self) -> dict[str, tuple[int, int]]:
        """Per sync, the retries and 429s of the runs this process finished (for metrics)."""
        with self._lock:
            return {s: (self._retries[s], self._throttled[s])
                    for s in set(self._retries) | set(self._throttled)}

    def running_count(self) -> int:
        """Runs this process is running now."""
        with self._lock:
            return len(self._live)

    def trigger(self, sync: str, *, full: bool = False, trigger: str = "api",
                resend_events: bool = False) -> int:
        """Start a run of ``sync`` on a thread; return its run id once it is recorded.

        Raises:
            ConfigError: no such sync, or the stored definitions are invalid.
            RunLockedError: a run of this sync is already going.
            SynclineError: the run could not start (e.g. the state store refused).
        """
        if self.queue is not None:
            return self._enqueue(self.queue, sync, full=full, trigger=trigger,
                                 resend_events=resend_events)
        return self.start_here(sync, full=full, trigger=trigger, resend_events=resend_events)

    def start_here(self, sync: str, *, full: bool = False, trigger: str = "api",
                   resend_events: bool = False) -> int:
        """``trigger`` in this process, whatever the queue (what a worker does with a task)."""
        from syncline.config.load import LoadedProject
        from syncline.engine.runner import Runner

        live = LiveRun(sync=sync)
        loaded = LoadedProject(root=self.root, path=self.root / "syncline.yml",
                               project=self.project())
        runner = Runner(loaded, _ReportingStore(self.store, live), progress=_Progress(live),
                        cancel=live.cancel)
        definition = runner.sync(sync)  # the ConfigError for an unknown sync, here and now
        source = loaded.project.sources.get(definition.source)
        if source is not None:  # a source saved before the fence, or by `syncline apply`
            source_fence(self.root).check(definition.source, source)

        def work() -> None:
            try:
                runner.run(sync, full=full, trigger=trigger, resend_events=resend_events)
            except BaseException as exc:  # reported to the caller or logged, never lost
                live.error = exc
                if live.run_id is not None:
                    log.exception("run %s of sync %r ended with an error", live.run_id, sync)
            finally:
                live.started.set()
                with self._lock:
                    if live.run_id is not None:
                        self._live.pop(live.run_id, None)
                    if live.summary is not None:
                        self._retries[sync] += live.summary.retries
                        self._throttled[sync] += live.summary.throttled

        thread = threading.Thread(target=work, name=f"syncline-run-{sync}", daemon=True)
        live.thread = thread
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        live.started.wait(_START_TIMEOUT_S)
        if live.run_id is None:
            if isinstance(live.error, SynclineError):
                raise live.error
            raise SynclineError(
                f"sync `{sync}`: the run did not start ({live.error or 'timed out'}); "
                f"the server log has details"
            )
        with self._lock:
            if thread.is_alive():
                self._live[live.run_id] = live
        return live.run_id

    def live(self, run_id: int) -> LiveRun | None:
        """The run if this process is running it now."""
        with self._lock:
            return self._live.get(run_id)

    def cancel(self, run_id: int) -> bool:
        """Ask run ``run_id`` to stop; False if it is not running.

        A run of this process stops at once (between batches); a run elsewhere (a worker)
        through its ``cancel_requested`` flag, which its worker polls every second.
        """
        live = self.live(run_id)
        if live is None:
            return self.queue is not None and self.coordination.request_cancel(run_id)
        live.cancel.set()
        return True

    def _enqueue(self, queue: RunQueue, sync: str, *, full: bool, trigger: str,
                 resend_events: bool = False) -> int:
        """Queue a run and wait for the worker that takes it to record it; its run id."""
        project = self.project()
        if sync not in project.syncs:
            known = ", ".join(sorted(project.syncs)) or "none"
            raise ConfigError(f"no sync `{sync}` in the stored definitions (known: {known})")
        self._check_not_running(sync)
        if full and project.syncs[sync].object == "event" and not resend_events:
            # the worker would refuse it too; say so now rather than from the queue
            from syncline.engine.runner import full_resend_refused

            raise ConfigError(full_resend_refused(sync))
        task_id = queue.enqueue(sync, full=full, trigger=trigger, resend_events=resend_events)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            run_id = self.coordination.run_of_task(task_id)
            if run_id is not None:
                return run_id
            time.sleep(_QUEUE_POLL_S)
        raise SynclineError(
            f"sync `{sync}`: the run is queued (task {task_id}) but no worker started it within "
            f"{_START_TIMEOUT_S:.0f} s; check that `syncline worker` runs with the same "
            "SYNCLINE_BROKER_URL (it will run when a worker takes it)"
        )

    def _check_not_running(self, sync: str) -> None:
        """RunLockedError (a 409) when a run of ``sync`` holds its lease, anywhere."""
        holder = self.store.lease_of(sync)
        if holder is not None:
            raise RunLockedError(f"sync `{sync}` is already running (on {holder}); wait for it "
                                 "to finish")

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for every run started so far to end (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    # -- schedules ---------------------------------------------------------------------------

    def load_schedules(self) -> None:
        """(Re)register every stored sync's schedule with the scheduler."""
        project = self.project()
        with self.sessions() as session:
            paused = {row.name: row.paused for row in list_syncs(session)}
        schedules = schedules_of(project.syncs)
        for entry in self.scheduler.syncs():
            if entry.name not in schedules:
                self.scheduler.remove(entry.name)
        known = {entry.name: entry for entry in self.scheduler.syncs()}
        for name, schedule in schedules.items():
            current = known.get(name)
            if current is not None and current.schedule == schedule:
                if current.paused != paused.get(name, False):
                    if paused.get(name, False):
                        self.scheduler.pause(name)
                    else:
                        self.scheduler.resume(name)
                continue
            self.scheduler.add(name, schedule, last_run_at=self._last_run_at(name),
                               paused=paused.get(name, False))

    def start(self) -> None:
        """Load the schedules and start firing them; watch for syncs that went silent."""
        self.load_schedules()
        self.scheduler.start()
        self._watching.clear()
        threading.Thread(target=self._watch_silence, name="syncline-alerts", daemon=True).start()

    def check_silence(self) -> None:
        """Alert on syncs with no successful run within their ``not_succeeded_within``."""
        from syncline.alerts import AlertNotifier

        project = self.project()
        if project.alerts:
            AlertNotifier(project, self.store).check_silence()

    def _watch_silence(self) -> None:
        while not self._watching.wait(_SILENCE_EVERY_S):
            try:
                self.check_silence()
            except Exception:  # the watcher must outlive one bad minute
                log.exception("checking for silent syncs failed")

    def close(self, timeout: float = 10.0) -> None:
        """Stop the scheduler, cancel running runs and wait for them."""
        self._watching.set()
        self.scheduler.stop()
        with self._lock:
            running = list(self._live.values())
        for live in running:
            live.cancel.set()
        self.wait(timeout)

    def _last_run_at(self, sync: str) -> datetime | None:
        try:
            runs = self.store.runs(sync, limit=1)
        except SynclineError:
            return None
        if not runs:
            return None
        started = getattr(runs[0], "started_at", None)
        return started if isinstance(started, datetime) else None

    def _scheduled(self, sync: str, due: datetime | None = None) -> bool:
        """Start a scheduled run; False (skipped) only if a *run* of the sync holds the lock.

        A dry-run plan (the dashboard's preview) holds the lock for a moment too; a due run
        waits briefly for it instead of being skipped for a whole schedule period.
        """
        if self.queue is not None:  # the worker records a skipped run if the lease is taken
            self.queue.enqueue(sync, full=False, trigger="schedule", due=due)
            return True
        for attempt in range(_PLAN_RETRIES + 1):
            try:
                self.trigger(sync, trigger="schedule")
            except RunLockedError:
                if self._running(sync) or attempt == _PLAN_RETRIES:
                    return False
                time.sleep(_PLAN_WAIT_S)
            else:
                return True
        return False

    def _requeue_unstarted(self) -> None:
        """Queue again the due runs recorded in the last few minutes that no worker took: a
        leader killed between recording a due run and queueing it would otherwise lose it.
        A run that was queued after all is then delivered twice, and its worker-side start
        (``start_fire``) lets only one delivery run it."""
        if self.queue is None:
            return
        since = datetime.now(UTC) - timedelta(seconds=_REQUEUE_WITHIN_S)
        for fire in self.coordination.unstarted_fires(since):
            log.info("re-queueing the run of sync %r due at %s", fire.sync, fire.due_at)
            self.queue.enqueue(fire.sync, full=False, trigger="schedule", due=fire.due_at)

    def _recover_stranded(self) -> None:
        """Due runs a worker took (``start_fire``) and was killed before linking to a run: each
        is linked to the run that worker had opened (finalised as failed by the sync's next
        run, as after any crash), or, when it had opened none and nothing holds the sync, handed
        back and queued again. Without this such a due run would simply never happen."""
        now, wall = time.monotonic(), datetime.now(UTC)
        if self.queue is None or now - self._stranded_checked < _STRANDED_EVERY_S:
            return
        self._stranded_checked = now
        since = wall - timedelta(seconds=_REQUEUE_WITHIN_S)
        seen: dict[tuple[str, datetime, str | None], tuple[float, datetime]] = {}
        for fire in self.coordination.stranded_fires(since):
            key = (fire.sync, fire.due_at, fire.started_by)
            first, first_wall = seen[key] = self._stranded.get(key, (now, wall))
            if now - first < _STRANDED_AFTER_S:
                continue
            orphan = self.coordination.orphan_run(fire, before=first_wall)
            if orphan is not None:
                log.warning("the run of sync %r due at %s was opened by %s, which stopped: "
                            "it is run %s", fire.sync, fire.due_at, fire.started_by, orphan)
                self.coordination.fire_ran_as(fire.sync, fire.due_at, orphan)
                seen.pop(key)
            elif self.store.lease_of(fire.sync) is None and self.coordination.release_fire(fire):
                log.warning("the run of sync %r due at %s was taken by %s, which stopped "
                            "before running it: queued again", fire.sync, fire.due_at,
                            fire.started_by)
                self.queue.enqueue(fire.sync, full=False, trigger="schedule", due=fire.due_at)
                seen.pop(key)
        self._stranded = seen

    def _running(self, sync: str) -> bool:
        """Whether a *run* of ``sync`` holds its lock (in this process or any other), as the
        state store tells: a run this process just finished is no longer one, even while its
        thread is still winding down."""
        return self.store.lease_run(sync) is not None

    def _record_skipped(self, sync: str, due: datetime) -> None:
        self.store.record_skipped(
            sync, error=f"the previous run was still going at {due.isoformat()}; this run was "
            "skipped")
