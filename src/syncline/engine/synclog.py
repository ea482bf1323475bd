"""The sync log: one row per record a run handled, written into the database where the diff
runs, so analysts can join it to their own tables ("which users never reached CleverTap, and
why?"), as Census and Hightouch write theirs back to the warehouse.

Rows are buffered by column and written in bulk when the runner flushes (about once a second and
at the end): one Arrow insert in DuckDB, one ``executemany`` (multi-row INSERTs) elsewhere.
DuckDB's once-a-second flushes write whole row groups only (``ROW_GROUP`` rows each), so a
crash can lose up to that many rows more of the log than a second's. The log is a record *of*
the run, not part of it: it is written after the snapshot commits, and a failure to write it is
reported as a warning on the run, never a reason to fail or resend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any, Literal

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from syncline.config.synclog import SyncLogConfig
from syncline.engine.diff.dialects import DiffDialect
from syncline.engine.diff.store import DiffStore, DuckDBStore

__all__ = ["LogEntry", "Outcome", "SyncLog", "SyncLogSQL", "key_history"]

log = logging.getLogger("syncline.run")

Outcome = Literal["accepted", "rejected", "invalid", "fields_dropped", "failed", "in_doubt",
                  "deleted"]
ROW_GROUP = 122_880
"""DuckDB's rows per row group (its ``row_group_size``, which Syncline leaves as it is)."""
_COLUMNS = ("run_id", "sync", "sync_key", "operation", "outcome", "code", "message",
            "column_name", "logged_at")


@dataclass(frozen=True)
class SyncLogSQL:
    """The sync log's statements in one dialect (rendered for every diff dialect, tested)."""

    dialect: DiffDialect
    namespace: str
    config: SyncLogConfig

    @property
    def table(self) -> str:
        """``<schema>.sync_log`` (SQLite: ``<schema>_sync_log``; MySQL: in database
        ``<schema>``, named after the source database, like the snapshot tables)."""
        d = self.dialect
        if d.schema is None:
            return d.quote(f"{self.config.schema_}_sync_log")
        return f"{self._schema}.{d.quote(self.namespace + 'sync_log')}"

    @property
    def _schema(self) -> str:
        # DuckDB: Syncline's own diff file (catalog `syncline_diff`); the user's file is read-only
        d = self.dialect
        schema = d.quote(self.config.schema_)
        return f"{d.quote(d.catalog)}.{schema}" if d.catalog else schema

    def create(self) -> list[str]:
        d = self.dialect
        text = "TEXT" if d.sqlglot == "mysql" else d.text_type
        stamp = "DATETIME" if d.sqlglot == "mysql" else "TIMESTAMP"  # MySQL TIMESTAMPs update
        statements = []
        if d.schema is not None and d.create_schema:
            statements.append(d.create_schema.format(schema=self._schema))
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.table} (run_id BIGINT, sync {d.key_type}, "
            f"sync_key {d.key_type}, operation {d.status_type}, outcome {d.status_type}, "
            f"code {d.status_type}, message {text}, column_name {d.key_type}, "
            f"logged_at {stamp})")
        return statements

    def trim(self, sync: str, before: datetime) -> str:
        d = self.dialect
        cutoff = d.literal(before.strftime("%Y-%m-%d %H:%M:%S"))
        if d.sqlglot == "mysql":
            cutoff = f"CAST({cutoff} AS DATETIME)"
        elif d.sqlglot != "sqlite":  # SQLite keeps timestamps as ISO text: compare as text
            cutoff = f"CAST({cutoff} AS TIMESTAMP)"
        return f"DELETE FROM {self.table} WHERE sync = {d.literal(sync)} AND logged_at < {cutoff}"

    def insert(self) -> str:
        """One row per bound parameter set (DuckDB reads an Arrow batch instead)."""
        if self.dialect.sqlglot == "duckdb":
            return f"INSERT INTO {self.table} SELECT * FROM __syncline_batch"
        params = ", ".join(f":{c}" for c in _COLUMNS)
        return f"INSERT INTO {self.table} ({', '.join(_COLUMNS)}) VALUES ({params})"

    def history(self, sync: str, key: str, limit: int) -> str:
        d = self.dialect
        return (f"SELECT {', '.join(_COLUMNS[:1] + _COLUMNS[2:])} FROM {self.table} "
                f"WHERE sync = {d.literal(sync)} AND sync_key = {d.literal(key)} "
                f"ORDER BY logged_at DESC, run_id DESC LIMIT {int(limit)}")


@dataclass
class LogEntry:
    """One row of a key's history, as ``syncline log SYNC --key K`` prints it."""

    run_id: int
    sync_key: str
    operation: str
    outcome: str
    code: str | None
    message: str | None
    column: str | None
    logged_at: datetime


@dataclass
class _Segment:
    """Rows that share everything but their key (a batch's accepted keys, say)."""

    keys: list[str | None]
    values: dict[str, Any]


