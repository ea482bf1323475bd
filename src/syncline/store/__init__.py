"""The state store: run records, rejections, in-doubt keys and the per-sync lease."""

from __future__ import annotations

from syncline.store.coordination import Coordination, Fire
from syncline.store.records import InDoubtKey, RejectedRow, RunRecord
from syncline.store.store import Lease, StateStore

__all__ = ["Coordination", "Fire", "InDoubtKey", "Lease", "RejectedRow", "RunRecord", "StateStore"]
