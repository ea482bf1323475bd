"""The planner: which rows of a model to send, decided by one SQL diff against the snapshot.

The diff runs in the *diff store*: inside a writable DuckDB source (`diff: source`, pushdown) or
in a local DuckDB file the model is streamed into (`diff: local`). Same SQL, same result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from syncline.engine.diff.dialects import DIALECTS
from syncline.engine.snapshot import Snapshot
from syncline.errors import ConfigError, ModelError
from syncline.sources.base import Source

__all__ = ["Plan", "PlanCounts", "Planner"]

KEY, HASH = "__syncline_key", "__syncline_hash"
_N, _OLD = "__syncline_n", "__syncline_old"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class PlanCounts:
    """What the diff found; null and duplicate keys are never sent."""

    rows_in_model: int
    new: int
    changed: int
    unchanged: int
    removed: int
    null_keys: int
    duplicate_keys: int


class Plan:
    """The materialized plan: counts, invalid rows, and the rows to send in key order."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, tables: dict[str, str],
                 counts: PlanCounts, key_column: str) -> None:
        self._conn, self._tables, self.counts, self._key = conn, tables, counts, key_column

    def invalid_rows(self) -> Iterator[tuple[str | None, str, str]]:
        """(key, reason, message) for each null-key row and every row of a duplicated key."""
        cur = self._conn.cursor()
        try:
            cur.execute(f"SELECT {KEY}, {_N} FROM {self._tables['classified']} WHERE {KEY} IS NULL "
                        f"OR {_N} > 1 ORDER BY {KEY} NULLS FIRST")
            while rows := cur.fetchmany(1000):
                for key, n in rows:
                    if key is None:
                        yield None, "null_key", (
                            f"sync key column `{self._key}` is NULL; fix the model so every row "
                            "has a key, or filter such rows out.")
                    else:
                        yield str(key), "duplicate_key", (
                            f"sync key `{key}` appears {n} times in column `{self._key}`; none of "
                            "them is sent. Make the key unique in the model.")
        finally:
            cur.close()

    def batches(self, rows: int = 1000) -> Iterator[pa.RecordBatch]:
        """Rows to send in key order: model columns + __syncline_key + __syncline_hash."""
        cur = self._conn.cursor()
        try:
            reader = cur.sql(f"SELECT * FROM {self._tables['plan']} ORDER BY {KEY}"
                             ).to_arrow_reader(rows)
            yield from reader
        finally:
            cur.close()

    def close(self) -> None:
        """Drop the work tables (the snapshot stays)."""
        for name in ("plan", "classified"):
            self._conn.execute(f"DROP TABLE IF EXISTS {self._tables[name]}")


