"""The snapshot: what the destination accepted, per sync key, in the diff store.

Every write is one autocommitted DuckDB statement from an Arrow table, so it is durable when it
returns (DuckDB's WAL) and cheap for 1,000 keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import duckdb
import pyarrow as pa

from syncline.engine.diff.dialects import DiffDialect

__all__ = ["Snapshot"]


class Snapshot:
    """Accepted and in-flight keys of one sync; called from one thread with its own cursor."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, table: str, dialect: DiffDialect) -> None:
        self._cur = conn.cursor()
        self.table, self._dialect = table, dialect

    def _write(self, keys: Sequence[str], hashes: Sequence[object], run_id: int,
               status: str) -> None:
        if not keys:
            return
        batch = pa.table({"k": pa.array(list(keys), pa.string()),
                          "h": pa.array([int(str(h)) for h in hashes], pa.uint64())})
        self._cur.register("__syncline_in", batch)
        try:
            self._cur.execute(f"{self._dialect.upsert.format(table=self.table)} "
                              f"SELECT k, h, '{status}', {int(run_id)} FROM __syncline_in")
        finally:
            self._cur.unregister("__syncline_in")

    def mark_in_flight(self, keys: Sequence[str], hashes: Sequence[object], run_id: int) -> None:
        """Before an event batch is sent: a crash now leaves these keys in doubt, not lost."""
        self._write(keys, hashes, run_id, "in_flight")

    def commit(self, keys: Sequence[str], hashes: Sequence[object], run_id: int) -> None:
        """The destination accepted these rows: they are not planned again until they change."""
        self._write(keys, hashes, run_id, "accepted")

    def release(self, keys: Sequence[str]) -> None:
        """In-flight keys that were rejected or failed: forget them so they are planned again."""
        if not keys:
            return
        self._cur.register("__syncline_in", pa.table({"k": pa.array(list(keys), pa.string())}))
        try:
            self._cur.execute(f"DELETE FROM {self.table} WHERE status = 'in_flight' "
                              "AND sync_key IN (SELECT k FROM __syncline_in)")
        finally:
            self._cur.unregister("__syncline_in")

    def in_doubt_keys(self) -> list[str]:
        """Keys a crashed run marked in flight: we cannot know whether they arrived."""
        rows = self._cur.execute(f"SELECT sync_key FROM {self.table} WHERE status = 'in_flight' "
                                 "ORDER BY sync_key").fetchall()
        return [str(r[0]) for r in rows]

    def resolve_in_doubt(self, keys: Sequence[str],
                         policy: Literal["skip", "resend"]) -> None:
        """`skip` never duplicates (marks accepted); `resend` never loses (plans them again)."""
        if policy == "resend":
            self.release(keys)
            return
        if not keys:
            return
        self._cur.register("__syncline_in", pa.table({"k": pa.array(list(keys), pa.string())}))
        try:
            self._cur.execute(f"UPDATE {self.table} SET status = 'accepted' WHERE "
                              "sync_key IN (SELECT k FROM __syncline_in)")
        finally:
            self._cur.unregister("__syncline_in")

    def is_empty(self) -> bool:
        """True before the first accepted or in-flight key."""
        rows = self._cur.execute(f"SELECT count(*) FROM {self.table}").fetchall()
        return int(rows[0][0]) == 0

    def close(self) -> None:
        """Close this snapshot's cursor."""
        self._cur.close()
