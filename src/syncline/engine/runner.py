"""The path of one run: lock → plan → map + validate → deliver → commit → record.

Every row of the model ends in exactly one count: unchanged, invalid (null or duplicate key),
rejected (locally or by the destination, with the reason), accepted, failed (its request failed
after retries; planned again next run), in doubt (an event whose upload may or may not have
been stored) or not sent (a run that stopped early never reached it; planned again next run).
Only accepted keys enter the snapshot, batch by batch, so a crash loses nothing.

A run stops early on a terminal error, or when ``cancel`` is set (Ctrl+C, the dashboard's
cancel): it takes no new batch, waits up to ``stop_grace_s`` for the uploads in flight to
answer, commits what was accepted and accounts for the rest (unanswered events in doubt).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal, cast

from syncline.alerts import AlertNotifier
from syncline.config.dbt import resolve_model
from syncline.config.load import LoadedProject
from syncline.config.models import SyncConfig
from syncline.destinations.base import DestinationClient, FieldFault, Record, Rejection
from syncline.destinations.registry import destination_client
from syncline.engine import deletes
from syncline.engine.builder import RecordBuilder
from syncline.engine.delivery import Batch, BatchResult, Delivery, RetryPolicy
from syncline.engine.guard import SnapshotGuard
from syncline.engine.mapping import ResolvedMapping, resolve_mapping
from syncline.engine.planner import HASH, Plan, Planner
from syncline.engine.snapshot import Snapshot
from syncline.engine.summary import NullProgress, Progress, RunSummary
from syncline.engine.synclog import LogEntry, SyncLog, key_history
from syncline.errors import ConfigError, SynclineError, Terminal
from syncline.sources.base import Source
from syncline.sources.registry import model_sql, open_source
from syncline.store import DroppedField, Lease, RejectedRow, StateStore, UploadSlots
from syncline.store.statuses import SUCCEEDED, run_status
from syncline.tracing import span

__all__ = ["Runner", "full_resend_refused"]

log = logging.getLogger("syncline.run")

_STORE_EVERY_S = 1.0
# profiles are upserts: their accepted keys are committed in groups (each commit is a durable write
# to the snapshot); a crash re-sends at most these rows, which CleverTap applies again unchanged
_COMMIT_PROFILES_EVERY = 20_000
_EXAMPLES = 3  # example keys `plan` shows per rejection code and column
STOP_GRACE_S = 15.0
"""How long a cancelled run waits for its uploads in flight to answer before giving up on them."""
UNANSWERED = "no answer before the run stopped"


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Run:
    """Everything one run holds open, closed together."""

    name: str
    sync: SyncConfig
    source: Source
    client: DestinationClient
    model_sql: str
    mapping: ResolvedMapping
    planner: Planner
    snapshot: Snapshot
    summary: RunSummary
    stack: ExitStack
    aborted: str | None = None
    lease: Lease | None = None
    first_upload: float | None = None
    rejections: list[RejectedRow] = field(default_factory=list)
    dropped: list[DroppedField] = field(default_factory=list)
    accepted_keys: list[str] = field(default_factory=list)
    accepted_hashes: list[object] = field(default_factory=list)
    log: SyncLog | None = None
    reached: int = 0
    """Planned rows sent or rejected locally; the rest of the plan is ``not_sent``."""


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
        with self.store.lease(name, holder=_holder(), ttl_s=self.lease_ttl_s) as lease:
            run_id = self.store.start_run(name, trigger=trigger, full=full)
            lease.renew(run_id)  # a takeover of an expired lease then fails this run by id
            lease.keep_alive()  # renewed even while an upload blocks the run
            summary = RunSummary(sync=name, run_id=run_id, object=sync.object)
            log.info("run started", extra={"event": "run_start", "sync": name, "run_id": run_id,
                                           "trigger": trigger, "full": full})
            opened: _Run | None = None
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
                self.store.finish_run(
                    run_id, summary.status, error=summary.error, **summary.store_counts()
                )
                self._finished(summary)
                self.progress.finish(summary)
        return summary

    def plan(self, name: str, *, full: bool = False, preview: int = 5) -> RunSummary:
        """What a run would send, without sending anything or changing the snapshot."""
        sync = self.sync(name)
        started = time.monotonic()
        summary = RunSummary(sync=name, object=sync.object, status="planned")
        with self.store.lease(name, holder=_holder()), self._open(name, sync, summary) as run:
            self._guard(run, full=full, dry=True)
            if sync.object == "event":
                summary.in_doubt_keys = run.snapshot.in_doubt_keys()
                summary.in_doubt = len(summary.in_doubt_keys)
            plan = self._plan(run, full=full, dry=True)
            deletes.plan_deletes(name, sync, plan.counts, summary, allow_mass_delete=False)
            if sync.object == "delete":
                summary.delete_preview = deletes.preview_erasure(plan, sync, preview)
            else:
                summary.preview = self._check_all(run, plan, preview)
                if summary.to_delete:
                    summary.delete_preview = deletes.preview_removed(plan, preview)
        summary.duration_s = time.monotonic() - started
        return summary

    def _finished(self, summary: RunSummary) -> None:
        """Log the run's end and tell the alerts; neither may change how the run went."""
        log.info("run finished", extra={"event": "run_end", **summary.log_fields()})
        if summary.run_id is None or not self.project.project.alerts:
            return
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

    def _open(self, name: str, sync: SyncConfig, summary: RunSummary) -> _OpenRun:
        return _OpenRun(self.project, name, sync, summary)

    def _open_log(self, run: _Run) -> None:
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

    def _finish_crashed(self, run: _Run, run_id: int | None) -> None:
        """Close the account of the run whose dead process this run took the lock from.

        Only the snapshot knows what it committed and what it left in flight (in doubt), so
        this is done here, before the in-doubt keys are resolved.
        """
        if run_id is None:
            return
        accepted, in_flight = run.snapshot.run_counts(run_id)
        self.store.finish_crashed(run_id, accepted=accepted, in_doubt=in_flight)

    def _guard(self, run: _Run, *, full: bool, dry: bool = False) -> None:
        """Refuse a lost, older or foreign snapshot (a full resync starts a new one); a run
        marks the snapshot and the state store when it ends, however it ends."""
        guard = SnapshotGuard(self.store, run.name, run.snapshot, run.planner.location)
        guard.check(override=full)
        if not dry:
            run.stack.callback(guard.record, run.summary.run_id or 0)

    def _resolve_in_doubt(self, run: _Run, resend: bool) -> None:
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

    def _plan(self, run: _Run, *, full: bool, dry: bool = False) -> Plan:
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

    def _record_invalid(self, run: _Run, plan: Plan) -> None:
        rows = [
            RejectedRow(sync_key=key, code=code, message=message, column=run.sync.sync_key,
                        record=None)
            for key, code, message in plan.invalid_rows()
        ]
        self.store.add_rejections(run.summary.run_id or 0, rows)
        if run.log is not None:
            for row in rows:
                run.log.add([row.sync_key], "invalid", row.code, row.message, row.column)

    def _chunks(self, run: _Run, plan: Plan) -> Iterator[Batch]:
        """The plan's valid records, a chunk per Arrow batch; rejected rows are noted on the way.

        The destination screens each chunk by column; only the rows it suspects are checked
        one by one, with the exact rules.
        """
        builder = RecordBuilder(run.sync, run.mapping)
        drop = run.sync.on_invalid_field == "drop_field"
        for arrow_batch in plan.batches(run.sync.batch_size):
            built = builder.build(arrow_batch)
            hashes: list[object] = arrow_batch.column(HASH).to_pylist()
            rejections = built.rejections
            drops = {i: [FieldFault(name, r.code, r.message, r.column) for name, r in faults]
                     for i, faults in built.dropped.items()}  # fmt: skip
            for i in run.client.suspects(built.columns) - rejections.keys():
                record = cast(Record, built.records[i])
                rejection = self._local_rejection(run, record)
                if rejection is None:
                    continue
                if drop and rejection.faults:
                    kept = run.client.drop_fields(record, [f.field for f in rejection.faults])
                    if run.client.validate(kept) is None:
                        built.records[i] = kept
                        drops.setdefault(i, []).extend(rejection.faults)
                        continue
                rejections[i] = rejection
            for i, faults in drops.items():
                if i not in rejections:
                    self._drop_fields(run, built.keys[i], faults)
            if not rejections:
                yield Batch(built.keys, hashes, cast(list[Record], built.records))
                continue
            run.reached += len(rejections)
            for i in sorted(rejections):
                self._reject(run, built.keys[i], rejections[i], built.records[i])
            keep = [i for i in range(len(built.keys)) if i not in rejections]
            yield Batch([built.keys[i] for i in keep], [hashes[i] for i in keep],
                        [cast(Record, built.records[i]) for i in keep])

    def _local_rejection(self, run: _Run, record: Record) -> Rejection | None:
        """The destination's verdict, with source columns named; every field at fault listed."""
        rejection = run.client.validate(record)
        if rejection is None:
            return None
        column = run.mapping.column_for(rejection.column) if rejection.column else None
        faults = tuple(FieldFault(f.field, f.code, f.message,
                                  run.mapping.column_for(f.field) or f.column)
                       for f in rejection.faults)  # fmt: skip
        message = rejection.message
        if len(faults) > 1:
            message += ". Every field at fault: " + "; ".join(
                f"{f.field} (column `{f.column or f.field}`): {f.code} {f.message}"
                for f in faults
            )
        return Rejection(rejection.code, message, column or rejection.column, faults)

    def _drop_fields(self, run: _Run, key: str, faults: list[FieldFault]) -> None:
        """Report fields left out of a record that is sent (a warning, not a rejection)."""
        run.summary.fields_dropped += len(faults)
        run.dropped.extend(DroppedField(key, f.field, f.column, f.code, f.message)
                           for f in faults)  # fmt: skip

    def _reject(
        self, run: _Run, key: str | None, rejection: Rejection, record: Record | None
    ) -> None:
        run.summary.rejected += 1
        if run.log is not None:
            run.log.add([key], "rejected", rejection.code, rejection.message, rejection.column)
        run.rejections.append(
            RejectedRow(sync_key=key, code=rejection.code, message=rejection.message,
                        column=rejection.column, record=record)
        )

    def _deliver(self, run: _Run, plan: Plan, lease: Lease) -> None:
        summary, sync = run.summary, run.sync
        self.progress.start(run.name, summary.new + summary.changed)
        retry_ambiguous = sync.object == "profile" or sync.in_doubt == "resend"
        run.lease = lease
        # one budget of uploads in flight per destination account, shared with every run; a
        # destination (a plugin) that names no account has no limit shared across runs
        budget_key = getattr(run.client, "budget_key", None)
        slots: UploadSlots | None = None
        if budget_key:
            slots = UploadSlots(self.store, budget_key, holder=_holder(),
                                capacity=run.client.capabilities.max_in_flight,
                                ttl_s=self.slot_ttl_s)
            slots.keep_alive()
            run.stack.callback(slots.release)
        delivery = Delivery(run.client, in_flight=sync.in_flight, retry=self.retry,
                            retry_ambiguous=retry_ambiguous, cancel=self.cancel,
                            budget=slots, halt=lease.lost.is_set)
        run.stack.callback(delivery.close)
        abandoned: list[Batch] = []
        try:
            self._send_plan(run, plan, delivery, lease)
            for result in delivery.drain(grace_s=self.stop_grace_s):
                self._handle(run, result)
        finally:
            # stopped (cancel, an error, Ctrl+C twice without the CLI's handler): what was sent
            # and not answered is accounted for, never silently dropped
            abandoned = delivery.abandon()
            for batch in abandoned:
                self._unanswered(run, batch)
            if run.first_upload is not None:
                summary.delivery_s = time.monotonic() - run.first_upload
            self._flush_accepted(run)
            self._flush_rejections(run)
        if lease.lost.is_set() and run.aborted is None:
            run.aborted = summary.error = lease.lost_reason
        # a stop that came when every row was already answered leaves a complete run
        stopped_early = bool(abandoned) or run.reached < summary.new + summary.changed
        if self.cancel.is_set() and not run.aborted and stopped_early:
            summary.error = "cancelled by a user"

    def _send_plan(self, run: _Run, plan: Plan, delivery: Delivery, lease: Lease) -> None:
        """Cut the plan into batches and send them, until it ends or the run stops."""
        size, pending = run.sync.batch_size, Batch([], [], [])
        last_store = time.monotonic()
        for chunk in self._chunks(run, plan):
            pending.keys += chunk.keys
            pending.hashes += chunk.hashes
            pending.records += chunk.records
            while len(pending.records) >= size and not self._stopping(run):
                batch = Batch(pending.keys[:size], pending.hashes[:size], pending.records[:size])
                pending = Batch(pending.keys[size:], pending.hashes[size:], pending.records[size:])
                self._submit(run, delivery, batch)
            if self._stopping(run):
                break
            if time.monotonic() - last_store > _STORE_EVERY_S:
                last_store = self._heartbeat(run, lease)
        if pending.records and not self._stopping(run):
            self._submit(run, delivery, pending)

    def _delete(self, run: _Run, plan: Plan, lease: Lease) -> None:
        """Send the run's deletes (engine/deletes.py): removed keys, or an erasure sync's rows."""
        summary = run.summary
        last_store = time.monotonic()

        def tick() -> None:
            nonlocal last_store
            if lease.lost.is_set() and summary.error is None:  # stops the deleter at once
                run.aborted = summary.error = lease.lost_reason
            if run.sync.object == "delete":
                self.progress.advance(summary, summary.deleted + summary.delete_failed)
            if time.monotonic() - last_store > _STORE_EVERY_S:
                last_store = self._heartbeat(run, lease)

        deleter = deletes.Deleter(run.name, run.sync, run.client, run.snapshot, summary,
                                  retry=self.retry, cancel=self.cancel, tick=tick, log=run.log)
        if run.sync.object == "delete":
            self.progress.start(run.name, summary.to_delete)
            deleter.erase(plan, lambda key, rejection: self._reject(run, key, rejection, None))
            self._flush_rejections(run)
            # every planned row ended deleted, delete_failed (a stop included) or rejected
            run.reached = summary.new + summary.changed
        else:
            deleter.delete_removed(plan)
        if self.cancel.is_set() and not summary.error:
            summary.error = "cancelled by a user"

    def _stopping(self, run: _Run) -> bool:
        lost = run.lease is not None and run.lease.lost.is_set()
        return run.aborted is not None or self.cancel.is_set() or lost

    def _submit(self, run: _Run, delivery: Delivery, batch: Batch) -> None:
        batch.body = run.client.encode(batch.records)
        finished = delivery.wait_for_slot()
        if not self._stopping(run):  # a stop while waiting for a slot: this batch is not sent
            if run.first_upload is None:
                run.first_upload = time.monotonic()
            if run.sync.object == "event":
                run.snapshot.mark_in_flight(batch.keys, batch.hashes, run.summary.run_id or 0)
            delivery.send(batch)
            run.reached += len(batch.keys)
        for result in [*finished, *delivery.collect_done()]:
            self._handle(run, result)
            if run.aborted:
                delivery.stop()

    def _handle(self, run: _Run, result: BatchResult) -> None:
        """Commit what the destination accepted; account for everything else."""
        batch, summary = result.batch, run.summary
        events = run.sync.object == "event"
        if result.retried_after:
            summary.retries += len(result.retried_after)
            summary.throttled += result.throttled
            log.info("upload retried", extra={
                "event": "retry", "sync": run.name, "run_id": summary.run_id,
                "attempts": result.attempts, "throttled": result.throttled,
                "last_error": result.retried_after[-1]})
        if result.outcome is not None:
            rejected, unknown = result.outcome.rejected, result.outcome.unknown
            if rejected or unknown:
                accepted = [i for i in range(len(batch.keys))
                            if i not in rejected and i not in unknown]
                run.accepted_keys.extend(batch.keys[i] for i in accepted)
                run.accepted_hashes.extend(batch.hashes[i] for i in accepted)
                if run.log is not None:
                    run.log.add([batch.keys[i] for i in accepted], "accepted")
            else:
                run.accepted_keys.extend(batch.keys)
                run.accepted_hashes.extend(batch.hashes)
                if run.log is not None:
                    run.log.add(batch.keys, "accepted")
            if events or len(run.accepted_keys) >= _COMMIT_PROFILES_EVERY:
                self._flush_accepted(run)
            if events and rejected:
                run.snapshot.release([batch.keys[i] for i in rejected])
            for i, rejection in rejected.items():
                self._reject(run, batch.keys[i], self._explain(run, batch.records[i], rejection),
                             batch.records[i])
            if unknown:
                self._not_understood(run, batch, unknown)
            summary.sent += len(batch.keys)
            summary.accepted += len(batch.keys) - len(rejected) - len(unknown)
        elif result.in_doubt:
            if run.log is not None:
                run.log.add(batch.keys, "in_doubt", message=str(result.error))
            summary.in_doubt += len(batch.keys)
            summary.in_doubt_keys.extend(batch.keys)
            self.store.add_in_doubt(summary.run_id or 0, batch.keys, "pending",
                                    reason=str(result.error) if result.error else None)
        else:
            if run.log is not None:
                run.log.add(batch.keys, "failed", message=str(result.error))
            summary.failed += len(batch.keys)
            if events:
                run.snapshot.release(batch.keys)
            if run.aborted is None and not self.cancel.is_set():
                lost = run.lease.lost_reason if run.lease is not None else None
                run.aborted = lost or self._abort_message(run, result)
                summary.error = run.aborted
        self.progress.advance(summary, summary.sent + summary.failed + summary.in_doubt)

    def _not_understood(self, run: _Run, batch: Batch, unknown: Mapping[int, Rejection]) -> None:
        """Records CleverTap did not process for a reason we do not recognise (a new code).

        Events: in doubt, with CleverTap's raw text as the reason (their keys stay in flight;
        the in-doubt policy decides next run). Profiles: failed, so sent again next run; the
        run ends failed with the text, since something is going on that we do not understand.
        """
        summary = run.summary
        keys = {i: batch.keys[i] for i in unknown}
        if run.sync.object == "event":
            summary.in_doubt += len(keys)
            summary.in_doubt_keys.extend(keys.values())
            by_reason: dict[str, list[str]] = {}
            for i, key in keys.items():
                by_reason.setdefault(unknown[i].message, []).append(key)
            for reason, same in by_reason.items():
                self.store.add_in_doubt(summary.run_id or 0, same, "pending", reason=reason)
            return
        summary.failed += len(keys)
        if summary.error is None:
            first = min(keys)
            summary.error = (
                f"sync `{run.name}`: CleverTap did not process {len(keys)} record(s) for a reason "
                f"Syncline does not recognise (key {keys[first]}: code {unknown[first].code}, "
                f"{unknown[first].message!r}); they stay out of the snapshot and are sent again "
                "on the next run."
            )

    def _unanswered(self, run: _Run, batch: Batch) -> None:
        """A batch sent but not answered when the run stopped: its records may have arrived.

        Events stay in flight in the snapshot (in doubt; the next run applies the policy);
        profiles are failed (not in the snapshot, sent again next run: an upsert, harmless).
        """
        summary = run.summary
        if run.sync.object == "event":
            summary.in_doubt += len(batch.keys)
            summary.in_doubt_keys.extend(batch.keys)
            self.store.add_in_doubt(summary.run_id or 0, batch.keys, "pending",
                                    reason=UNANSWERED)
        else:
            summary.failed += len(batch.keys)

    def _explain(self, run: _Run, record: Record, rejection: Rejection) -> Rejection:
        """Name the source column of a destination rejection, when the local rules can tell."""
        local = run.client.validate(record)
        if local is not None and local.code == rejection.code and local.column:
            return Rejection(rejection.code, rejection.message,
                             run.mapping.column_for(local.column) or local.column)
        return rejection

    def _abort_message(self, run: _Run, result: BatchResult) -> str:
        error = result.error
        kind = "refused the request" if isinstance(error, Terminal) else "kept failing"
        return (
            f"sync `{run.name}`: the destination {kind} after {result.attempts} attempt(s): "
            f"{error}. Records not accepted stay out of the snapshot and are sent on the next run."
        )

    def _heartbeat(self, run: _Run, lease: Lease) -> float:
        # the lease renews itself (Lease.keep_alive); this saves the run's progress
        self._flush_accepted(run)
        self._flush_rejections(run)
        if run.log is not None:  # after the snapshot commit: the log never holds it up
            run.log.flush()
        if run.summary.run_id is not None:
            self.store.update_run(run.summary.run_id, **run.summary.store_counts())
        return time.monotonic()

    def _flush_accepted(self, run: _Run) -> None:
        if run.accepted_keys:
            with span("syncline.commit", sync=run.name, keys=len(run.accepted_keys)):
                run.snapshot.commit(run.accepted_keys, run.accepted_hashes,
                                    run.summary.run_id or 0, in_flight=run.sync.object == "event")
        run.accepted_keys, run.accepted_hashes = [], []

    def _flush_rejections(self, run: _Run) -> None:
        if run.rejections and run.summary.run_id is not None:
            self.store.add_rejections(run.summary.run_id, run.rejections)
        run.rejections = []
        if run.dropped and run.summary.run_id is not None:
            self.store.add_dropped_fields(run.summary.run_id, run.dropped)
        run.dropped = []

    def _check_all(self, run: _Run, plan: Plan, limit: int) -> list[dict[str, object]]:
        """Build and check every planned row as a run would, sending nothing.

        The summary then says how many rows would be rejected (``rejected``) or sent without
        some field (``fields_dropped``), grouped by code and column in ``checks``; the answer
        is the first ``limit`` records as CleverTap would get them.
        """
        preview: list[dict[str, object]] = []
        groups: dict[tuple[str, str, str | None], dict[str, object]] = {}

        def note(kind: str, code: str, column: str | None, message: str, key: str | None) -> None:
            group = groups.setdefault((kind, code, column), {
                "outcome": kind, "code": code, "column": column, "message": message,
                "count": 0, "examples": []})  # fmt: skip
            group["count"] = cast(int, group["count"]) + 1
            examples = cast(list[str | None], group["examples"])
            if len(examples) < _EXAMPLES:
                examples.append(key)

        for chunk in self._chunks(run, plan):
            if len(preview) < limit:
                preview.extend(chunk.records[: limit - len(preview)])
            for row in run.rejections:
                note("rejected", row.code, row.column, row.message, row.sync_key)
            for dropped in run.dropped:
                note("field_dropped", dropped.code, dropped.column or dropped.field,
                     dropped.message, dropped.sync_key)
            run.rejections, run.dropped = [], []
        run.summary.checks = sorted(groups.values(), key=lambda g: -cast(int, g["count"]))
        return preview

    @staticmethod
    def _status(summary: RunSummary) -> str:
        if summary.error:
            return "cancelled" if summary.error == "cancelled by a user" else "failed"
        return run_status(SUCCEEDED, rejected=summary.rejected, invalid=summary.invalid,
                          fields_dropped=summary.fields_dropped)


