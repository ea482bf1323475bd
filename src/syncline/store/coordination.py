"""What several Syncline processes sharing one state store agree on, each in one statement.

* **Leadership.** Any number of schedulers may run (in ``syncline serve`` or ``syncline
  scheduler`` processes); only the one holding the ``scheduler`` row, renewed every second or
  so, fires due runs. When it dies, its row expires after a few seconds and the next scheduler
  to try takes it over. The takeover is one conditional UPDATE (``holder = me OR expired``):
  two contenders cannot both succeed, on PostgreSQL (the row lock re-checks the condition) as
  on SQLite (writes are serialised).
* **Fired due runs.** A scheduler inserts ``(sync, due instant)`` into ``schedule_fires`` before
  it starts a run; the primary key refuses a second insert, so even an old leader that paused
  past its lease (a long GC, a frozen VM) and wakes up believing it still leads cannot fire a
  due run the new leader fired. The newest row per sync is also where a new leader resumes the
  schedule from.
* **Started due runs.** The worker that takes a fired due run's task marks the row
  (``started_by``, then ``run_id``) before it runs it, in one conditional UPDATE: a task the
  broker delivers twice (Redis re-delivers a task a dead worker had reserved) runs once.
* **Stranded due runs.** A worker killed after it marked a due run started and before it linked
  the run (a window of seconds: the run is being opened) would leave the due run with no run.
  The leading scheduler finds such rows (``stranded_fires``) and, once one has stayed so for a
  while with its sync free, links it to the run the dead worker had opened (``orphan_run``:
  that run is finalised as failed by the sync's next run, as after any crash) or, when it had
  opened none, hands the due run back (``release_fire``) to be queued again.
* **Cancel requests.** ``runs.cancel_requested``: the dashboard sets it, the process running the
  run (a Celery worker on another machine, say) polls it and stops between batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from syncline.store import tables as t

__all__ = ["Coordination", "Fire"]


@dataclass(frozen=True)
class Fire:
    """One fired due run: which scheduler fired it, which worker took it, what run it became."""

    sync: str
    due_at: datetime
    holder: str
    started_by: str | None
    run_id: int | None


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Coordination:
    """Leadership, fired due runs and cancel requests on a state store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- leadership --------------------------------------------------------------------------

    def hold(self, role: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease of ``role`` for ``ttl_s`` seconds; whether ``holder`` has it.

        Succeeds when nobody holds it, when ``holder`` already does, or when the previous
        holder's lease has expired (it stopped renewing: killed, crashed, cut off).
        """
        now = _now()
        expires = now + timedelta(seconds=ttl_s)
        row = t.leadership.c
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.update(t.leadership)
                .where(row.role == role, (row.holder == holder) | (row.expires_at < now))
                .values(holder=holder, expires_at=expires)
            )
            if taken.rowcount == 1:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.leadership).values(role=role, holder=holder,
                                                            expires_at=expires))
        except sa.exc.IntegrityError:
            return False  # somebody else holds it (or just took it)
        return True

    def leader(self, role: str) -> str | None:
        """Who holds ``role`` now (None if nobody, or the lease expired)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.leadership).where(t.leadership.c.role == role)).first()
        if row is None or _utc(row.expires_at) < _now():
            return None
        return str(row.holder)

    def resign(self, role: str, holder: str) -> None:
        """Give ``role`` up at once (a clean shutdown), so another process leads without
        waiting for the lease to expire."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.leadership).where(t.leadership.c.role == role,
                                                       t.leadership.c.holder == holder))

    # -- fired due runs ----------------------------------------------------------------------

    def claim_fire(self, sync: str, due_at: datetime, holder: str) -> bool:
        """Record that ``holder`` fires ``sync``'s run due at ``due_at``; False if it was
        fired already (by this or another scheduler)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.schedule_fires).values(
                    sync=sync, due_at=_utc(due_at), holder=holder, fired_at=_now()))
        except sa.exc.IntegrityError:
            return False
        return True

    def start_fire(self, sync: str, due_at: datetime, holder: str) -> bool:
        """Mark the fired due run as taken by ``holder``; False if a worker took it already."""
        fires = t.schedule_fires.c
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(t.schedule_fires)
                                .where(fires.sync == sync, fires.due_at == _utc(due_at),
                                       fires.started_by.is_(None))
                                .values(started_by=holder))
        return done.rowcount == 1

    def fire_ran_as(self, sync: str, due_at: datetime, run_id: int) -> None:
        """Link the fired due run to the run (or skipped run) it became."""
        fires = t.schedule_fires.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.schedule_fires)
                         .where(fires.sync == sync, fires.due_at == _utc(due_at))
                         .values(run_id=run_id))

    def unstarted_fires(self, since: datetime) -> list[Fire]:
        """Due runs fired at or after ``since`` that no worker has taken yet."""
        fires = t.schedule_fires.c
        query = (sa.select(t.schedule_fires)
                 .where(fires.started_by.is_(None), fires.due_at >= _utc(since))
                 .order_by(fires.due_at, fires.sync))
        with self.engine.connect() as conn:
            return [Fire(r.sync, _utc(r.due_at), r.holder, r.started_by, r.run_id)
                    for r in conn.execute(query)]

    def stranded_fires(self, since: datetime) -> list[Fire]:
        """Due runs fired at or after ``since`` that a worker took but never linked to a run."""
        fires = t.schedule_fires.c
        query = (sa.select(t.schedule_fires)
                 .where(fires.started_by.is_not(None), fires.run_id.is_(None),
                        fires.due_at >= _utc(since))
                 .order_by(fires.due_at, fires.sync))
        with self.engine.connect() as conn:
            return [Fire(r.sync, _utc(r.due_at), r.holder, r.started_by, r.run_id)
                    for r in conn.execute(query)]

    def orphan_run(self, fire: Fire, before: datetime) -> int | None:
        """A scheduled run of ``fire``'s sync opened after the fire and before ``before`` (when
        the fire was first seen stranded) and linked to no due run: the one the worker that
        took ``fire`` opened before dying (the sync's next run may have finalised it since)."""
        runs, fires = t.runs.c, t.schedule_fires.c
        linked = sa.select(fires.run_id).where(fires.run_id.is_not(None))
        with self.engine.connect() as conn:
            fired_at = conn.execute(sa.select(fires.fired_at).where(
                fires.sync == fire.sync, fires.due_at == _utc(fire.due_at))).scalar()
            if fired_at is None:
                return None
            value = conn.execute(
                sa.select(sa.func.min(runs.id))
                .where(runs.sync == fire.sync, runs.trigger == "schedule",
                       # a minute's leeway for the clocks of the scheduler's and the worker's
                       # machines; an earlier run of the sync is linked to its own due run
                       runs.started_at >= fired_at - timedelta(minutes=1),
                       runs.started_at <= _utc(before),
                       runs.id.not_in(linked))
            ).scalar()
        return int(value) if value is not None else None

    def release_fire(self, fire: Fire) -> bool:
        """Hand a stranded due run back (no worker holds it), to be queued again; False if its
        worker linked it meanwhile (it was slow, not dead)."""
        fires = t.schedule_fires.c
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(t.schedule_fires)
                                .where(fires.sync == fire.sync,
                                       fires.due_at == _utc(fire.due_at),
                                       fires.started_by == fire.started_by,
                                       fires.run_id.is_(None))
                                .values(started_by=None))
        return done.rowcount == 1

    def last_fire(self, sync: str) -> datetime | None:
        """The newest due instant fired for ``sync`` by any scheduler."""
        fires = t.schedule_fires.c
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(fires.due_at))
                                 .where(fires.sync == sync)).scalar()
        return None if value is None else _utc(value)

    def fires(self, sync: str | None = None) -> list[Fire]:
        """Fired due runs, oldest first."""
        fires = t.schedule_fires.c
        query = sa.select(t.schedule_fires).order_by(fires.due_at, fires.sync)
        if sync is not None:
            query = query.where(fires.sync == sync)
        with self.engine.connect() as conn:
            return [Fire(r.sync, _utc(r.due_at), r.holder, r.started_by, r.run_id)
                    for r in conn.execute(query)]

    # -- cancel requests and tasks -----------------------------------------------------------

    def request_cancel(self, run_id: int) -> bool:
        """Ask run ``run_id`` to stop, wherever it runs; False if it is not running."""
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(t.runs)
                                .where(t.runs.c.id == run_id, t.runs.c.status == "running")
                                .values(cancel_requested=True))
        return done.rowcount == 1

    def cancel_requested(self, run_id: int) -> bool:
        """Whether somebody asked run ``run_id`` to stop."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(t.runs.c.cancel_requested)
                                 .where(t.runs.c.id == run_id)).scalar()
        return bool(value)

    def run_of_task(self, task_id: str) -> int | None:
        """The run a queued task became (None while no worker has started it)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(t.runs.c.id).where(t.runs.c.task_id == task_id)
                                 .order_by(t.runs.c.id.desc()).limit(1)).scalar()
        return None if value is None else int(value)
