"""What became of each batch: accepted keys committed, everything else accounted for.

A batch's answer splits its records between the counts of ``RunSummary``: accepted (into the
snapshot's journal, in groups for profiles, with the next in-flight marks for events),
rejected (with CleverTap's code and the source column), failed (sent again next run), or in
doubt (events that may have arrived: their keys stay in flight and the sync's in-doubt policy
decides next run). Rejections and dropped fields are buffered and written to the state store
with each heartbeat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from syncline.destinations.base import FieldFault, Record, Rejection
from syncline.engine.delivery import Batch, BatchResult
from syncline.engine.opened import OpenedRun
from syncline.engine.summary import Progress
from syncline.errors import Terminal
from syncline.store import DroppedField, RejectedRow, StateStore
from syncline.tracing import span

__all__ = ["UNANSWERED", "Outcomes"]

log = logging.getLogger("syncline.run")

# profiles are upserts: their accepted keys are committed in groups (each commit is a durable write
# to the snapshot); a crash re-sends at most these rows, which CleverTap applies again unchanged
_COMMIT_PROFILES_EVERY = 20_000
UNANSWERED = "no answer before the run stopped"


class Outcomes:
    """The accounting of one runner's runs, against its state store."""

    def __init__(self, store: StateStore, progress: Progress, cancel: threading.Event) -> None:
        self.store, self.progress, self.cancel = store, progress, cancel

    def settle(self, run: OpenedRun, result: BatchResult) -> None:
        """Buffer what the snapshot learns from a batch's answer; ``flush_accepted`` writes it.

        Accepted keys (with their hash) enter it; events rejected or failed leave it (their
        in-flight mark is released); events in doubt or not understood stay in flight.
        """
        batch, events = result.batch, run.sync.object == "event"
        if result.outcome is not None:
            rejected, unknown = result.outcome.rejected, result.outcome.unknown
            if rejected or unknown:
                accepted = [i for i in range(len(batch.keys))
                            if i not in rejected and i not in unknown]
                run.accepted_keys.extend(batch.keys[i] for i in accepted)
                run.accepted_hashes.extend(batch.hashes[i] for i in accepted)
            else:
                run.accepted_keys.extend(batch.keys)
                run.accepted_hashes.extend(batch.hashes)
            if events and rejected:
                run.released_keys.extend(batch.keys[i] for i in rejected)
        elif not result.in_doubt and events:
            run.released_keys.extend(batch.keys)

    def handle(self, run: OpenedRun, result: BatchResult, *, settled: bool = False) -> None:
        """Account for a batch's answer; its snapshot part is buffered (``settle``) unless
        ``settled`` says the caller did that already. Profiles' accepted keys are written in
        groups here; events' with the next in-flight marks (the runner) or a flush."""
        batch, summary = result.batch, run.summary
        if not settled:
            self.settle(run, result)
        if result.retried_after:
            summary.retries += len(result.retried_after)
            summary.throttled += result.throttled
            log.info("upload retried", extra={
                "event": "retry", "sync": run.name, "run_id": summary.run_id,
                "attempts": result.attempts, "throttled": result.throttled,
                "last_error": result.retried_after[-1]})
        if result.outcome is not None:
            rejected, unknown = result.outcome.rejected, result.outcome.unknown
            if run.log is not None:
                run.log.add([k for i, k in enumerate(batch.keys)
                             if i not in rejected and i not in unknown]
                            if rejected or unknown else batch.keys, "accepted")
            if run.sync.object != "event" and len(run.accepted_keys) >= _COMMIT_PROFILES_EVERY:
                self.flush_accepted(run)
            for i, rejection in rejected.items():
                self.reject(run, batch.keys[i], self._explain(run, batch.records[i], rejection),
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
            if run.aborted is None and not self.cancel.is_set():
                lost = run.lease.lost_reason if run.lease is not None else None
                run.aborted = lost or self._abort_message(run, result)
                summary.error = run.aborted
        self.progress.advance(summary, summary.sent + summary.failed + summary.in_doubt)


    def reject(
        self, run: OpenedRun, key: str | None, rejection: Rejection, record: Record | None
    ) -> None:
        run.summary.rejected += 1
        if run.log is not None:
            run.log.add([key], "rejected", rejection.code, rejection.message, rejection.column)
        run.rejections.append(
            RejectedRow(sync_key=key, code=rejection.code, message=rejection.message,
                        column=rejection.column, record=record)
        )


    def drop_fields(self, run: OpenedRun, key: str, faults: list[FieldFault]) -> None:
        """Report fields left out of a record that is sent (a warning, not a rejection)."""
        run.summary.fields_dropped += len(faults)
        run.dropped.extend(DroppedField(key, f.field, f.column, f.code, f.message)
                           for f in faults)  # fmt: skip


    def unanswered(self, run: OpenedRun, batch: Batch) -> None:
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


    def flush_accepted(self, run: OpenedRun, in_flight: Sequence[Batch] = ()) -> None:
        """Write the buffered answers (and the marks of the ``in_flight`` batches, about to be
        sent) to the snapshot: one write, however many batches it marks."""
        marked: tuple[list[str], list[object]] = ([], [])
        for batch in in_flight:
            marked[0].extend(batch.keys)
            marked[1].extend(batch.hashes)
        if run.accepted_keys or run.released_keys or marked[0]:
            with span("syncline.commit", sync=run.name, keys=len(run.accepted_keys)):
                run.snapshot.record(run.summary.run_id or 0,
                                    accepted=(run.accepted_keys, run.accepted_hashes),
                                    released=run.released_keys, in_flight=marked)
        run.accepted_keys, run.accepted_hashes, run.released_keys = [], [], []


    def flush_rejections(self, run: OpenedRun) -> None:
        if run.rejections and run.summary.run_id is not None:
            self.store.add_rejections(run.summary.run_id, run.rejections)
        run.rejections = []
        if run.dropped and run.summary.run_id is not None:
            self.store.add_dropped_fields(run.summary.run_id, run.dropped)
        run.dropped = []


    def _not_understood(self, run: OpenedRun, batch: Batch,
                        unknown: Mapping[int, Rejection]) -> None:
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


    def _explain(self, run: OpenedRun, record: Record, rejection: Rejection) -> Rejection:
        """Name the source column of a destination rejection, when the local rules can tell."""
        local = run.client.validate(record)
        if local is not None and local.code == rejection.code and local.column:
            return Rejection(rejection.code, rejection.message,
                             run.mapping.column_for(local.column) or local.column)
        return rejection


    def _abort_message(self, run: OpenedRun, result: BatchResult) -> str:
        error = result.error
        kind = "refused the request" if isinstance(error, Terminal) else "kept failing"
        return (
            f"sync `{run.name}`: the destination {kind} after {result.attempts} attempt(s): "
            f"{error}. Records not accepted stay out of the snapshot and are sent on the next run."
        )
