"""The diff's place for a planner a test opens on a source directly (no project around it),
decided as a run decides it (``engine/placement.py``)."""

from __future__ import annotations

from types import SimpleNamespace

from syncline.config.models import ModelConfig, SyncConfig
from syncline.engine.placement import DiffPlace, diff_place
from syncline.sources.base import Source


def place_of(src: Source, diff: str | None) -> DiffPlace:
    """Where a sync with ``diff:`` set to ``diff`` on ``src`` diffs; for the source's config,
    the database its engine is on (MySQL/MariaDB name Syncline's tables after it)."""
    sync = SyncConfig.model_validate({"source": src.name, "model": ModelConfig(table="t"),
                                      "destination": "ct", "object": "profile",
                                      "sync_key": "id", "diff": diff})
    engine = getattr(src, "engine", None)
    config = SimpleNamespace(database=engine.url.database if engine is not None else None)
    return diff_place("users", sync, config, src.capabilities)
