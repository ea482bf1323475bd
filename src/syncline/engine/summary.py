"""The account of one run: what was planned, sent, accepted, rejected, failed or left in doubt."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from syncline.store.counts import ordered_counts
from syncline.store.statuses import status_text

__all__ = ["NullProgress", "Progress", "RunSummary"]


@dataclass(slots=True)
class RunSummary:
    """Counts of one run, as ``syncline run --json`` prints them and the state store keeps them.

    ``sent`` counts records that reached the destination in a request; ``accepted`` and
    ``rejected`` split them by the destination's answer; ``rejected`` also counts rows Syncline
    rejected before sending (a local rule broken, a value that cannot be converted); ``invalid``
    counts rows with a null or duplicate sync key; ``failed`` counts records whose request
    failed after its retries (tried again next run); ``in_doubt`` counts event keys that may or
    may not have reached CleverTap; ``not_sent`` counts planned rows a run that stopped early
    (failed, cancelled) never reached (planned again next run). Whatever the status,
    ``new + changed == accepted + rejected + failed + in_doubt + not_sent`` (``adds_up``).

    ``in_doubt_skipped`` and ``in_doubt_resent`` count the keys an earlier, interrupted run left
    in doubt that this run resolved by the sync's policy (they are not part of this run's plan
    when skipped; when resent they are planned again and counted like any new row).

    Deletes (``on_removed: delete``, erasure syncs) have counts of their own: ``deleted``
    counts profiles CleverTap confirmed deleted; ``delete_failed`` those not confirmed (their
    request failed, or the run stopped first), which stay in the snapshot and are deleted on
    the next run. With ``on_removed: delete``, removed = deleted + delete_failed unless the run
    was refused before sending anything (``delete_note`` says why).
    """

    sync: str
    run_id: int | None = None
    status: str = "running"
    object: str = "profile"
    rows_in_model: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    invalid: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    in_doubt: int = 0
    fields_dropped: int = 0
    """``on_invalid_field: drop_field``: properties left out of records that were sent (each
    reported as a warning); not counted in ``rejected``."""
    not_sent: int = 0
    in_doubt_skipped: int = 0
    in_doubt_resent: int = 0
    in_doubt_keys: list[str] = field(default_factory=list)
    history: str | None = None
    duration_s: float = 0.0
    plan_s: float = 0.0
    """Seconds spent diffing the model against the snapshot."""
    delivery_s: float = 0.0
    """Seconds from the first upload to the last answer: the rate the destination saw."""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    """What the run left out on purpose (columns ``sync_all`` cannot send), one line each."""
    preview: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    """Uploads sent again after a transient failure (429, 5xx, a timeout)."""
    throttled: int = 0
    """Of those, the destination's 429 answers (too many concurrent uploads)."""
    sync_log_rows: int = 0
    """Rows written to the sync log in the warehouse (when ``sync_log`` is enabled)."""
    sync_log_error: str | None = None
    """Why the sync log could not be written (a warning: the run itself is unaffected)."""
    deleted: int = 0
    delete_failed: int = 0
    to_delete: int = 0
    """Deletes this run would send: removed keys (``on_removed: delete``) or erasure rows."""
    delete_preview: list[str] = field(default_factory=list)
    """``plan``: the first identities it would delete."""
    delete_note: str | None = None
    """Why deletes are held back (the mass-delete limit), when they are."""
    checks: list[dict[str, Any]] = field(default_factory=list)
    """``plan``: every planned row checked locally; per (outcome, code, column): how many rows
    would be rejected or lose a field, with the reason and example keys."""

    @property
    def planned(self) -> dict[str, int]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
        }

    @property
    def adds_up(self) -> bool:
        """Every planned row is in exactly one outcome count.

        An erasure sync (``object: delete``) accepts nothing: its planned rows end deleted or
        delete_failed (deletes of removed keys, ``on_removed: delete``, are not planned rows).
        """
        outcomes = self.accepted + self.rejected + self.failed + self.in_doubt + self.not_sent
        if self.object == "delete":
            outcomes += self.deleted + self.delete_failed
        return self.new + self.changed == outcomes

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable summary (``--json``)."""
        data = asdict(self)
        for name in ("new", "changed", "unchanged", "removed"):
            data.pop(name)
        data["planned"] = self.planned
        for name in ("duration_s", "plan_s", "delivery_s"):
            data[name] = round(data[name], 3)
        data["status_text"] = status_text(self.status)
        data["counts"] = ordered_counts(self.store_counts())
        return data

    def log_fields(self) -> dict[str, Any]:
        """What the run's end log line carries: status, counts and timings, no records."""
        data = self.to_dict()
        for name in ("preview", "in_doubt_keys"):
            data.pop(name, None)
        data["in_doubt_keys"] = len(self.in_doubt_keys)
        return data

    def store_counts(self) -> dict[str, int]:
        """The counts as the state store's ``runs`` columns name them."""
        return {
            "rows_in_model": self.rows_in_model,
            "planned_new": self.new,
            "planned_changed": self.changed,
            "planned_unchanged": self.unchanged,
            "planned_removed": self.removed,
            "invalid": self.invalid,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "failed": self.failed,
            "in_doubt": self.in_doubt,
            "deleted": self.deleted,
            "delete_failed": self.delete_failed,
            "fields_dropped": self.fields_dropped,
            "not_sent": self.not_sent,
            "in_doubt_skipped": self.in_doubt_skipped,
            "in_doubt_resent": self.in_doubt_resent,
        }


class Progress(Protocol):
    """Where a run reports progress: a Rich bar on a terminal, log lines otherwise."""

    def start(self, sync: str, total: int) -> None: ...

    def advance(self, summary: RunSummary, done: int) -> None: ...

    def finish(self, summary: RunSummary) -> None: ...


class NullProgress:
    """Reports nothing (API runs, tests)."""

    def start(self, sync: str, total: int) -> None:
        return None

    def advance(self, summary: RunSummary, done: int) -> None:
        return None

    def finish(self, summary: RunSummary) -> None:
        return None
