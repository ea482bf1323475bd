"""Where a sync's log rows are, worked out from its definition alone, for the run page.

The run page says where a run's rows went and how to read them, without connecting to
anything (a GET never runs SQL). Where the diff runs, and so where the snapshot and the log
are, is decided by ``engine/placement.py`` for the run and for this page alike: Syncline's own
DuckDB file (a local diff, a DuckDB source), or the source's ``syncline`` schema (MySQL: the
``syncline`` database, the table named after the source database; SQLite: a ``syncline_``
table).
"""

from __future__ import annotations

from dataclasses import dataclass

from syncline.config.models import Project
from syncline.engine.diff.dialects import DIALECTS as DIFF_DIALECTS
from syncline.engine.placement import diff_place
from syncline.engine.synclog import SyncLogSQL

__all__ = ["SyncLogPlace", "sync_log_place"]

_READ = "sync_key, operation, outcome, code, message, column_name, logged_at"


@dataclass(frozen=True)
class SyncLogPlace:
    """The table holding a sync's log, the database it is in, and how to read one run."""

    table: str
    where: str
    local_file: str | None
    """The DuckDB file (relative to the project folder) when the log is in Syncline's own."""
    query: str


def sync_log_place(project: Project, sync_name: str, run_id: int) -> SyncLogPlace | None:
    """Where run ``run_id`` of ``sync_name`` wrote its log rows; None when the sync keeps no
    log (or its source is a plugin whose capabilities only opening it tells)."""
    sync = project.syncs.get(sync_name)
    if sync is None:
        return None
    config = sync.sync_log or project.sync_log
    source = project.sources.get(sync.source)
    if not config.enabled or source is None:
        return None
    place = diff_place(sync_name, sync, source)
    if place is None or place.refused is not None:
        return None  # a plugin source, or a diff the run refused: it had no log to write
    if place.local_file:
        sql = SyncLogSQL(DIFF_DIALECTS["duckdb"], "", config)  # the file as a user opens it
        path = f".syncline/diff/{sync_name}.duckdb"
        return SyncLogPlace(sql.table, f"Syncline's DuckDB file `{path}` in the project folder",
                            path, _query(sql, sync_name, run_id))
    sql = SyncLogSQL(DIFF_DIALECTS[place.dialect], place.namespace, config)
    kind = str(getattr(source, "type", ""))
    return SyncLogPlace(sql.table, f"source `{sync.source}` ({kind})", None,
                        _query(sql, sync_name, run_id))


def _query(sql: SyncLogSQL, sync: str, run_id: int) -> str:
    return (f"SELECT {_READ}\nFROM {sql.table}\nWHERE sync = {sql.dialect.literal(sync)} "
            f"AND run_id = {int(run_id)}\nORDER BY logged_at")
