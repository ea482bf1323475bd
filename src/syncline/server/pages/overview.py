"""The home page's overview: every sync with its schedule, next run and last run, and the runs
that failed in the last 24 hours, which is what someone opening the dashboard wants first.

It reads the state store in two queries (`StateStore.last_runs`, `StateStore.failed_since`)
whatever the number of syncs, and the scheduler for the next due instants."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.orm import Session

from syncline.errors import SynclineError
from syncline.server.jobs import RunManager
from syncline.server.project.definitions import list_syncs
from syncline.store import RunRecord

__all__ = ["FAILURE_WINDOW", "overview"]

FAILURE_WINDOW = timedelta(hours=24)
"""How far back the overview lists failed runs."""


def _view(record: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(orjson.dumps(record.to_dict(), default=str))
    return data


def overview(manager: RunManager | None, session: Session,
             now: datetime | None = None) -> dict[str, Any]:
    """``syncs``: one dict per saved sync (name, schedule, paused, next run, last run or None);
    ``failures``: the runs that failed since ``now`` minus `FAILURE_WINDOW`, newest first.
    Without a state store (a server started with no run manager) every sync has no run."""
    since = (now or datetime.now(UTC)) - FAILURE_WINDOW
    last: dict[str, RunRecord] = {}
    failures: list[RunRecord] = []
    due: dict[str, str] = {}
    if manager is not None:
        try:
            last = manager.store.last_runs()
            failures = manager.store.failed_since(since)
        except SynclineError:
            pass  # the store is unreachable: the page still lists the syncs
        due = {entry.name: entry.next_due.isoformat(timespec="seconds")
               for entry in manager.scheduler.syncs() if not entry.paused}
    syncs = []
    for row in list_syncs(session):
        config = json.loads(row.body)
        record = last.get(row.name)
        syncs.append({"name": row.name, "schedule": config.get("schedule"),
                      "paused": row.paused, "next_due": due.get(row.name),
                      "last": _view(record) if record is not None else None})
    return {"syncs": syncs, "failures": [_view(r) for r in failures],
            "failure_hours": int(FAILURE_WINDOW.total_seconds() // 3600)}
