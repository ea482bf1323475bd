"""Where a sync's log rows are, worked out from its definition alone, for the run page.

The run page says where a run's rows went and how to read them, without connecting to
anything (a GET never runs SQL): the same choices the runner makes when it opens the diff
store (``engine/opened.py``, ``engine/planner.py``), made on the config. A DuckDB, file or
read-only source, or ``diff: local``, keeps its snapshot and log in Syncline's own DuckDB file;
a writable SQL source keeps them in its ``syncline`` schema (MySQL: the ``syncline`` database,
the table named after the source database; SQLite: a ``syncline_`` table).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from syncline.config.models import Project
from syncline.engine.diff.dialects import DIALECTS as DIFF_DIALECTS
from syncline.engine.synclog import SyncLogSQL
from syncline.sources.sql_connect import DIALECTS as SQL_DIALECTS

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
    kind = str(getattr(source, "type", ""))
    read_only = bool(getattr(source, "read_only", False))
    if kind in SQL_DIALECTS and (sync.diff or ("local" if read_only else "source")) == "source":
        dialect = DIFF_DIALECTS.get(SQL_DIALECTS[kind][1])
        if dialect is None or not (dialect.sqlglot == "sqlite"
                                   or dialect.upsert.startswith("INSERT")):
            return None  # `diff: source` is refused there: the run had no log to write
        namespace = ""
        if dialect.sqlglot == "mysql":
            namespace = f"{_database(source) or 'none'}__"
        sql = SyncLogSQL(dialect, namespace, config)
        return SyncLogPlace(sql.table, f"source `{sync.source}` ({kind})", None,
                            _query(sql, sync_name, run_id))
    if kind not in SQL_DIALECTS and kind not in ("duckdb", "files", "google_sheets") \
            and sync.diff != "local":
        return None  # a plugin source: whether it is writable is known only once opened
    sql = SyncLogSQL(DIFF_DIALECTS["duckdb"], "", config)  # the file as a user opens it
    path = f".syncline/diff/{sync_name}.duckdb"
    return SyncLogPlace(sql.table, f"Syncline's DuckDB file `{path}` in the project folder",
                        path, _query(sql, sync_name, run_id))


def _database(source: object) -> str | None:
    database = getattr(source, "database", None)
    url = getattr(source, "url", None)
    if database is None and url is not None:
        database = sa.engine.make_url(url.get_secret_value()).database
    return str(database) if database else None


def _query(sql: SyncLogSQL, sync: str, run_id: int) -> str:
    return (f"SELECT {_READ}\nFROM {sql.table}\nWHERE sync = {sql.dialect.literal(sync)} "
            f"AND run_id = {int(run_id)}\nORDER BY logged_at")
