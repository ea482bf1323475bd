"""Frozen records the store hands out: callers never see ORM rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from syncline.store.counts import ordered_counts
from syncline.store.statuses import status_text

__all__ = [
    "DroppedField", "InDoubtKey", "RejectedRow", "RejectionGroup", "RunRecord", "SnapshotMark",
]


@dataclass(frozen=True)
class RejectedRow:
    """One record a run did not deliver, with the reason (what `syncline rejections` shows)."""

    sync_key: str | None
    code: str
    message: str
    column: str | None = None
    record: dict[str, Any] | None = None


@dataclass(frozen=True)
class RejectionGroup:
    """How many of a run's records were rejected with one code on one column: the summary
    the run and rejections pages show above the rows."""

    code: str
    column: str | None
    count: int


@dataclass(frozen=True)
class DroppedField:
    """A property left out of a record that was sent (``on_invalid_field: drop_field``)."""

    sync_key: str | None
    field: str
    column: str | None
    code: str
    message: str


@dataclass(frozen=True)
class InDoubtKey:
    """A key left in flight by a crashed run and what was done about it."""

    run_id: int
    sync_key: str
    action: str
    reason: str | None = None
    """CleverTap's raw text, when its answer left the key in doubt (else a crash or timeout)."""


@dataclass(frozen=True)
class SnapshotMark:
    """What a sync's snapshot held at the end of a run: written beside the snapshot and in
    the state store, so a lost or restored snapshot is noticed (engine/guard.py)."""

    snapshot_id: str
    run_id: int
    keys: int
    location: str = ""


@dataclass(frozen=True)
class RunRecord:
    """One run as recorded: status, timing and counts.

    ``status`` is the word shown everywhere (`syncline.store.statuses.run_status`), derived
    from the stored status and the counts. The counts are declared in `RUN_COUNTS` order, so
    ``to_dict`` lists them as every view does."""

    id: int
    sync: str
    status: str
    trigger: str
    full: bool
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None
    rows_in_model: int = 0
    planned_new: int = 0
    planned_changed: int = 0
    planned_unchanged: int = 0
    planned_removed: int = 0
    invalid: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    in_doubt: int = 0
    not_sent: int = 0
    in_doubt_skipped: int = 0
    in_doubt_resent: int = 0
    fields_dropped: int = 0
    deleted: int = 0
    delete_failed: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """The counts by name, as stored, in the order every view shows them."""
        data = asdict(self)
        return ordered_counts({k: v for k, v in data.items() if isinstance(v, int)
                               and k != "id" and not isinstance(v, bool)})

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish; None while the run is still going."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and `--json` output."""
        data = asdict(self)
        for name in ("started_at", "finished_at", "heartbeat_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        data["duration_s"] = self.duration_s
        data["status_text"] = status_text(self.status)
        data["counts"] = self.counts
        return data