@dataclass
class SyncLog:
    """The rows of one run, buffered as segments of keys with shared values until ``flush``.

    A segment costs its key list and nothing per row until it is written: DuckDB gets each shared
    value as one repeated Arrow array, so a million accepted keys cost little more than the keys.
    """

    store: DiffStore
    config: SyncLogConfig
    sync: str
    run_id: int
    operation: str
    """``upsert`` (profiles), ``event`` or ``delete``."""
    written: int = 0
    error: str | None = None
    _segments: list[_Segment] = field(default_factory=list)

    @property
    def sql(self) -> SyncLogSQL:
        return SyncLogSQL(self.store.dialect, self.store.namespace, self.config)

    def open(self) -> None:
        """Create the table if needed and trim rows past the retention period."""
        cutoff = datetime.now(UTC) - timedelta(days=self.config.retention_days)
        sql = self.sql
        self._guard(lambda: self.store.execute([*sql.create(), sql.trim(self.sync, cutoff)]))

    def add(self, keys: Sequence[str | None], outcome: Outcome, code: str | None = None,
            message: str | None = None, column: str | None = None, *,
            operation: str | None = None) -> None:
        """Rows for ``keys``, all with the same outcome (and code, message, column)."""
        if not keys:
            return
        self._segments.append(_Segment(list(keys), {
            "run_id": self.run_id, "sync": self.sync, "operation": operation or self.operation,
            "outcome": outcome, "code": code, "message": message, "column_name": column,
            "logged_at": datetime.now(UTC).replace(tzinfo=None)}))

    def flush(self, *, whole_groups: bool = False) -> None:
        """Write what is buffered in one bulk insert; a failure is kept on ``error``.

        ``whole_groups`` (the runner's flush once a second): into DuckDB, only whole row groups
        are written, and the rest waits for the next flush (the run's last writes everything).
        DuckDB writes an insert's full row groups straight to the file, compressed; the rows of
        a smaller insert go through the WAL first and are compressed again at its checkpoint,
        which made the log cost twice as much (bench/PROFILING.md, round two: W6 sync log).
        """
        n = sum(len(seg.keys) for seg in self._segments)
        if whole_groups and isinstance(self.store, DuckDBStore):
            n -= n % ROW_GROUP
        segments = self._take(n)
        if n and self._guard(lambda: self._insert(segments)):
            self.written += n

    def _take(self, n: int) -> list[_Segment]:
        """The first ``n`` buffered rows, as segments; a segment cut in two keeps its values."""
        taken: list[_Segment] = []
        while n and self._segments:
            seg = self._segments[0]
            if len(seg.keys) > n:
                taken.append(_Segment(seg.keys[:n], seg.values))
                self._segments[0] = _Segment(seg.keys[n:], seg.values)
                break
            taken.append(self._segments.pop(0))
            n -= len(seg.keys)
        return taken

    def _insert(self, segments: list[_Segment]) -> None:
        if isinstance(self.store, DuckDBStore):
            self.store.load(self.sql.insert(), _arrow(segments))
            return
        rows: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
        for seg in segments:
            rows["sync_key"].extend(seg.keys)
            for name, value in seg.values.items():
                rows[name].extend([value] * len(seg.keys))
        self.store.write([self.sql.insert()], rows)

    def _guard(self, work: Any) -> bool:
        try:
            work()
        except (duckdb.Error, sa.exc.SQLAlchemyError, OSError) as exc:
            text = " ".join(str(getattr(exc, "orig", None) or exc).split())
            self.error = (f"the sync log could not be written to {self.sql.table}: {text}; "
                          "the run itself is not affected")
            log.warning("sync log not written", extra={"event": "sync_log_failed",
                                                        "sync": self.sync, "error": self.error})
            return False
        return True


_TYPES = {"run_id": pa.int64(), "logged_at": pa.timestamp("us")}


def _arrow(segments: list[_Segment]) -> pa.RecordBatch:
    """The segments as one batch in the table's column order: keys, then shared values.

    A shared value is a run-end encoded column: one value and one run end per segment, which
    DuckDB's Arrow scan expands itself, instead of a Python scalar and a repeated array per
    segment and column (about 8,000 of them for a million accepted keys).
    """
    ends = pa.array(list(accumulate(len(seg.keys) for seg in segments)), pa.int32())
    columns = {}
    for name in _COLUMNS:
        if name == "sync_key":
            columns[name] = pa.array([k for seg in segments for k in seg.keys], pa.string())
            continue
        values = pa.array([seg.values[name] for seg in segments], _TYPES.get(name, pa.string()))
        columns[name] = pa.RunEndEncodedArray.from_arrays(ends, values)
    return pa.RecordBatch.from_pydict(columns)


def key_history(store: DiffStore, config: SyncLogConfig, sync: str, key: str,
                limit: int = 100) -> list[LogEntry]:
    """What the sync log holds for one key of one sync, newest first."""
    rows = store.query(SyncLogSQL(store.dialect, store.namespace, config).history(sync, key,
                                                                                  limit))
    return [LogEntry(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], r[5], r[6],
                     r[7] if isinstance(r[7], datetime) else datetime.fromisoformat(str(r[7])))
            for r in rows]
