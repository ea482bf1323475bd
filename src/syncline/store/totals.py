"""Totals over the runs table, for ``/metrics``.

Read from the state store at scrape time, not counted in memory: every process that runs syncs
(the server, CLI runs, workers) writes the same table, so the totals are the same whichever
process a scrape reaches, and they survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from syncline.store import tables as t
from syncline.store.statuses import SUCCEEDED, SUCCEEDED_WITH_REJECTIONS, run_status

__all__ = ["OUTCOMES", "LastRun", "last_runs", "record_totals", "run_totals"]

OUTCOMES = ("accepted", "rejected", "failed", "in_doubt", "invalid")
"""The runs columns that say what became of a record (``syncline_records_total{outcome}``)."""


@dataclass(frozen=True)
class LastRun:
    """The newest finished run of a sync."""

    sync: str
    status: str
    duration_s: float
    records_per_s: float


def run_totals(engine: sa.Engine) -> list[tuple[str, str, int]]:
    """(sync, status, runs) for every pair that occurred."""
    left_rows = (sa.func.coalesce(t.runs.c.rejected, 0) + sa.func.coalesce(t.runs.c.invalid, 0)
                 + sa.func.coalesce(t.runs.c.fields_dropped, 0))
    status = sa.case((sa.and_(t.runs.c.status == SUCCEEDED, left_rows > 0),
                      SUCCEEDED_WITH_REJECTIONS), else_=t.runs.c.status)  # as run_status says
    query = sa.select(t.runs.c.sync, status, sa.func.count()).group_by(t.runs.c.sync, status)
    with engine.connect() as conn:
        return [(str(s), str(st), int(n)) for s, st, n in conn.execute(query)]


def record_totals(engine: sa.Engine) -> list[tuple[str, str, int]]:
    """(sync, outcome, records) summed over every run."""
    query = sa.select(t.runs.c.sync, *[sa.func.coalesce(sa.func.sum(t.runs.c[o]), 0)
                                       for o in OUTCOMES]).group_by(t.runs.c.sync)
    with engine.connect() as conn:
        return [(str(row[0]), outcome, int(row[i + 1]))
                for row in conn.execute(query) for i, outcome in enumerate(OUTCOMES)]


def last_runs(engine: sa.Engine) -> list[LastRun]:
    """Each sync's newest finished run: its status, duration and records sent per second."""
    newest = (sa.select(sa.func.max(t.runs.c.id))
              .where(t.runs.c.finished_at.is_not(None), t.runs.c.status != "skipped")
              .group_by(t.runs.c.sync))
    query = sa.select(t.runs).where(t.runs.c.id.in_(newest))
    found: list[LastRun] = []
    with engine.connect() as conn:
        for row in conn.execute(query):
            started, finished = _utc(row.started_at), _utc(row.finished_at)
            took = max((finished - started).total_seconds(), 0.0)
            sent = int(row.sent or 0)
            status = run_status(str(row.status), rejected=row.rejected or 0,
                                invalid=row.invalid or 0, fields_dropped=row.fields_dropped or 0)
            found.append(LastRun(str(row.sync), status, took,
                                 sent / took if took > 0 else 0.0))
    return found


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
