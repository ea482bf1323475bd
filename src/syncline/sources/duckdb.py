"""A DuckDB database file as a source, always opened read-only and locked down.

DuckDB lets one process open a file for writing, or many processes open it read-only, never
both. Syncline only reads the user's file (the diff keeps its snapshot in Syncline's own DuckDB
file, see engine/diff/store.py), so any number of syncs, from any number of processes, read one
warehouse side by side. A writer of the user's own (a load, a dbt run) still locks readers out:
opening then waits for it, a bounded time (`LOCK_WAIT_S`).

DuckDB can read any file and the environment's neighbourhood (``read_text``, ``read_csv``,
``glob``, extensions), and a model runs with the server's rights. So the connection that runs
models is locked down from the start: external access off (no file, URL or extension outside the
database file itself), extensions neither installed nor auto-loaded, and the configuration
locked so no statement can turn any of it back on. Each statement run is checked by DuckDB's own
parser to be exactly one SELECT (``check_duckdb_select``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from syncline.config.models import DuckDBSourceConfig
from syncline.errors import ModelError, SourceError
from syncline.sources.base import Column, SourceCapabilities
from syncline.sources.model_query import check_duckdb_select

__all__ = ["LOCKED_DOWN", "LOCK_WAIT_S", "MEMORY_LIMIT", "DuckDBSource", "open_duckdb_source",
           "wait_for_lock"]

MEMORY_LIMIT = "128MB"
"""DuckDB's memory for the diff and a DuckDB source; its joins, GROUP BYs and sorts spill to
disk beyond it (``.syncline/diff/tmp``).

Fixed and small, so DuckDB's share of a run's memory does not grow with the model: DuckDB uses
the room it is given. It can be, because nothing of the diff's must stay in memory whole: the
DuckDB snapshot has no PRIMARY KEY (engine/diff/dialects.py ``keyed_snapshot``). DuckDB kept that
index in memory, and a 10M-key snapshot failed at 100MB and 200MB, so the limit had been a
quarter of the machine's memory (a 10M first run then peaked at 3.5 GB). 64MB failed while
sorting the plan (an earlier attempt); 128MB ran the 10M and 30M runs of `python -m bench
--only W2,W7` (bench/PROFILING.md, "Round two: a snapshot without a key index").

Not lower: 96MB ran out of memory in a 10M plan with 1% changed (the bad-key `GROUP BY` of the
model's keys); 104MB passed it, so 128MB leaves that pass about 25MB. DuckDB's allocator
settings (flush thresholds, background threads) and `operator_memory_limit` did not lower a
run's peak (bench/PROFILING.md, "DuckDB's allocator settings and a lower memory limit").
"""

LOCKED_DOWN: dict[str, str | bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
"""DuckDB settings of a connection that runs models (DuckDB docs, "Securing DuckDB")."""

LOCK_WAIT_S = 60.0
"""How long opening a DuckDB file waits for another process's write lock to go."""

T = TypeVar("T")


def wait_for_lock(open_file: Callable[[], T]) -> T:
    """``open_file()``, retried while another process holds the file's write lock.

    DuckDB fails at once (`Could not set lock on file`); a writer usually finishes within
    seconds, so the run queues for the file instead of failing, up to `LOCK_WAIT_S`.
    """
    deadline, delay = time.monotonic() + LOCK_WAIT_S, 0.05
    while True:
        try:
            return open_file()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class DuckDBSource:
    """One DuckDB file, read-only; each call uses its own cursor.

    ``read_only`` (the source's setting) only chooses where the diff runs by default: reading
    this file in place (`diff: source`) or streaming the model into a local copy.
    """

    def __init__(self, name: str, path: Path, read_only: bool) -> None:
        self.name, self.path, self.read_only = name, path, read_only
        self.capabilities = SourceCapabilities(dialect="duckdb", writable=not read_only)
        self._conn: duckdb.DuckDBPyConnection | None = None

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open read-only connection (opened on first use)."""
        if self._conn is None:
            if not self.path.exists():
                raise SourceError(f"source `{self.name}`: the DuckDB file {self.path} does not "
                                  "exist; fix `path:` in syncline.yml (relative to the project).")
            try:
                config: dict[str, Any] = {**LOCKED_DOWN, "memory_limit": MEMORY_LIMIT}
                self._conn = wait_for_lock(
                    lambda: duckdb.connect(str(self.path), read_only=True, config=config))
            except duckdb.Error as exc:
                raise SourceError(f"source `{self.name}`: cannot open {self.path} ({exc}); "
                                  "check the file is a DuckDB database and that no other "
                                  "process keeps it open for writing.") from exc
        return self._conn

    def check(self) -> None:
        """Open the file and run a trivial query."""
        self.connection.cursor().execute("SELECT 1").fetchall()

    def schemas(self) -> list[str]:
        """Schemas except DuckDB's internal ones and our own `syncline` schema."""
        rows = self.connection.cursor().execute(
            "SELECT DISTINCT schema_name FROM information_schema.schemata WHERE catalog_name = "
            "current_database() AND schema_name NOT IN ('information_schema', 'pg_catalog', "
            "'syncline') ORDER BY 1").fetchall()
        return [str(r[0]) for r in rows]

    def tables(self, schema: str) -> list[str]:
        """Tables and views of `schema`."""
        rows = self.connection.cursor().execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            "AND table_catalog = current_database() ORDER BY 1", [schema]).fetchall()
        return [str(r[0]) for r in rows]

    def columns(self, model_sql: str) -> list[Column]:
        """Columns of a model, from running it with LIMIT 0."""
        try:
            sql = self._select(f"SELECT * FROM {model_sql} LIMIT 0")
            cur = self.connection.cursor().execute(sql)
        except duckdb.Error as exc:
            raise ModelError(f"source `{self.name}`: the model {model_sql} does not run: {exc}. "
                             "Fix the table name or query in the sync's `model:`.") from exc
        return [Column(str(d[0]), str(d[1])) for d in cur.description or []]

    def stream(self, model_sql: str, batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """Arrow batches straight from DuckDB's streaming reader."""
        try:
            reader = self.connection.cursor().sql(
                self._select(f"SELECT * FROM {model_sql}")).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            raise ModelError(f"source `{self.name}`: the model {model_sql} does not run: {exc}. "
                             "Fix the table name or query in the sync's `model:`.") from exc
        yield from reader

    def _select(self, sql: str) -> str:
        return check_duckdb_select(self.connection, sql, f"source `{self.name}`")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def open_duckdb_source(name: str, config: DuckDBSourceConfig, root: Path) -> DuckDBSource:
    """Open a DuckDB source; a relative path resolves against the project folder."""
    path = Path(config.path)
    if not path.is_absolute():
        path = root / path
    return DuckDBSource(name, path, config.read_only)
