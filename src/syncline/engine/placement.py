"""Where a sync's diff runs, decided in one place from its definition and its source's.

The runner opens the diff store there (``engine/opened.py``, ``engine/planner.py``); the run
page tells where a run's sync log rows are (``engine/synclog_place.py``) without opening
anything. Both ask ``diff_place``, so the page can never point elsewhere than the run wrote.

The rule: ``diff:`` on the sync, else in the source when it is writable, else local. A local
diff, and any diff of a DuckDB source (read in place, attached read-only), keeps its snapshot
and log in Syncline's own DuckDB file; a diff in a SQL source keeps them there, in its
``syncline`` schema (SQLite: ``syncline_`` tables; MySQL/MariaDB: the ``syncline`` database,
table names prefixed with the source database's). ``diff: source`` on a read-only source, or
on a dialect whose statements are rendered but not yet run, is refused when the run opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, overload

import sqlalchemy as sa

from syncline.config.models import SyncConfig
from syncline.engine.diff.dialects import DIALECTS
from syncline.sources.base import SourceCapabilities
from syncline.sources.registry import capabilities_of

__all__ = ["DiffPlace", "diff_place"]

Diff = Literal["local", "source"]


@dataclass(frozen=True)
class DiffPlace:
    """Where one sync's diff runs and keeps its snapshot (and sync log)."""

    diff: Diff
    """The sync's ``diff:``, or its default (``source`` when the source is writable)."""
    dialect: str
    """The diff store's dialect: ``duckdb`` for Syncline's own file, else the source's."""
    namespace: str = ""
    """The prefix of Syncline's table names there (MySQL/MariaDB: ``<database>__``)."""
    refused: str | None = None
    """Why the diff cannot run there: the run stops with this ConfigError, before planning."""

    @property
    def local_file(self) -> bool:
        """Whether the snapshot is in Syncline's own DuckDB file, not in the source."""
        return self.dialect == "duckdb"


@overload
def diff_place(sync_name: str, sync: SyncConfig, source: Any,
               capabilities: SourceCapabilities) -> DiffPlace: ...
@overload
def diff_place(sync_name: str, sync: SyncConfig, source: Any,
               capabilities: None = None) -> DiffPlace | None: ...
def diff_place(sync_name: str, sync: SyncConfig, source: Any,
               capabilities: SourceCapabilities | None = None) -> DiffPlace | None:
    """Where ``sync``'s diff runs, from its definition and its source's config (``source``).

    ``capabilities``: the opened source's, when the caller has it open (the runner); without
    them a built-in source's are told from its config, and a plugin source's place is unknown
    (None) unless the sync says ``diff: local``.
    """
    caps = capabilities or capabilities_of(source)
    if caps is None:
        return DiffPlace("local", "duckdb") if sync.diff == "local" else None
    diff: Diff = sync.diff or ("source" if caps.writable else "local")
    refused = None
    if diff == "source" and not caps.writable:
        refused = (f"sync `{sync_name}`: `diff: source` needs a writable source, and "
                   f"`{sync.source}` is read-only; use `diff: local` or set `read_only: false` "
                   "on the source.")
    if diff == "local" or caps.dialect == "duckdb":
        return DiffPlace(diff, "duckdb", refused=refused)
    dialect = DIALECTS.get(caps.dialect)
    if dialect is None:
        refused = refused or (f"sync `{sync_name}`: `diff: source` is not supported for source "
                              f"`{sync.source}` ({caps.dialect}); use `diff: local`.")
    elif not (dialect.sqlglot == "sqlite" or dialect.upsert.startswith("INSERT")):
        refused = refused or (f"sync `{sync_name}`: `diff: source` on {dialect.sqlglot} (source "
                              f"`{sync.source}`) is rendered but not yet run by Syncline; use "
                              "`diff: local` for now.")
    namespace = ""
    if dialect is not None and dialect.sqlglot == "mysql":  # one `syncline` database for all
        namespace = f"{_database(source) or 'none'}__"
    return DiffPlace("source", caps.dialect, namespace, refused)


def _database(source: Any) -> str | None:
    """The database a network SQL source's config names (``database:``, or the URL's)."""
    database = getattr(source, "database", None)
    url = getattr(source, "url", None)
    if database is None and url is not None:
        database = sa.engine.make_url(url.get_secret_value()).database
    return str(database) if database else None
