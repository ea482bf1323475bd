"""The snapshot: what the destination accepted, per sync key, in the diff store.

A run does not write the keyed snapshot batch by batch: it appends what happened (a key marked
in flight, accepted, or released) to the sync's *journal*, a table without key or index, and
folds the journal into the snapshot once, at the end of the run (``merge``), in one transaction.
A profile sync's first run has nothing to fold: its accepted keys go straight into the empty
snapshot (``fill_directly``).
Keeping the snapshot's key index up to date batch by batch was most of a run's snapshot cost
(DuckDB: 1.8 CPU-s per 1M keys with the key, 0.6 without), and it ran between batches.

On DuckDB the snapshot has no PRIMARY KEY (DuckDB keeps a key's index in memory, whole, and
it grew with the keys to gigabytes at 10M-30M keys): every write here keeps a key to one row
itself. The merge updates the keys the snapshot holds and inserts the others (diff/sql.py);
the few direct writes delete a key before inserting it.

Every append is still one transaction committed before the call returns (see diff/store.py), so a
crash after it loses nothing: a run (or `plan`) merges a leftover journal before it reads the
snapshot (``recover``), so keys a crashed run had accepted are never sent again and its keys in
flight are in doubt. Between two merges the journal holds one run's entries only.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

from syncline.engine.diff.sql import DiffSQL
from syncline.engine.diff.store import DiffStore
from syncline.store import SnapshotMark

__all__ = ["Snapshot"]

# the marker's key: text no model key is expected to take (keys are the model's own values)
_HISTORY_MARKER = "\u2063syncline: history: skip in progress"
# DuckDB merges the journal in parts of about this many hashed entries, each part one
# transaction: its UPDATE's join and its INSERT's anti-join (and the anti-join for in-flight
# marks) hash one part's keys, which must fit the diff's memory limit (sources/duckdb.py
# MEMORY_LIMIT). A first run without in-flight marks needs no part: one plain INSERT, hashing
# nothing.
_MERGE_ENTRIES = 1_000_000


class Snapshot:
    """Accepted and in-flight keys of one sync; called from one thread at a time."""

    def __init__(self, store: DiffStore, sql: DiffSQL) -> None:
        self._store, self._sql, self.table = store, sql, sql.tables["snapshot"]
        self.journal = sql.tables["journal"]
        self._duck = store.dialect.sqlglot == "duckdb"
        self._keyed_table = store.dialect.keyed_snapshot
        self._pending = True  # a crashed run may have left a journal: look before trusting it
        self._direct = False  # accepted keys go straight into the snapshot (``fill_directly``)

    def _write(self, keys: Sequence[str], hashes: Sequence[object], run_id: int,
               status: str) -> None:
        """Upsert straight into the snapshot (the `history: skip` marker), in one transaction;
        without a key on the table, by deleting the keys first."""
        if len(keys) != len(hashes):
            raise ValueError(f"{len(keys)} keys but {len(hashes)} hashes")
        upsert = self._store.dialect.upsert.format(table=self.table)
        if self._duck:
            upsert += " SELECT k, h, s, r FROM __syncline_in"
        statements = [upsert]
        if not self._keyed_table:
            statements.insert(0, f"DELETE FROM {self.table} WHERE {self._match}")
        n = len(keys)
        self._store.write(statements,
                          {"k": keys, "h": hashes, "s": [status] * n, "r": [run_id] * n})

    @property
    def _match(self) -> str:
        """The condition naming each written key (DuckDB: all at once, from `__syncline_in`)."""
        return "sync_key IN (SELECT k FROM __syncline_in)" if self._duck else "sync_key = :k"

    def _keyed(self, action: str, where: str, keys: Sequence[str]) -> None:
        """`action` (DELETE FROM/UPDATE ... SET) for each key, in one transaction."""
        if not keys:
            return
        self._store.write([f"{action} WHERE {where}{self._match}"], {"k": keys})

    def record(self, run_id: int, *, accepted: tuple[Sequence[str], Sequence[object]] = ((), ()),
               released: Sequence[str] = (),
               in_flight: tuple[Sequence[str], Sequence[object]] = ((), ())) -> None:
        """Append what became of these keys to the journal, in one committed transaction.

        Events write a batch's in-flight mark together with the answers that freed its slot
        (accepted, released), so a batch costs one write and a crash between the two cannot
        leave more in flight than the batches sent and not answered.
        """
        keys: list[str] = []
        hashes: list[object] = []
        statuses: list[str] = []
        for status, (k, h) in (("accepted", accepted), ("in_flight", in_flight),
                               ("released", (released, [None] * len(released)))):
            if len(k) != len(h):
                raise ValueError(f"{len(k)} keys but {len(h)} hashes")
            keys += k
            hashes += h
            statuses += [status] * len(k)
        if not keys:
            return
        direct = self._direct and len(accepted[0]) == len(keys)
        if not direct:  # an entry to settle by the merge: every later one goes there too
            self._direct = False
        self._store.write([self._sql.journal_append("snapshot" if direct else "journal")],
                          {"k": keys, "h": hashes, "s": statuses, "r": [run_id] * len(keys)})
        self._pending = self._pending or not direct

    def fill_directly(self) -> bool:
        """A profile sync's first run: its accepted keys are appended to the snapshot itself.

        Only while the snapshot is empty and nothing is journalled, and for accepted keys only
        (no in-flight mark, no release): the keys of one plan are distinct, so the plain
        appends build the same snapshot the journal's merge would (its one INSERT), without
        writing every key twice. Each append is committed before the call returns, as a
        journal append is: a run that crashes leaves the keys accepted so far, which is what
        ``recover`` would have made of its journal; the next run is then an ordinary
        incremental run that sends only the rest. Answers whether it is on.
        """
        self.merge()
        self._direct = self.is_empty()
        return self._direct

    def merge(self) -> None:
        """Fold the journal into the keyed snapshot: a run's last write.

        One transaction, or on DuckDB one per million journal entries (a part of the keys
        each, by hash) unless a plain INSERT does (an empty snapshot, no in-flight marks); the
        journal is emptied by the last: a crash between them leaves the journal whole, and
        merging it again gives the same snapshot (each part updates the keys it finds and
        inserts only the others, so no key gets a second row).
        """
        if not self._pending:
            return
        entries, released, in_flight = (
            int(v or 0) for v in self._store.query(self._sql.journal_size())[0])
        if entries:
            empty = self.is_empty()
            plain = empty and not in_flight  # one INSERT: no join, nothing hashed
            # what a part's statements hash: into an empty snapshot, the settled entries (the
            # marks' anti-join); else every entry (the UPDATE's join, the semi-join). An event
            # first run (a mark and an answer per key) is one part per 1M events, not per 500k:
            # each part scans the journal again (1M events: 1.7-1.9 CPU-s in two parts, 0.8-1.1
            # in one, at the same peak; bench/PROFILING.md, "Round two: snapshot writes, the
            # first run's merge, and checkpoints")
            hashed = entries - in_flight if empty else entries
            parts = max(1, -(-hashed // _MERGE_ENTRIES)) if self._duck and not plain else 1
            merge = partial(self._sql.journal_merge, empty=empty, released=released > 0,
                            in_flight=in_flight > 0)
            if parts == 1:
                self._store.execute([*merge(), self._sql.journal_clear()])
            else:
                for i in range(parts):
                    self._store.execute(merge(part=(i, parts)))
                self._store.execute([self._sql.journal_clear()])
        self._pending = False

    def recover(self) -> None:
        """Merge what a crashed run left in the journal, before anything reads the snapshot."""
        self._pending = True
        self.merge()

    def mark_in_flight(self, keys: Sequence[str], hashes: Sequence[object], run_id: int) -> None:
        """Before an event batch is sent: a crash now leaves these keys in doubt, not lost."""
        self.record(run_id, in_flight=(keys, hashes))

    def commit(self, keys: Sequence[str], hashes: Sequence[object], run_id: int) -> None:
        """The destination accepted these rows: they are not planned again until they change."""
        self.record(run_id, accepted=(keys, hashes))

    def release(self, keys: Sequence[str], run_id: int = 0) -> None:
        """In-flight keys that were rejected or failed: forget them so they are planned again."""
        self.record(run_id, released=keys)

    def forget(self, keys: Sequence[str]) -> None:
        """The destination confirmed these keys deleted: they leave the snapshot.

        Straight from the snapshot (deletes are few), after the journal is merged, so a
        key accepted earlier in the run cannot come back with the merge.
        """
        self.merge()
        self._keyed(f"DELETE FROM {self.table}", "", keys)

    def in_doubt_keys(self) -> list[str]:
        """Keys a crashed run marked in flight: we cannot know whether they arrived."""
        self.merge()
        rows = self._store.query(f"SELECT sync_key FROM {self.table} WHERE status = 'in_flight' "
                                 "ORDER BY sync_key")
        return [str(r[0]) for r in rows]

    def run_counts(self, run_id: int) -> tuple[int, int]:
        """(accepted, in flight) keys run ``run_id`` left: the durable part of its account."""
        self.merge()
        rows = self._store.query(
            f"SELECT status, count(*) FROM {self.table} WHERE run_id = {int(run_id)} "
            "GROUP BY status")
        found = {str(status): int(n) for status, n in rows}
        return found.get("accepted", 0), found.get("in_flight", 0)

    def resolve_in_doubt(self, keys: Sequence[str],
                         policy: Literal["skip", "resend"]) -> None:
        """`skip` never duplicates (marks accepted); `resend` never loses (plans them again).

        Straight in the snapshot: a run does this before it appends to the journal.
        """
        self.merge()
        if policy == "resend":
            self._keyed(f"DELETE FROM {self.table}", "status = 'in_flight' AND ", keys)
            return
        self._keyed(f"UPDATE {self.table} SET status = 'accepted'", "", keys)

    def start_history(self) -> None:
        """Before `history: skip` marks existing keys as seen: a marker until it is done."""
        self._write([_HISTORY_MARKER], [None], 0, "history")

    def accept_history(self, keys: Sequence[str], hashes: Sequence[object]) -> None:
        """`history: skip`: existing keys marked as seen, appended to the journal (a durable
        chunk at a time, so memory stays bounded whatever the model's size). A run that dies
        half-way leaves them to the next merge, and the marker makes the next run do it again:
        the merge updates the keys already there instead of adding them twice."""
        self.record(0, accepted=(keys, hashes))

    def finish_history(self) -> None:
        """Every existing key is marked as seen: merge them, then drop the marker."""
        self.merge()
        self._keyed(f"DELETE FROM {self.table}", "status = 'history' AND ", [_HISTORY_MARKER])

    def first_run(self) -> bool:
        """No key seen yet, or a `history: skip` first run stopped before it finished."""
        self.merge()
        marker = self._store.dialect.literal(_HISTORY_MARKER)
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
        self.merge()
        self._store.execute(self._sql.guard_write(snapshot_id, run_id))
        mark = self.mark()
        assert mark is not None
        return mark

    def is_empty(self) -> bool:
        """No key at all (a snapshot table recreated empty after it was dropped)."""
        return not self._store.query(f"SELECT 1 FROM {self.table} LIMIT 1")

    def close(self) -> None:
        """Merge what is still journalled (a run merged already; this is for other callers).

        The store is the planner's, which closes it.
        """
        self.merge()

