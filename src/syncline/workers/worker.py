"""``syncline worker``: a Celery worker whose one task runs a sync here, as the server would.

Each task goes through the same ``RunManager.start_here`` as a run the server starts itself:
the sync's lease keeps one run per sync across every worker (a task whose sync is still running
elsewhere records a *skipped* run), and the run row carries the task id, so the server that
queued it learns its run id. While a run goes, the task polls the run's ``cancel_requested``
flag every second: that is how "Cancel" on the dashboard of any server reaches a run on any
worker.

Why a flag and not Celery's ``revoke``: revoking a task that already runs means killing it
(``terminate=True`` sends a signal to the process), which stops a run mid-batch, exactly what
leaves records in doubt; the flag stops it between batches like a local cancel, and the run
records itself as cancelled. Revoke is also remembered only in the memory of the workers that
were up when it was sent, while the flag lives in the state store.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syncline.errors import RunLockedError
from syncline.server.jobs import process_name
from syncline.workers.queue import TASK, make_app

if TYPE_CHECKING:
    from syncline.server.jobs import RunManager

__all__ = ["WorkerRuntime", "run_worker"]

log = logging.getLogger(__name__)

CANCEL_POLL_S = 1.0


class WorkerRuntime:
    """What a worker process runs its tasks with: one ``RunManager`` without a queue."""

    def __init__(self, manager: RunManager) -> None:
        self.manager = manager

    def run(self, sync: str, *, full: bool, trigger: str, task_id: str,
            due: datetime | None = None, resend_events: bool = False) -> int | None:
        """Run ``sync`` here to its end; the id of the run recorded (run, or skipped), or None
        for a scheduled run another worker took already (a duplicate delivery)."""
        coordination = self.manager.coordination
        if due is not None and not coordination.start_fire(sync, due, process_name()):
            log.info("the run of sync %r due at %s was taken already; dropped", sync, due)
            return None
        return self._run(sync, full=full, trigger=trigger, task_id=task_id, due=due,
                         resend_events=resend_events)

    def _run(self, sync: str, *, full: bool, trigger: str, task_id: str,
             due: datetime | None, resend_events: bool = False) -> int:
        store, coordination = self.manager.store, self.manager.coordination
        try:
            run_id = self.manager.start_here(sync, full=full, trigger=trigger,
                                             resend_events=resend_events)
        except RunLockedError:
            run_id = store.start_run(sync, trigger=trigger, full=full)
            # named after its task and its due run before its status is final: whoever sees
            # it skipped can already find it by either
            store.update_run(run_id, task_id=task_id)
            if due is not None:
                coordination.fire_ran_as(sync, due, run_id)
            store.finish_run(run_id, "skipped", error=(
                f"the previous run was still going at {datetime.now(UTC).isoformat()}; this "
                "run was skipped"))
            return run_id
        store.update_run(run_id, task_id=task_id)
        if due is not None:  # at once: if this worker dies, the fire still names its run
            coordination.fire_ran_as(sync, due, run_id)
        live = self.manager.live(run_id)
        thread = live.thread if live is not None else None
        while live is not None and thread is not None and thread.is_alive():
            thread.join(CANCEL_POLL_S)
            if not live.cancel.is_set() and coordination.cancel_requested(run_id):
                log.info("run %s of sync %r: cancel requested", run_id, sync)
                live.cancel.set()
        return run_id


def run_worker(runtime: WorkerRuntime, broker_url: str, queue: str, *, concurrency: int,
               loglevel: str = "INFO") -> None:
    """Serve ``syncline.run`` tasks from ``queue`` until stopped (SIGTERM: warm shutdown,
    running runs finish; SIGQUIT or a second Ctrl+C: they stop at once, like a crash).

    The pool is threads: a run waits on the network and the database most of the time, and
    every run of the process shares one state-store connection pool.
    """
    app = make_app(broker_url, queue)

    @app.task(name=TASK, bind=True)  # type: ignore[untyped-decorator]
    def run(self: object, sync: str, full: bool = False, trigger: str = "api",
            due: str | None = None, resend_events: bool = False) -> int | None:
        task_id = str(getattr(getattr(self, "request", None), "id", "") or "")
        return runtime.run(sync, full=full, trigger=trigger, task_id=task_id,
                           due=datetime.fromisoformat(due) if due else None,
                           resend_events=resend_events)

    try:
        app.worker_main([
            "worker", "--pool=threads", f"--concurrency={concurrency}", f"--queues={queue}",
            "--without-gossip", "--without-mingle", f"--loglevel={loglevel}",
            # one node name per process: several workers on one machine would otherwise share
            # `celery@host`, which RabbitMQ refuses (its control queue is exclusive to one)
            f"--hostname=syncline-{os.getpid()}@%h",
        ])
    finally:
        runtime.manager.close()
        app.close()
