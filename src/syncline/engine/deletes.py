"""Deletes in the destination: keys gone from a profile sync's model, and erasure syncs.

Two ways a sync deletes profiles in CleverTap:

* ``on_removed: delete`` (profile syncs): keys in the snapshot that left the model since the last
  run are deleted after the run's upserts. The diff store lists them (an anti-join in SQL); each
  leaves the snapshot only once CleverTap confirmed its request, so a failed delete stays there
  and is tried again next run. A run that would delete more than ``max_delete_percent`` of the
  snapshot is refused before anything is sent (an empty or half-built model looks exactly like
  a mass removal), unless ``--allow-mass-delete``.
* ``object: delete`` (erasure syncs): each row of the model (a table of GDPR requests, say)
  names a profile to delete. Its snapshot works like an event sync's: a key is sent once, and
  recorded once CleverTap confirmed it.

Requests carry at most ``max_deletes_per_request`` identities (CleverTap: 100, documented) and go
one at a time: deletes are rare and small, and parallel delete requests were seen to hit
CleverTap's rate limits (RudderStack's integration notes it; the limit is not documented).
Deleting twice is harmless, so every transient failure is retried, timeouts included, and no
delete is ever *in doubt* (our reasoning: a profile that is gone stays gone).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa

from syncline.config.models import SyncConfig
from syncline.destinations.base import DestinationClient, Rejection
from syncline.destinations.clevertap.records import to_string
from syncline.engine.delivery import RetryPolicy
from syncline.engine.diff.sql import HASH, KEY
from syncline.engine.mapping import ResolvedMapping
from syncline.engine.planner import Plan, PlanCounts
from syncline.engine.snapshot import Snapshot
from syncline.engine.summary import RunSummary
from syncline.engine.synclog import SyncLog
from syncline.errors import ConfigError, DestinationError, MassDeleteError, ModelError, Transient
from syncline.sources.base import Column

__all__ = ["Deleter", "check_delete_limit", "check_erasure_run", "deletes_removed",
           "erasure_mapping", "plan_deletes", "preview_erasure", "preview_removed"]

Reject = Callable[[str | None, Rejection], None]


def deletes_removed(sync: SyncConfig) -> bool:
    """Whether this sync deletes keys that left its model."""
    return sync.object == "profile" and sync.on_removed == "delete"


def erasure_mapping(name: str, sync: SyncConfig, columns: Sequence[Column]) -> ResolvedMapping:
    """An erasure sync maps nothing: its key and identity columns must exist, that is all."""
    names = {c.name.lower(): c.name for c in columns}
    found = []
    for option, column in (("sync_key", sync.sync_key), ("identity_column", sync.user_column)):
        if column.lower() not in names:
            raise ModelError(
                f"sync `{name}`: {option} names column `{column}`, which the model lacks; its "
                f"columns are: {', '.join(c.name for c in columns) or 'none'}. Fix the sync "
                "or the model.")
        found.append(names[column.lower()])
    fingerprint = f"delete:{sync.identity_field}:{found[1]}"
    return ResolvedMapping((), tuple(dict.fromkeys(found)), fingerprint)


def check_erasure_run(name: str, sync: SyncConfig, *, full: bool) -> None:
    """An erasure sync deletes each key once: a full resync would delete them all again."""
    if sync.object == "delete" and full:
        raise ConfigError(
            f"sync `{name}` is an erasure sync: `--full` would delete again every profile it "
            "ever deleted, including people who signed up again since. Run it without --full.")


def _limit_message(name: str, sync: SyncConfig, removed: int, in_snapshot: int) -> str | None:
    """Why the mass-delete limit holds these deletes back, or None when it does not."""
    if not removed or removed * 100 <= sync.max_delete_percent * in_snapshot:
        return None
    share = removed * 100 / in_snapshot
    return (f"sync `{name}`: {removed:,} of the {in_snapshot:,} profiles synced so far "
            f"({share:.1f}%) left the model, more than `max_delete_percent: "
            f"{sync.max_delete_percent:g}`, so a run sends nothing and fails. If the model is "
            "right, run with --allow-mass-delete (or raise `max_delete_percent`); if not, fix "
            "the model.")


def plan_deletes(name: str, sync: SyncConfig, counts: PlanCounts, summary: RunSummary, *,
                 allow_mass_delete: bool) -> None:
    """How many deletes this run sends, and the note when the limit holds them back."""
    if sync.object == "delete":
        summary.to_delete = counts.new + counts.changed
    elif deletes_removed(sync):
        summary.to_delete = counts.removed
        if not allow_mass_delete:
            summary.delete_note = _limit_message(name, sync, counts.removed, counts.in_snapshot)


def check_delete_limit(summary: RunSummary) -> None:
    """Refuse the run, before anything is sent, when the mass-delete limit holds it back."""
    if summary.delete_note is not None:
        raise MassDeleteError(summary.delete_note)


def _identities(array: pa.Array) -> list[str]:
    """Identities as text, as the upload sends them ("" for a null)."""
    return ["" if v is None else to_string(v) for v in array.to_pylist()]


class Deleter:
    """Sends one run's deletes, one request at a time, and keeps the snapshot and counts."""

    def __init__(self, name: str, sync: SyncConfig, client: DestinationClient,
                 snapshot: Snapshot, summary: RunSummary, *, retry: RetryPolicy | None = None,
                 cancel: threading.Event | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 tick: Callable[[], None] = lambda: None,
                 log: SyncLog | None = None) -> None:
        self.name, self.sync, self.client = name, sync, client
        self.log = log
        self.snapshot, self.summary = snapshot, summary
        self.retry = retry or RetryPolicy()
        self.cancel = cancel or threading.Event()
        self._sleep, self._tick = sleep, tick
        self._rng = random.Random()
        self.size = max(1, min(client.capabilities.max_deletes_per_request, sync.batch_size))

    def delete_removed(self, plan: Plan) -> None:
        """Delete every key that left the model; a key leaves the snapshot once confirmed."""
        for keys in plan.removed_keys(self.size):
            if self._stopped():
                self._failed(keys)
                continue
            if self._delete(keys):
                self.snapshot.forget(keys)
                self._deleted(keys)
            else:
                self._failed(keys)
            self._tick()

    def erase(self, plan: Plan, reject: Reject) -> None:
        """Erasure sync: delete each planned row's identity; a confirmed key is recorded."""
        for batch in plan.batches(self.size):
            for start in range(0, batch.num_rows, self.size):
                self._erase_chunk(batch.slice(start, self.size), reject)

    def _erase_chunk(self, batch: pa.RecordBatch, reject: Reject) -> None:
        names = {n.lower(): n for n in batch.schema.names}
        keys = [str(k) for k in batch.column(KEY).to_pylist()]
        hashes: list[object] = batch.column(HASH).to_pylist()
        identities = _identities(batch.column(names[self.sync.user_column.lower()]))
        keep = []
        for i, identity in enumerate(identities):
            if identity.strip():
                keep.append(i)
            else:
                reject(keys[i], Rejection(
                    "missing_identity", f"column `{self.sync.user_column}` is empty or NULL, so "
                    "there is no profile to delete; fix the row, it is tried again next run.",
                    self.sync.user_column))
        if not keep:
            return
        kept = [keys[i] for i in keep]
        if self._stopped():
            self._failed(kept)
            return
        if self._delete([identities[i] for i in keep]):
            self.snapshot.commit(kept, [hashes[i] for i in keep], self.summary.run_id or 0)
            self._deleted(kept)
        else:
            self._failed(kept)
        self._tick()

    def _deleted(self, keys: Sequence[str]) -> None:
        self.summary.deleted += len(keys)
        if self.log is not None:
            self.log.add(keys, "deleted", operation="delete")

    def _failed(self, keys: Sequence[str]) -> None:
        self.summary.delete_failed += len(keys)
        if self.log is not None:
            self.log.add(keys, "failed", message=self.summary.error or "not sent: run stopped",
                         operation="delete")

    def _stopped(self) -> bool:
        return self.summary.error is not None or self.cancel.is_set()

    def _delete(self, identities: Sequence[str]) -> bool:
        """One request (duplicates sent once), retried on transient errors; True if confirmed."""
        unique = list(dict.fromkeys(identities))
        attempt = 0
        while True:
            attempt += 1
            try:
                self.client.delete_profiles(unique, field=self.sync.identity_field)
                return True
            except DestinationError as exc:
                retry = isinstance(exc, Transient) and attempt < self.retry.max_attempts
                if not retry or self.cancel.is_set():
                    self.summary.error = (
                        f"sync `{self.name}`: CleverTap did not confirm a delete after {attempt} "
                        f"attempt(s): {exc}. Profiles not confirmed deleted stay in the snapshot "
                        "and are deleted on the next run.")
                    return False
                self._sleep(self.retry.delay(attempt, self._rng))


def preview_removed(plan: Plan, limit: int) -> list[str]:
    """The first removed keys, for ``plan``."""
    return _first(plan.removed_keys(max(1, limit)), limit)


def preview_erasure(plan: Plan, sync: SyncConfig, limit: int) -> list[str]:
    """The first identities an erasure sync would delete, for ``plan``."""
    def identities() -> Iterator[list[str]]:
        for batch in plan.batches(max(1, limit)):
            names = {n.lower(): n for n in batch.schema.names}
            yield [i for i in _identities(batch.column(names[sync.user_column.lower()])) if i]
    return _first(identities(), limit)


def _first(chunks: Iterator[list[str]], limit: int) -> list[str]:
    out: list[str] = []
    if limit <= 0:
        return out
    for chunk in chunks:
        out.extend(chunk[: limit - len(out)])
        if len(out) >= limit:
            break
    return out
