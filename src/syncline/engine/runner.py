"""The path of one run: lock → plan → map + validate → deliver → commit → record.

Every row of the model ends in exactly one count: unchanged, invalid (null or duplicate key),
rejected (locally or by the destination, with the reason), accepted, failed (its request failed
after retries; planned again next run), in doubt (an event whose upload may or may not have
been stored) or not sent (a run that stopped early never reached it; planned again next run).
Only accepted keys enter the snapshot (its journal, batch by batch, merged at the end of the run
or by the next one after a crash), so a crash loses nothing.

A run stops early on a terminal error, or when ``cancel`` is set (Ctrl+C, the dashboard's
cancel): it takes no new batch, waits up to ``stop_grace_s`` for the uploads in flight to
answer, commits what was accepted and accounts for the rest (unanswered events in doubt).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from syncline.config.load import LoadedProject
from syncline.config.models import SyncConfig
from syncline.destinations.base import Record
from syncline.engine import deletes, validation
from syncline.engine.delivery import Batch, BatchResult, Delivery, RetryPolicy
from syncline.engine.guard import SnapshotGuard
from syncline.engine.opened import OpenedRun, RunOpener, holder
from syncline.engine.outcomes import Outcomes
from syncline.engine.planner import Plan
from syncline.engine.summary import NullProgress, Progress, RunSummary
from syncline.engine.synclog import LogEntry, SyncLog, key_history
from syncline.errors import ConfigError, SynclineError
from syncline.store import Lease, RejectedRow, StateStore, UploadSlots
from syncline.store.statuses import SUCCEEDED, run_status
from syncline.tracing import span

__all__ = ["Runner", "full_resend_refused"]

log = logging.getLogger("syncline.run")

_STORE_EVERY_S = 1.0
# profiles are upserts: their accepted keys are committed in groups (each commit is a durable write
# to the snapshot); a crash re-sends at most these rows, which CleverTap applies again unchanged
_COMMIT_PROFILES_EVERY = 20_000
STOP_GRACE_S = 15.0
"""How long a cancelled run waits for its uploads in flight to answer before giving up on them."""
UNANSWERED = "no answer before the run stopped"
READY_AHEAD = 5
"""Profiles: encoded batches left queued for the delivering threads while the run's thread
builds the next chunk (about one chunk of ``validation.READ_ROWS`` at 1,000 rows a batch): a
slot that frees during the build takes one of them at once (bench/PROFILING.md, round two: W5,
a freed slot starts the next upload itself)."""


class Runner:
    """Runs and plans the syncs of one project against one state store."""

    def __init__(
        self,
        project: LoadedProject,
        store: StateStore,
        *,
        progress: Progress | None = None,
        retry: RetryPolicy | None = None,
        cancel: threading.Event | None = None,
        lease_ttl_s: float = 60.0,
        slot_ttl_s: float = 10.0,
        stop_grace_s: float = STOP_GRACE_S,
    ) -> None:
        """``lease_ttl_s``: how long a run's lock on its sync outlives a run that stopped
        renewing it; ``slot_ttl_s``: the same for its upload slots (both renewed from a
        heartbeat thread every third of their TTL)."""
        self.lease_ttl_s, self.slot_ttl_s = lease_ttl_s, slot_ttl_s
        self.project = project
        self.store = store
        self.progress: Progress = progress or NullProgress()
        self.retry = retry
        self.cancel = cancel or threading.Event()
        self.stop_grace_s = stop_grace_s
        self.outcomes = Outcomes(store, self.progress, self.cancel)

    def sync(self, name: str) -> SyncConfig:
        """The sync called ``name``; a ConfigError lists the known ones."""
        try:
            return self.project.project.syncs[name]
        except KeyError:
            known = ", ".join(sorted(self.project.project.syncs)) or "none"
            raise ConfigError(
                f"no sync `{name}` in {self.project.path} (known: {known})"
            ) from None

    def run(
        self,
        name: str,
        *,
        full: bool = False,
        resend_in_doubt: bool = False,
        resend_events: bool = False,
        trigger: str = "manual",
        allow_mass_delete: bool = False,
    ) -> RunSummary:
        """Run sync ``name`` to the end; the summary says how it went (never raises for rows).

        ``full`` on an event sync is refused (ConfigError) unless ``resend_events``: it would
        send every event of the model again, and CleverTap would store each one twice.
        """
        sync = self.sync(name)
        deletes.check_erasure_run(name, sync, full=full)
        if full and sync.object == "event" and not resend_events:
            raise ConfigError(full_resend_refused(name))
        started = time.monotonic()
        with self.store.lease(name, holder=holder(), ttl_s=self.lease_ttl_s) as lease:
            run_id = self.store.start_run(name, trigger=trigger, full=full)
            lease.renew(run_id)  # a takeover of an expired lease then fails this run by id
            lease.keep_alive()  # renewed even while an upload blocks the run
            summary = RunSummary(sync=name, run_id=run_id, object=sync.object)
            log.info("run started", extra={"event": "run_start", "sync": name, "run_id": run_id,
                                           "trigger": trigger, "full": full})
            opened: OpenedRun | None = None
            try:
                with span("syncline.run", sync=name, run_id=run_id, trigger=trigger), \
                        self._open(name, sync, summary) as run:
                    opened = run
                    self._guard(run, full=full)  # before anything reads or writes the snapshot
                    self._finish_crashed(run, getattr(lease, "taken_over", None))
                    self._open_log(run)
                    self._resolve_in_doubt(run, resend_in_doubt)
                    planning = time.monotonic()
                    with span("syncline.plan", sync=name):
                        plan = self._plan(run, full=full)
                    summary.plan_s = time.monotonic() - planning
                    deletes.plan_deletes(name, sync, plan.counts, summary,
                                         allow_mass_delete=allow_mass_delete)
                    deletes.check_delete_limit(summary)
                    with span("syncline.deliver", sync=name, records=summary.new + summary.changed):
                        if sync.object == "delete":
                            self._delete(run, plan, lease)
                        else:
                            self._deliver(run, plan, lease)
                            if deletes.deletes_removed(sync):
                                self._delete(run, plan, lease)
                summary.status = self._status(summary)
            except SynclineError as exc:
                summary.status, summary.error = "failed", str(exc)
            except Exception as exc:  # a bug, not a user error: record it, then let it surface
                summary.status, summary.error = "failed", f"internal error: {exc!r}"
                raise
            except BaseException:  # Ctrl+C, SystemExit: the run stopped on purpose
                summary.status, summary.error = "cancelled", "interrupted"
                raise
            finally:
                summary.duration_s = time.monotonic() - started
                reached = opened.reached if opened is not None else 0
                summary.not_sent = max(0, summary.new + summary.changed - reached)
                # the lease goes in the same transaction: once the status is final, the
                # next run can start (alerts and progress below no longer hold the sync)
                self.store.finish_run(run_id, summary.status, error=summary.error,
                                      release=lease, **summary.store_counts())
                self._finished(summary)
                self.progress.finish(summary)
        return summary

    def plan(self, name: str, *, full: bool = False, preview: int = 5) -> RunSummary:
        """What a run would send, without sending anything or changing the snapshot."""
        sync = self.sync(name)
        started = time.monotonic()
        summary = RunSummary(sync=name, object=sync.object, status="planned")
        with self.store.lease(name, holder=holder()), self._open(name, sync, summary) as run:
            self._guard(run, full=full, dry=True)
            if sync.object == "event":
                summary.in_doubt_keys = run.snapshot.in_doubt_keys()
                summary.in_doubt = len(summary.in_doubt_keys)
            plan = self._plan(run, full=full, dry=True)
            deletes.plan_deletes(name, sync, plan.counts, summary, allow_mass_delete=False)
            if sync.object == "delete":
                summary.delete_preview = deletes.preview_erasure(plan, sync, preview)
            else:
                summary.preview = validation.check_all(run, plan, preview, self.outcomes)
                if summary.to_delete:
                    summary.delete_preview = deletes.preview_removed(plan, preview)
        summary.duration_s = time.monotonic() - started
        return summary

    def _finished(self, summary: RunSummary) -> None:
        """Log the run's end and tell the alerts; neither may change how the run went."""
        log.info("run finished", extra={"event": "run_end", **summary.log_fields()})
        if summary.run_id is None or not self.project.project.alerts:
            return
        # imported here: alerts bring httpx's mail and TLS stack, which a project without
        # alerts never needs (tests/cli/test_startup.py)
        from syncline.alerts import AlertNotifier

        try:
            AlertNotifier(self.project.project, self.store).after_run(summary.run_id)
        except SynclineError as exc:  # the run is recorded; a broken alert must not hide it
            log.warning("alerts not evaluated", extra={"event": "alert_failed",
                                                       "sync": summary.sync, "error": str(exc)})

    def key_history(self, name: str, key: str, *, limit: int = 100) -> list[LogEntry]:
        """One key's rows in the sync log, newest first (``syncline log SYNC --key K``)."""
        sync = self.sync(name)
        config = sync.sync_log or self.project.project.sync_log
        if not config.enabled:
            raise ConfigError(f"sync `{name}` keeps no sync log; add `sync_log: {{enabled: "
                              "true}` to syncline.yml (for the project or the sync)")
        summary = RunSummary(sync=name, object=sync.object)
        with self._open(name, sync, summary) as run:
            return key_history(run.planner.store, config, name, key, limit)

    # -- steps -------------------------------------------------------------------------------

    def _open(self, name: str, sync: SyncConfig, summary: RunSummary) -> RunOpener:
        return RunOpener(self.project, name, sync, summary)

    def _open_log(self, run: OpenedRun) -> None:
        """The sync log, when the sync (or the project) enables it; flushed when the run ends."""
        config = run.sync.sync_log or self.project.project.sync_log
        if not config.enabled or run.summary.run_id is None:
            return
        operation = {"profile": "upsert"}.get(run.sync.object, run.sync.object)
        sync_log = SyncLog(run.planner.store, config, run.name, run.summary.run_id, operation)
        sync_log.open()
        run.log = sync_log

        def close() -> None:
            sync_log.flush()
            run.summary.sync_log_rows = sync_log.written
            run.summary.sync_log_error = sync_log.error

        run.stack.callback(close)

    def _finish_crashed(self, run: OpenedRun, run_id: int | None) -> None:
        """Close the account of the run whose dead process this run took the lock from.

        Only the snapshot knows what it committed and what it left in flight (in doubt), so
        this is done here, before the in-doubt keys are resolved.
        """
        if run_id is None:
            return
        accepted, in_flight = run.snapshot.run_counts(run_id)
        self.store.finish_crashed(run_id, accepted=accepted, in_doubt=in_flight)

    def _guard(self, run: OpenedRun, *, full: bool, dry: bool = False) -> None:
        """Refuse a lost, older or foreign snapshot (a full resync starts a new one); a run
        marks the snapshot and the state store when it ends, however it ends."""
        guard = SnapshotGuard(self.store, run.name, run.snapshot, run.planner.location)
        guard.check(override=full)
        # what a crashed run left in the journal is the snapshot's too: merged before anything
        # reads it (`plan` included), so its accepted keys are not planned again
        run.snapshot.recover()
        if not dry:
            run.stack.callback(guard.record, run.summary.run_id or 0)
            # the run's journal into the snapshot once, at its end (before the mark counts it)
            run.stack.callback(run.snapshot.merge)

    def _resolve_in_doubt(self, run: OpenedRun, resend: bool) -> None:
        """Apply the sync's policy to event keys an interrupted run left in flight."""
        if run.sync.object != "event":
            return
        keys = run.snapshot.in_doubt_keys()
        if not keys:
            return
        policy: Literal["skip", "resend"] = (
            "resend" if resend or run.sync.in_doubt == "resend" else "skip"
        )
        # the record first: a crash between the two leaves the keys in flight, found again next
        # run, rather than resolved but never reported
        action = "resent" if policy == "resend" else "skipped"
        self.store.add_in_doubt(run.summary.run_id or 0, keys, action)
        run.snapshot.resolve_in_doubt(keys, policy)
        if policy == "resend":
            run.summary.in_doubt_resent = len(keys)
        else:
            run.summary.in_doubt_skipped = len(keys)

    def _plan(self, run: OpenedRun, *, full: bool, dry: bool = False) -> Plan:
        history: Literal["send", "skip"] = "send"
        if run.sync.object == "event" and run.sync.history == "skip" and run.snapshot.first_run():
            history = "skip"
            run.summary.history = "skip: existing rows are marked as seen, none is sent"
        elif run.sync.object == "event":
            run.summary.history = "send"
        plan = run.planner.plan(full=full, history="send" if dry else history)
        run.stack.callback(plan.close)
        counts, s = plan.counts, run.summary
        s.rows_in_model, s.new, s.changed = counts.rows_in_model, counts.new, counts.changed
        s.unchanged, s.removed = counts.unchanged, counts.removed
        if dry and history == "skip":
            s.unchanged, s.new, s.changed = s.unchanged + s.new + s.changed, 0, 0
        s.invalid = counts.null_keys + counts.duplicate_keys
        if not dry and s.run_id is not None:
            self._record_invalid(run, plan)
            self.store.update_run(s.run_id, **s.store_counts())
        return plan

    def _record_invalid(self, run: OpenedRun, plan: Plan) -> None:
        rows = [
            RejectedRow(sync_key=key, code=code, message=message, column=run.sync.sync_key,
                        record=None)
            for key, code, message in plan.invalid_rows()
        ]
        self.store.add_rejections(run.summary.run_id or 0, rows)
        if run.log is not None:
            for row in rows:
                run.log.add([row.sync_key], "invalid", row.code, row.message, row.column)

    def _deliver(self, run: OpenedRun, plan: Plan, lease: Lease) -> None:
        summary, sync = run.summary, run.sync
        self.progress.start(run.name, summary.new + summary.changed)
        retry_ambiguous = sync.object == "profile" or sync.in_doubt == "resend"
        run.lease = lease
        # one budget of uploads in flight per destination account, shared with every run; a
        # destination (a plugin) that names no account has no limit shared across runs
        budget_key = getattr(run.client, "budget_key", None)
        slots: UploadSlots | None = None
        if budget_key:
            slots = UploadSlots(self.store, budget_key, holder=holder(),
                                capacity=run.client.capabilities.max_in_flight,
                                ttl_s=self.slot_ttl_s)
            slots.keep_alive()
            run.stack.callback(slots.release)
        delivery = Delivery(run.client, in_flight=sync.in_flight, retry=self.retry,
                            retry_ambiguous=retry_ambiguous, cancel=self.cancel,
                            budget=slots, halt=lease.lost.is_set)
        run.stack.callback(delivery.close)
        abandoned: list[Batch] = []
        if sync.object == "profile":  # a first run writes its keys once, not journal + merge
            run.snapshot.fill_directly()
        try:
            self._send_plan(run, plan, delivery, lease)
            for result in delivery.drain(grace_s=self.stop_grace_s):
                self.outcomes.handle(run, result)
                if sync.object == "event":  # no next batch to carry the answer: write it now
                    self.outcomes.flush_accepted(run)
        finally:
            # stopped (cancel, an error, Ctrl+C twice without the CLI's handler): what was sent
            # and not answered is accounted for, never silently dropped
            for batch in delivery.unsent():  # queued, never started: not sent, not failed
                run.reached -= len(batch.keys)
            abandoned = delivery.abandon()
            for batch in abandoned:
                self.outcomes.unanswered(run, batch)
            if run.first_upload is not None:
                summary.delivery_s = time.monotonic() - run.first_upload
            self.outcomes.flush_accepted(run)
            self.outcomes.flush_rejections(run)
        if lease.lost.is_set() and run.aborted is None:
            run.aborted = summary.error = lease.lost_reason
        # a stop that came when every row was already answered leaves a complete run
        stopped_early = bool(abandoned) or run.reached < summary.new + summary.changed
        if self.cancel.is_set() and not run.aborted and stopped_early:
            summary.error = "cancelled by a user"

    def _send_plan(self, run: OpenedRun, plan: Plan, delivery: Delivery, lease: Lease) -> None:
        """Cut the plan into batches and send them, until it ends or the run stops.

        Chunks wait whole in ``pending`` until they hold a batch: each batch is cut once, by
        index, rather than re-slicing everything still pending for every batch. A chunk's
        batches are handed to ``_submit`` together, so one write can mark several of them.
        """
        size, pending, count = run.sync.batch_size, list[Batch](), 0
        run.last_store = time.monotonic()
        for chunk in validation.chunks(run, plan, self.outcomes):
            if chunk.keys:
                pending.append(chunk)
                count += len(chunk.keys)
            ready: list[Batch] = []
            while count >= size:
                batch, pending = _take(pending, size)
                count -= size
                ready.append(batch)
            if ready:
                self._submit(run, delivery, ready, lease)
            if self._stopping(run):
                break
        if pending and not self._stopping(run):
            self._submit(run, delivery, [_take(pending, count)[0]], lease)

    def _delete(self, run: OpenedRun, plan: Plan, lease: Lease) -> None:
        """Send the run's deletes (engine/deletes.py): removed keys, or an erasure sync's rows."""
        summary = run.summary
        run.last_store = time.monotonic()
        # the run's journal first: deleting removed keys streams them from the work cursor,
        # which a merge in the middle (`Snapshot.forget`) would interrupt
        run.snapshot.merge()

        def tick() -> None:
            if lease.lost.is_set() and summary.error is None:  # stops the deleter at once
                run.aborted = summary.error = lease.lost_reason
            if run.sync.object == "delete":
                self.progress.advance(summary, summary.deleted + summary.delete_failed)
            self._maybe_heartbeat(run, lease)

        deleter = deletes.Deleter(run.name, run.sync, run.client, run.snapshot, summary,
                                  retry=self.retry, cancel=self.cancel, tick=tick, log=run.log)
        if run.sync.object == "delete":
            self.progress.start(run.name, summary.to_delete)
            deleter.erase(plan, lambda key, why: self.outcomes.reject(run, key, why, None))
            self.outcomes.flush_rejections(run)
            # every planned row ended deleted, delete_failed (a stop included) or rejected
            run.reached = summary.new + summary.changed
        else:
            deleter.delete_removed(plan)
        if self.cancel.is_set() and not summary.error:
            summary.error = "cancelled by a user"

    def _stopping(self, run: OpenedRun) -> bool:
        lost = run.lease is not None and run.lease.lost.is_set()
        return run.aborted is not None or self.cancel.is_set() or lost

    def _submit(self, run: OpenedRun, delivery: Delivery, batches: list[Batch],
                lease: Lease) -> None:
        """Send ``batches`` in order, as many at a time as there are free upload slots.

        Events: the batches about to be sent are marked in flight in one write, together with
        the answers that came in before it, and never more of them than the free slots; so at
        every committed write the keys in flight are at most those of ``in_flight`` batches,
        the batches sent and not answered (a crash leaves no wider in-doubt set), and a chunk's
        batches cost a write per group rather than one each (bench/PROFILING.md, round two:
        W3 events).
        """
        for batch in batches:
            batch.body = run.client.encode(batch.records)
        if run.sync.object != "event":
            self._queue(run, delivery, batches, lease)
            return
        at = 0
        while at < len(batches):
            finished = delivery.wait_for_slot()
            finished.extend(delivery.collect_done())  # answered already: in this write too
            for result in finished:
                self.outcomes.settle(run, result)
            sending: list[Batch] = []
            if not self._stopping(run):  # a stop while waiting for a slot: nothing more is sent
                sending = batches[at:at + delivery.free_slots()]
                at += len(sending)
                if sending and run.first_upload is None:
                    run.first_upload = time.monotonic()
                if sending:
                    self.outcomes.flush_accepted(run, in_flight=sending)
                for batch in sending:
                    delivery.send(batch)
                    run.reached += len(batch.keys)
            for result in finished:
                self._handle(run, delivery, result, settled=True)
            if self._stopping(run):
                return
            # per group, not per chunk: a chunk (validation.READ_ROWS) can hold a whole small
            # run, and the counts saved here are what a dashboard and a canceller see
            self._maybe_heartbeat(run, lease)

    def _queue(self, run: OpenedRun, delivery: Delivery, batches: list[Batch],
               lease: Lease) -> None:
        """Profiles: queue ``batches`` for the delivering threads, then handle answers until at
        most ``READY_AHEAD`` batches wait, and return to build the next chunk.

        A freed slot starts the next queued batch on the thread that got the answer, so it does
        not wait for this thread's build or commit. Profiles mark nothing in flight (an upsert
        sent twice is harmless), so the run need not know when each batch goes; queued batches
        a stop leaves unsent are taken back as not sent (``Delivery.unsent``).
        """
        if self._stopping(run):
            return
        if run.first_upload is None:
            run.first_upload = time.monotonic()
        run.reached += sum(len(batch.keys) for batch in batches)
        delivery.queue(batches)
        while True:
            for result in delivery.collect_done():
                self._handle(run, delivery, result)
            # per chunk at least, waiting or not: what a dashboard and a canceller see
            self._maybe_heartbeat(run, lease)
            if self._stopping(run) or delivery.queued <= READY_AHEAD:
                break
            for result in delivery.wait_any():
                self._handle(run, delivery, result)

    def _handle(self, run: OpenedRun, delivery: Delivery, result: BatchResult, *,
                settled: bool = False) -> None:
        """Account for one answer (``settled``: as ``Outcomes.handle``); a run it aborts stops
        retrying and starting uploads."""
        self.outcomes.handle(run, result, settled=settled)
        if run.aborted:
            delivery.stop()

    def _maybe_heartbeat(self, run: OpenedRun, lease: Lease) -> None:
        """Save the run's progress (``_heartbeat``) if more than ``_STORE_EVERY_S`` passed since
        it was last saved (``run.last_store``, set when its sending or deleting starts)."""
        if time.monotonic() - run.last_store > _STORE_EVERY_S:
            run.last_store = self._heartbeat(run, lease)

    def _heartbeat(self, run: OpenedRun, lease: Lease) -> float:
        # the lease renews itself (Lease.keep_alive); this saves the run's progress
        self.outcomes.flush_accepted(run)
        self.outcomes.flush_rejections(run)
        if run.log is not None:  # after the snapshot commit: the log never holds it up
            run.log.flush(whole_groups=True)
        if run.summary.run_id is not None:
            self.store.update_run(run.summary.run_id, **run.summary.store_counts())
        return time.monotonic()

    @staticmethod
    def _status(summary: RunSummary) -> str:
        if summary.error:
            return "cancelled" if summary.error == "cancelled by a user" else "failed"
        return run_status(SUCCEEDED, rejected=summary.rejected, invalid=summary.invalid,
                          fields_dropped=summary.fields_dropped)


