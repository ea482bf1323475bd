"""The snapshot: what the destination accepted, per sync key, in the diff store.

Every write is one transaction committed before the call returns (see diff/store.py), so a
crash after it loses nothing, and 1,000 keys cost one statement (DuckDB, from an Arrow table) or
one executemany (SQL databases).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from syncline.engine.diff.sql import DiffSQL
from syncline.engine.diff.store import DiffStore
from syncline.store import SnapshotMark

__all__ = ["Snapshot"]

# the marker's key: text no model key is expected to take (keys are the model's own values)
_HISTORY_MARKER = "\u2063syncline: history: skip in progress"


class Snapshot:
    """Accepted and in-flight keys of one sync; called from one thread at a time."""

    def __init__(self, store: DiffStore, sql: DiffSQL) -> None:
        self._store, self._sql, self.table = store, sql, sql.tables["snapshot"]
        self._duck = store.dialect.sqlglot == "duckdb"

    def _write(self, keys: Sequence[str], hashes: Sequence[object], run_id: int,
               status: str) -> None:
        if len(keys) != len(hashes):
            raise ValueError(f"{len(keys)} keys but {len(hashes)} hashes")
        upsert = self._store.dialect.upsert.format(table=self.table)
        if self._duck:
            upsert += " SELECT k, h, s, r FROM __syncline_in"
        n = len(keys)
        self._store.write(upsert, {"k": keys, "h": hashes, "s": [status] * n, "r": [run_id] * n})

    def _keyed(self, action: str, where: str, keys: Sequence[str]) -> None:
        """`action` (DELETE FROM/UPDATE ... SET) for each key, in one transaction."""
        if not keys:
            return
        match = "sync_key IN (SELECT k FROM __syncline_in)" if self._duck else "sync_key = :k"
        self._store.write(f"{action} WHERE {where}{match}", {"k": keys})

    def mark_in_flight(self, keys: Sequence[str], hashes: Sequence[object], run_id: int) -> None:
        """Before an event batch is sent: a crash now leaves these keys in doubt, not lost."""
        self._write(keys, hashes, run_id, "in_flight")

    def commit(self, keys: Sequence[str], hashes: Sequence[object], run_id: int, *,
               in_flight: bool = False) -> None:
        """The destination accepted these rows: they are not planned again until they change.

        ``in_flight``: this run marked them in flight (events), with their hash; only their
        status changes, which DuckDB does through its index at half the cost of an upsert.
        """
        if in_flight and self._duck:
            self._keyed(f"UPDATE {self.table} SET status = 'accepted'",
                        "status = 'in_flight' AND ", keys)
        else:
            self._write(keys, hashes, run_id, "accepted")

    def release(self, keys: Sequence[str]) -> None:
        """In-flight keys that were rejected or failed: forget them so they are planned again."""
        self._keyed(f"DELETE FROM {self.table}", "status = 'in_flight' AND ", keys)

    def forget(self, keys: Sequence[str]) -> None:
        """The destination confirmed these keys deleted: they leave the snapshot."""
        self._keyed(f"DELETE FROM {self.table}", "", keys)

    def in_doubt_keys(self) -> list[str]:
        """Keys a crashed run marked in flight: we cannot know whether they arrived."""
        rows = self._store.query(f"SELECT sync_key FROM {self.table} WHERE status = 'in_flight' "
                                 "ORDER BY sync_key")
        return [str(r[0]) for r in rows]

    def run_counts(self, run_id: int) -> tuple[int, int]:
        """(accepted, in flight) keys run ``run_id`` left: the durable part of its account."""
        rows = self._store.query(
            f"SELECT status, count(*) FROM {self.table} WHERE run_id = {int(run_id)} "
            "GROUP BY status")
        found = {str(status): int(n) for status, n in rows}
        return found.get("accepted", 0), found.get("in_flight", 0)

    def resolve_in_doubt(self, keys: Sequence[str],
                         policy: Literal["skip", "resend"]) -> None:
        """`skip` never duplicates (marks accepted); `resend` never loses (plans them again)."""
        if policy == "resend":
            self.release(keys)
            return
        self._keyed(f"UPDATE {self.table} SET status = 'accepted'", "", keys)

    def start_history(self) -> None:
        """Before `history: skip` marks existing keys as seen: a marker until it is done."""
        self._write([_HISTORY_MARKER], [None], 0, "history")

    def finish_history(self) -> None:
        """Every existing key is marked as seen: drop the marker."""
        self._keyed(f"DELETE FROM {self.table}", "status = 'history' AND ", [_HISTORY_MARKER])

    def first_run(self) -> bool:
        """No key seen yet, or a `history: skip` first run stopped before it finished."""
        marker = self._store.dialect.literal(_HISTORY_MARKER)  # found by the key's index
        rows = self._store.query(
            f"SELECT CASE WHEN EXISTS (SELECT 1 FROM {self.table} WHERE sync_key = {marker}) "
            f"OR NOT EXISTS (SELECT 1 FROM {self.table}) THEN 1 ELSE 0 END")
        return int(rows[0][0]) == 1

    def mark(self) -> SnapshotMark | None:
        """The mark written beside the snapshot at the end of the last run (engine/guard.py)."""
        rows = self._store.query(self._sql.guard_read())
        if not rows:
            return None
        snapshot_id, run_id, keys = rows[0]
        return SnapshotMark(str(snapshot_id), int(run_id), int(keys), self._store.location)

    def save_mark(self, snapshot_id: str, run_id: int) -> SnapshotMark:
        """Write the mark: this snapshot's id, the run, and how many keys it holds now."""
        self._store.execute(self._sql.guard_write(snapshot_id, run_id))
        mark = self.mark()
        assert mark is not None
        return mark

    def is_empty(self) -> bool:
        """No key at all (a snapshot table recreated empty after it was dropped)."""
        return not self._store.query(f"SELECT 1 FROM {self.table} LIMIT 1")

    def close(self) -> None:
        """Nothing of its own to close: the planner owns the store."""