def full_resend_refused(name: str) -> str:
    return (
        f"sync `{name}` sends events: a full resync would send every row of its model again, "
        "and CleverTap would store each one as a new event (every event already sent would be "
        "duplicated). Run without --full to send only new rows; to resend only the events an "
        "interrupted run left in doubt, use --resend-in-doubt; to resend every event on "
        "purpose, add --resend-events (API: \"resend_events\": true)."
    )


class _OpenRun:
    """Opens the source, the destination client and the planner of one run; closes them all."""

    def __init__(self, project: LoadedProject, name: str, sync: SyncConfig,
                 summary: RunSummary) -> None:
        self.project, self.name, self.sync, self.summary = project, name, sync, summary
        self.stack = ExitStack()

    def __enter__(self) -> _Run:
        try:
            return self._open()
        except BaseException:
            self.stack.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def _open(self) -> _Run:
        project, sync = self.project.project, self.sync
        model = resolve_model(sync.model, project.sources[sync.source], self.project.root,
                              sync=self.name, source=sync.source)  # a dbt model: its table
        source = open_source(sync.source, project.sources[sync.source], self.project.root)
        self.stack.callback(source.close)
        client = destination_client(project.destinations[sync.destination])
        self.stack.callback(client.close)
        sql = model_sql(model, source)
        columns = source.columns(sql)
        mapping = (deletes.erasure_mapping(self.name, sync, columns) if sync.object == "delete"
                   else resolve_mapping(self.name, sync, columns))
        self.summary.warnings = list(mapping.warnings)
        diff = sync.diff or ("source" if source.capabilities.writable else "local")
        local_dir = self.project.root / ".syncline" / "diff"
        local_dir.mkdir(parents=True, exist_ok=True)
        planner = Planner(
            self.name, source, sql, key_column=sync.sync_key,
            hash_columns=mapping.hash_columns, salt=mapping.fingerprint,
            mode="upsert" if sync.object == "profile" else "append",
            diff=diff, local_path=local_dir / f"{self.name}.duckdb",
        )
        close = getattr(planner, "close", None)
        if callable(close):
            self.stack.callback(close)
        return _Run(self.name, sync, source, client, sql, mapping, planner, planner.snapshot(),
                    self.summary, self.stack)