def _take(pending: list[Batch], size: int) -> tuple[Batch, list[Batch]]:
    """The first ``size`` rows of the chunks in ``pending`` as one batch, and what is left.

    A chunk of exactly ``size`` rows (every row of a plan batch valid) is sent as it is.
    """
    first = pending[0]
    if len(first.keys) == size:
        return first, pending[1:]
    keys: list[str] = []
    hashes: list[object] = []
    records: list[Record] = []
    for at, chunk in enumerate(pending):
        wanted = size - len(keys)
        if len(chunk.keys) < wanted:
            keys += chunk.keys
            hashes += chunk.hashes
            records += chunk.records
            continue
        keys += chunk.keys[:wanted]
        hashes += chunk.hashes[:wanted]
        records += chunk.records[:wanted]
        left = pending[at + 1:]
        if len(chunk.keys) > wanted:
            left.insert(0, Batch(chunk.keys[wanted:], chunk.hashes[wanted:],
                                 chunk.records[wanted:]))  # fmt: skip
        return Batch(keys, hashes, records), left
    raise AssertionError("fewer pending rows than a batch")  # the caller counted them


def full_resend_refused(name: str) -> str:
    return (
        f"sync `{name}` sends events: a full resync would send every row of its model again, "
        "and CleverTap would store each one as a new event (every event already sent would be "
        "duplicated). Run without --full to send only new rows; to resend only the events an "
        "interrupted run left in doubt, use --resend-in-doubt; to resend every event on "
        "purpose, add --resend-events (API: \"resend_events\": true)."
    )