class Planner:
    """Plans one sync: owns the diff-store connection and the sync's snapshot table."""

    def __init__(self, sync_name: str, source: Source, model_sql: str, *, key_column: str,
                 hash_columns: Sequence[str], salt: str, mode: Literal["upsert", "append"],
                 diff: Literal["local", "source"], local_path: Path) -> None:
        self.sync_name, self.source, self.model_sql = sync_name, source, model_sql
        self.key_column, self.hash_columns, self.salt, self.mode = (
            key_column, list(hash_columns), salt, mode)
        self.diff = diff
        self._dialect = DIALECTS["duckdb"]
        self._owned: duckdb.DuckDBPyConnection | None = None
        self._conn = self._open(local_path)
        safe = re.sub(r"[^A-Za-z0-9_]", "_", sync_name)
        self._t = {n: f"syncline.{_q(f'{n}_{safe}')}"
                   for n in ("snapshot", "stage", "classified", "plan")}
        self._conn.execute(self._dialect.create_schema.format(schema="syncline"))
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._t['snapshot']} (sync_key VARCHAR PRIMARY KEY, "
            f"row_hash {self._dialect.hash_type}, status VARCHAR, run_id BIGINT)")
        self._snapshot = Snapshot(self._conn, self._t["snapshot"], self._dialect)

    def _open(self, local_path: Path) -> duckdb.DuckDBPyConnection:
        if self.diff == "source":
            conn = getattr(self.source, "connection", None)
            if not self.source.capabilities.writable or not isinstance(
                    conn, duckdb.DuckDBPyConnection):
                raise ConfigError(f"sync `{self.sync_name}`: `diff: source` needs a writable "
                                  "DuckDB source; use `diff: local` or set `read_only: false`.")
            return conn.cursor()
        local_path.parent.mkdir(parents=True, exist_ok=True)
        self._owned = duckdb.connect(str(local_path))
        return self._owned

    def snapshot(self) -> Snapshot:
        """The sync's snapshot, sharing the diff store (own cursor)."""
        return self._snapshot

    def _relation(self) -> str:
        if self.diff == "source":
            return self.model_sql
        stage = self._t["stage"]
        self._conn.execute(f"DROP TABLE IF EXISTS {stage}")
        first = True
        for batch in self.source.stream(self.model_sql):
            self._conn.register("__syncline_batch", batch)
            verb = f"CREATE TABLE {stage} AS" if first else f"INSERT INTO {stage}"
            self._conn.execute(f"{verb} SELECT * FROM __syncline_batch")
            self._conn.unregister("__syncline_batch")
            first = False
        if first:  # empty model: keep its columns
            cols = self.source.columns(self.model_sql)
            spec = ", ".join(f"{_q(c.name)} VARCHAR" for c in cols) or "x VARCHAR"
            self._conn.execute(f"CREATE TABLE {stage} ({spec})")
        return stage

    def _classify(self, relation: str) -> None:
        args = ", ".join([f"'{self.salt.replace(chr(39), chr(39) * 2)}'"]
                         + [f"CAST({_q(c)} AS VARCHAR)" for c in self.hash_columns])
        hash_sql = self._dialect.hash_expr.format(args=args)
        try:
            self._conn.execute(
                f"CREATE OR REPLACE TABLE {self._t['classified']} AS "
                f"WITH m AS (SELECT *, CAST({_q(self.key_column)} AS VARCHAR) AS {KEY}, "
                f"{hash_sql} AS {HASH} FROM {relation}) "
                f"SELECT m.*, CASE WHEN m.{KEY} IS NULL THEN 1 ELSE "
                f"count(*) OVER (PARTITION BY m.{KEY}) END AS {_N}, s.row_hash AS {_OLD} "
                f"FROM m LEFT JOIN {self._t['snapshot']} s ON s.sync_key = m.{KEY}")
        except duckdb.Error as exc:
            raise ModelError(f"sync `{self.sync_name}`: planning failed on {self.model_sql}: "
                             f"{exc}. Check the key column `{self.key_column}` and the mapped "
                             "columns exist in the model.") from exc

    def plan(self, *, full: bool = False, history: Literal["send", "skip"] = "send") -> Plan:
        """Diff the model against the snapshot and materialize the rows to send.

        history="skip" (events): when the snapshot is empty, every valid key is recorded as
        accepted and nothing is planned; so only events that appear after the first run are sent.
        """
        self._classify(self._relation())
        c, valid = self._t["classified"], f"{KEY} IS NOT NULL AND {_N} = 1"
        skip = self.mode == "append" and history == "skip" and self._snapshot.is_empty()
        if skip:
            self._conn.execute(f"{self._dialect.upsert.format(table=self._t['snapshot'])} "
                               f"SELECT {KEY}, {HASH}, 'accepted', 0 FROM {c} WHERE {valid}")
        changed = f"{_OLD} IS NOT NULL AND {_OLD} <> {HASH}" if self.mode == "upsert" else "FALSE"
        send = "FALSE" if skip else (
            f"{_OLD} IS NULL OR {_OLD} IS NOT NULL AND ({'TRUE' if full else changed})")
        self._conn.execute(f"CREATE OR REPLACE TABLE {self._t['plan']} AS SELECT * EXCLUDE "
                           f"({_N}, {_OLD}) FROM {c} WHERE {valid} AND ({send}) ORDER BY {KEY}")
        row = self._conn.execute(
            f"SELECT count(*), count(*) FILTER ({KEY} IS NULL), "
            f"count(*) FILTER ({KEY} IS NOT NULL AND {_N} > 1), "
            f"count(*) FILTER ({valid} AND {_OLD} IS NULL), "
            f"count(*) FILTER ({valid} AND {_OLD} IS NOT NULL AND ({send})), "
            f"(SELECT count(*) FROM {self._t['snapshot']} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {c} WHERE {KEY} = s.sync_key)) FROM {c}").fetchall()[0]
        total, nulls, dups, new, chg, removed = (int(v) for v in row)
        if skip:
            new = chg = 0
        unchanged = total - nulls - dups - new - chg
        counts = PlanCounts(total, new, chg, unchanged, removed, nulls, dups)
        return Plan(self._conn, self._t, counts, self.key_column)

    def close(self) -> None:
        """Close the snapshot cursor and the local diff store."""
        self._snapshot.close()
        self._conn.close()
        self._owned = None
