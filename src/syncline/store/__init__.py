"""The state store: run records, rejections, in-doubt keys, the per-sync lease, upload slots."""

from __future__ import annotations

from syncline.store.coordination import Coordination, Fire
from syncline.store.records import (
    DroppedField,
    InDoubtKey,
    RejectedRow,
    RejectionGroup,
    RunRecord,
    SnapshotMark,
)
from syncline.store.slots import UploadSlots
from syncline.store.store import Lease, StateStore

__all__ = [
    "Coordination",
    "DroppedField",
    "Fire",
    "InDoubtKey",
    "Lease",
    "RejectedRow",
    "RejectionGroup",
    "RunRecord",
    "SnapshotMark",
    "StateStore",
    "UploadSlots",
]
