"""The path of one run: lock → plan → map + validate → deliver → commit → record.

Every row of the model ends in exactly one count: unchanged, invalid (null or duplicate key),
rejected (locally or by the destination, with the reason), accepted, failed (its request failed
after retries; planned again next run) or in doubt (an event whose upload may or may not have
been stored). Only accepted keys enter the snapshot, batch by batch, so a crash loses nothing.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal, cast

from syncline.config.load import LoadedProject
from syncline.config.models import SyncConfig
from syncline.destinations.base import DestinationClient, Record, Rejection
from syncline.destinations.registry import destination_client
from syncline.engine.delivery import Batch, BatchResult, Delivery, RetryPolicy
from syncline.engine.guard import SnapshotGuard
from syncline.engine.mapping import RecordBuilder, ResolvedMapping, resolve_mapping
from syncline.engine.planner import HASH, Plan, Planner
from syncline.engine.snapshot import Snapshot
from syncline.engine.summary import NullProgress, Progress, RunSummary
from syncline.errors import ConfigError, SynclineError, Terminal
from syncline.sources.base import Source
from syncline.sources.registry import model_sql, open_source
from syncline.store import RejectedRow, StateStore

__all__ = ["Runner"]

_STORE_EVERY_S = 1.0
# profiles are upserts: their accepted keys are committed in groups (each commit is a durable write
# to the snapshot); a crash re-sends at most these rows, which CleverTap applies again unchanged
_COMMIT_PROFILES_EVERY = 20_000


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
    first_upload: float | None = None
    rejections: list[RejectedRow] = field(default_factory=list)
    accepted_keys: list[str] = field(default_factory=list)
    accepted_hashes: list[object] = field(default_factory=list)


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
    ) -> None:
        self.project = project
        self.store = store
        self.progress: Progress = progress or NullProgress()
        self.retry = retry
        self.cancel = cancel or threading.Event()

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
        trigger: str = "manual",
    ) -> RunSummary:
        """Run sync ``name`` to the end; the summary says how it went (never raises for rows)."""
        sync = self.sync(name)
        started = time.monotonic()
        with self.store.lease(name, holder=_holder()) as lease:
            run_id = self.store.start_run(name, trigger=trigger, full=full)
            lease.renew(run_id)  # a takeover of an expired lease then fails this run by id
            summary = RunSummary(sync=name, run_id=run_id, object=sync.object)
            try:
                with self._open(name, sync, summary) as run:
                    self._guard(run, full=full)  # before anything reads or writes the snapshot
                    self._resolve_in_doubt(run, resend_in_doubt)
                    planning = time.monotonic()
                    plan = self._plan(run, full=full)
                    summary.plan_s = time.monotonic() - planning
                    self._deliver(run, plan, lease)
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
                self.store.finish_run(
                    run_id, summary.status, error=summary.error, **summary.store_counts()
                )
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
            summary.preview = self._preview(run, plan, preview)
        summary.duration_s = time.monotonic() - started
        return summary

    # -- steps -------------------------------------------------------------------------------

    def _open(self, name: str, sync: SyncConfig, summary: RunSummary) -> _OpenRun:
        return _OpenRun(self.project, name, sync, summary)

    def _guard(self, run: _Run, *, full: bool, dry: bool = False) -> None:
        """Refuse a lost, older or foreign snapshot (a full resync starts a new one); a run
        marks the snapshot and the state store when it ends, however it ends."""
        guard = SnapshotGuard(self.store, run.name, run.snapshot, run.planner.location)
        guard.check(override=full)
        if not dry:
            run.stack.callback(guard.record, run.summary.run_id or 0)

    def _resolve_in_doubt(self, run: _Run, resend: bool) -> None:
        """Apply the sync's policy to event keys a crashed run left in flight."""
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
        run.summary.in_doubt_keys = list(keys)

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
        rows = (
            RejectedRow(sync_key=key, code=code, message=message, column=run.sync.sync_key,
                        record=None)
            for key, code, message in plan.invalid_rows()
        )
        self.store.add_rejections(run.summary.run_id or 0, rows)

    def _chunks(self, run: _Run, plan: Plan) -> Iterator[Batch]:
        """The plan's valid records, a chunk per Arrow batch; rejected rows are noted on the way.

        The destination screens each chunk by column; only the rows it suspects are checked
        one by one, with the exact rules.
        """
        builder = RecordBuilder(run.sync, run.mapping)
        for arrow_batch in plan.batches(run.sync.batch_size):
            built = builder.build(arrow_batch)
            hashes: list[object] = arrow_batch.column(HASH).to_pylist()
            rejections = built.rejections
            for i in run.client.suspects(built.columns) - rejections.keys():
                rejection = self._local_rejection(run, cast(Record, built.records[i]))
                if rejection is not None:
                    rejections[i] = rejection
            if not rejections:
                yield Batch(built.keys, hashes, cast(list[Record], built.records))
                continue
            for i in sorted(rejections):
                self._reject(run, built.keys[i], rejections[i], built.records[i])
            keep = [i for i in range(len(built.keys)) if i not in rejections]
            yield Batch([built.keys[i] for i in keep], [hashes[i] for i in keep],
                        [cast(Record, built.records[i]) for i in keep])

    def _local_rejection(self, run: _Run, record: Record) -> Rejection | None:
        rejection = run.client.validate(record)
        if rejection is None:
            return None
        column = run.mapping.column_for(rejection.column) if rejection.column else None
        return Rejection(rejection.code, rejection.message, column or rejection.column)

    def _reject(
        self, run: _Run, key: str | None, rejection: Rejection, record: Record | None
    ) -> None:
        run.summary.rejected += 1
        run.rejections.append(
            RejectedRow(sync_key=key, code=rejection.code, message=rejection.message,
                        column=rejection.column, record=record)
        )

    def _deliver(self, run: _Run, plan: Plan, lease: object) -> None:
        summary, sync = run.summary, run.sync
        self.progress.start(run.name, summary.new + summary.changed)
        retry_ambiguous = sync.object == "profile" or sync.in_doubt == "resend"
        delivery = Delivery(run.client, in_flight=sync.in_flight, retry=self.retry,
                            retry_ambiguous=retry_ambiguous)
        run.stack.callback(delivery.close)
        size, pending = sync.batch_size, Batch([], [], [])
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
        for result in delivery.drain():
            self._handle(run, result)
        if run.first_upload is not None:
            summary.delivery_s = time.monotonic() - run.first_upload
        self._flush_accepted(run)
        self._flush_rejections(run)
        if self.cancel.is_set() and not run.aborted:
            summary.error = "cancelled by a user"

    def _stopping(self, run: _Run) -> bool:
        return run.aborted is not None or self.cancel.is_set()

    def _submit(self, run: _Run, delivery: Delivery, batch: Batch) -> None:
        batch.body = run.client.encode(batch.records)
        if run.first_upload is None:
            run.first_upload = time.monotonic()
        if run.sync.object == "event":
            run.snapshot.mark_in_flight(batch.keys, batch.hashes, run.summary.run_id or 0)
        for result in delivery.submit(batch):
            self._handle(run, result)
            if run.aborted:
                delivery.stop()

    def _handle(self, run: _Run, result: BatchResult) -> None:
        """Commit what the destination accepted; account for everything else."""
        batch, summary = result.batch, run.summary
        events = run.sync.object == "event"
        if result.outcome is not None:
            rejected = result.outcome.rejected
            if rejected:
                accepted = [i for i in range(len(batch.keys)) if i not in rejected]
                run.accepted_keys.extend(batch.keys[i] for i in accepted)
                run.accepted_hashes.extend(batch.hashes[i] for i in accepted)
            else:
                run.accepted_keys.extend(batch.keys)
                run.accepted_hashes.extend(batch.hashes)
            if events or len(run.accepted_keys) >= _COMMIT_PROFILES_EVERY:
                self._flush_accepted(run)
            if events and rejected:
                run.snapshot.release([batch.keys[i] for i in rejected])
            for i, rejection in rejected.items():
                self._reject(run, batch.keys[i], self._explain(run, batch.records[i], rejection),
                             batch.records[i])
            summary.sent += len(batch.keys)
            summary.accepted += len(batch.keys) - len(rejected)
        elif result.in_doubt:
            summary.in_doubt += len(batch.keys)
            summary.in_doubt_keys.extend(batch.keys)
            self.store.add_in_doubt(summary.run_id or 0, batch.keys, "pending")
        else:
            summary.failed += len(batch.keys)
            if events:
                run.snapshot.release(batch.keys)
            if run.aborted is None:
                run.aborted = self._abort_message(run, result)
                summary.error = run.aborted
        self.progress.advance(summary, summary.sent + summary.failed + summary.in_doubt)

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

    def _heartbeat(self, run: _Run, lease: object) -> float:
        renew = getattr(lease, "renew", None)
        if callable(renew):
            renew()
        self._flush_accepted(run)
        self._flush_rejections(run)
        if run.summary.run_id is not None:
            self.store.update_run(run.summary.run_id, **run.summary.store_counts())
        return time.monotonic()

    def _flush_accepted(self, run: _Run) -> None:
        if run.accepted_keys:
            run.snapshot.commit(run.accepted_keys, run.accepted_hashes, run.summary.run_id or 0,
                                in_flight=run.sync.object == "event")
        run.accepted_keys, run.accepted_hashes = [], []

    def _flush_rejections(self, run: _Run) -> None:
        if run.rejections and run.summary.run_id is not None:
            self.store.add_rejections(run.summary.run_id, run.rejections)
        run.rejections = []

    def _preview(self, run: _Run, plan: Plan, limit: int) -> list[dict[str, object]]:
        preview: list[dict[str, object]] = []
        if limit <= 0:
            return preview
        for chunk in self._chunks(run, plan):
            preview.extend(chunk.records[: limit - len(preview)])
            if len(preview) >= limit:
                break
        run.summary.rejected = 0
        run.rejections = []
        return preview

    @staticmethod
    def _status(summary: RunSummary) -> str:
        if summary.error:
            return "cancelled" if summary.error == "cancelled by a user" else "failed"
        return "succeeded"


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
        source = open_source(sync.source, project.sources[sync.source], self.project.root)
        self.stack.callback(source.close)
        client = destination_client(project.destinations[sync.destination])
        self.stack.callback(client.close)
        sql = model_sql(sync.model, source)
        mapping = resolve_mapping(self.name, sync, source.columns(sql))
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
