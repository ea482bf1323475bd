"""The state store: run records, rejections, in-doubt keys and the per-sync lease."""

from __future__ import annotations

from syncline.store.records import InDoubtKey, RejectedRow, RunRecord, SnapshotMark
from syncline.store.store import Lease, StateStore

__all__ = ["InDoubtKey", "Lease", "RejectedRow", "RunRecord", "SnapshotMark", "StateStore"]
