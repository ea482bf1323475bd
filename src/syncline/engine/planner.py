"""The planner: which rows of a model to send, decided by one SQL diff against the snapshot.

The diff runs in the *diff store*: inside a writable source (`diff: source`, pushdown: SQLite,
PostgreSQL, MySQL/MariaDB; only the rows to send leave the database) or in a local DuckDB file
the model is streamed into (`diff: local`). A DuckDB source is read in place, attached read-only
to that local file, so the user's file is never written (`diff: source`). The same statements
(engine/diff/sql.py), rendered per dialect, give the same result in every place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from syncline.engine.diff.dialects import TEXT_FORM, TYPED_FORM, nested
from syncline.engine.diff.sql import HASH, KEY, DiffSQL
from syncline.engine.diff.store import DiffStore, DuckDBStore, map_store_error, sql_store
from syncline.engine.placement import DiffPlace
from syncline.engine.snapshot import Snapshot
from syncline.errors import ConfigError
from syncline.sources.base import Source
from syncline.sources.duckdb import MEMORY_LIMIT

__all__ = ["HASH", "KEY", "MEMORY_LIMIT", "Plan", "PlanCounts", "Planner"]

# DuckDB's buffer pool (diff joins, GROUP BY, sorts) spills to disk beyond MEMORY_LIMIT (defined
# beside the DuckDB source, whose locked connection gets it when it opens; it says why 128MB).
# The limit can be small and fixed because nothing of the diff's must stay in memory whole: the
# DuckDB snapshot has no key index (diff/dialects.py ``keyed_snapshot``).
# `history: skip` marks existing keys as seen in transactions of this many keys
HISTORY_CHUNK = 100_000

PART_ROWS = 1_000_000
"""A DuckDB plan of more rows than this (a first run, a full resync) is sorted a key range of
about this many rows at a time, not in one ORDER BY (``Plan.batches``). One sort of the whole
plan spills beyond the memory limit and merges its runs while the rows are streamed, and what
that merge held grew with the plan: 30M first runs peaked at 493-496 MB with it, 459-460 with
ranges, and DuckDB alone streamed 10M rows for 17 CPU-s sorted whole against 10 in ranges.
Each range costs one more scan of the plan; ranges of 250k rows peaked no lower than 1M
(DuckDB's buffer pool fills to its limit either way). bench/PROFILING.md, "first-run peak at
10M and 30M"."""
PROBE_CHUNKS, PROBE_ROWS = 16, 2048
"""An incremental upsert plan of a DuckDB table first compares this many runs of this many
rows, spread over the model, with the snapshot (``DiffSQL.probe``): a change found there
skips the summary, which hashes every row. 10M rows, 1% changed: the probe 0.5-0.75 CPU-s,
the summary 2.5-3 (bench/PROFILING.md, "the probe before the summary")."""
SAMPLE_PER_PART = 100
"""Keys sampled per range to find where to cut them (ranges of roughly equal size)."""


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
    in_snapshot: int = 0
    """Keys in the snapshot before this run (the base of ``max_delete_percent``)."""


class Plan:
    """The materialized plan: counts, invalid rows, and the rows to send in key order."""

    def __init__(self, store: DiffStore, sql: DiffSQL, counts: PlanCounts) -> None:
        self._store, self._sql, self.counts = store, sql, counts

    def invalid_rows(self) -> Iterator[tuple[str | None, str, str]]:
        """(key, reason, message) for each null-key row and every row of a duplicated key."""
        column = self._sql.key_column
        for key, n in self._store.query(self._sql.invalid()):
            for _ in range(int(n)):
                if key is None:
                    yield None, "null_key", (
                        f"sync key column `{column}` is NULL; fix the model so every row "
                        "has a key, or filter such rows out.")
                else:
                    yield str(key), "duplicate_key", (
                        f"sync key `{key}` appears {n} times in column `{column}`; none of "
                        "them is sent. Make the key unique in the model.")

    def batches(self, rows: int = 1000) -> Iterator[pa.RecordBatch]:
        """Rows to send in key order: model columns + __syncline_key + __syncline_hash.

        Batches of exactly ``rows`` rows (the last one fewer). A DuckDB plan of more than
        ``PART_ROWS`` rows is read a key range at a time, each range sorted on its own: the
        same rows in the same order as one sort of the whole plan, with the memory of a
        range's sort instead of the whole plan's.
        """
        planned = self.counts.new + self.counts.changed
        if not isinstance(self._store, DuckDBStore) or planned <= PART_ROWS:
            yield from self._store.stream(self._sql.rows(), rows)
            return
        yield from _exact(self._ranges(self._store, planned, rows), rows)

    def _ranges(self, store: DuckDBStore, planned: int,
                rows: int) -> Iterator[pa.RecordBatch]:
        """The plan's batches, one key range after the other, cut at sampled keys."""
        parts = -(-planned // PART_ROWS)
        sample = [str(k) for (k,) in store.query(self._sql.key_sample(parts * SAMPLE_PER_PART))]
        cuts: list[str] = []
        for i in range(1, parts):
            cut = sample[len(sample) * i // parts] if sample else None
            if cut is not None and (not cuts or cut != cuts[-1]):
                cuts.append(cut)
        edges: list[str | None] = [None, *cuts, None]
        for lo, hi in pairwise(edges):
            params = {name: v for name, v in (("lo", lo), ("hi", hi)) if v is not None}
            sql = self._sql.rows(above=lo is not None, below=hi is not None)
            yield from store.stream(sql, rows, params)

    def removed_keys(self, rows: int) -> Iterator[list[str]]:
        """Keys that left the model since the last run, in key order, ``rows`` or fewer at a time.

        Materialized on first use (a work table, dropped with the others), so deleting them
        from the snapshot while they stream is safe.
        """
        table = self._sql.tables["removed"]
        statements = [f"DROP TABLE IF EXISTS {table}", self._sql.removed()]
        if isinstance(self._store, DuckDBStore):  # the model is read from the attached source
            with self._store.reading_source():
                self._store.execute(statements)
        else:
            self._store.execute(statements)
        for batch in self._store.stream(self._sql.removed_rows(), rows):
            keys = [str(k) for k in batch.column(0).to_pylist()]
            for start in range(0, len(keys), rows):
                yield keys[start:start + rows]

    def close(self) -> None:
        """Drop the work tables (the snapshot stays)."""
        self._store.execute(self._sql.drop_work())


class Planner:
    """Plans one sync: owns the diff store and the sync's snapshot table."""

    def __init__(self, sync_name: str, source: Source, model_sql: str, *, model_is_table: bool,
                 key_column: str, hash_columns: Sequence[str], salt: str,
                 mode: Literal["upsert", "append"], place: DiffPlace, local_path: Path) -> None:
        """``model_is_table``: the model names a table (or a view) rather than holding a
        query, as its config says (``sources.registry.model_sql`` renders either); told, not
        read back from ``model_sql``'s text."""
        self.sync_name, self.source, self.model_sql = sync_name, source, model_sql
        self.key_column, self.hash_columns, self.salt, self.mode = (
            key_column, list(hash_columns), salt, mode)
        self.place = place
        self.diff = place.diff
        self._local_path = local_path
        self._store = self._open(local_path)
        # a table the DuckDB source's file is read in place from: its rowid may name its rows
        self._reads_table = (model_is_table and self.diff == "source"
                             and isinstance(self._store, DuckDBStore))
        self._by_rowid = False
        """Whether ``rowid`` names the model's rows (``DiffSQL.plan_joined``); found by
        ``_typed_columns``' DESCRIBE, which every typed-form plan runs before ``_one_pass``."""
        safe = re.sub(r"[^A-Za-z0-9_]", "_", self._store.namespace + sync_name)
        model = model_sql if self.diff == "source" else self._store.dialect.table(f"stage_{safe}")
        self._sql = DiffSQL(self._store.dialect, safe, model, key_column, self.hash_columns,
                            salt, mode)
        self._setup()
        self._snapshot_name = f"snapshot_{safe}"
        if isinstance(self._store, DuckDBStore):
            self._store.unkey_snapshot(self._sql, f"snapshot_{safe}")
            self._store.adopt_legacy_snapshot(self._sql.tables["snapshot"], f"snapshot_{safe}",
                                              self._sql.tables["form"])
        self._snapshot = Snapshot(self._store, self._sql)

    def _open(self, local_path: Path) -> DiffStore:
        """The diff store where ``place`` says (``engine/placement.py`` decides, not this)."""
        if self.place.refused is not None:
            raise ConfigError(self.place.refused)
        source_file: Path | None = None
        if self.diff == "source":
            source_file = getattr(self.source, "path", None)
            if not self.place.local_file or not isinstance(source_file, Path):
                return sql_store(self.source, self.sync_name, self.place.namespace)
        # DuckDB: the snapshot is in Syncline's own file; a DuckDB source is read in place
        local_path.parent.mkdir(parents=True, exist_ok=True)
        return DuckDBStore(_tuned(duckdb.connect(), local_path), local_path, source_file)

    def _setup(self) -> None:
        """Create the snapshot's schema and table if they are missing. The first runs of two
        syncs on one database (two workers) may create the `syncline` schema at the same
        moment, and PostgreSQL's `CREATE SCHEMA IF NOT EXISTS` then fails in one of them with
        a unique violation: that one tries again, and finds the schema there."""
        try:
            self._store.execute(self._sql.setup())
        except sa.exc.IntegrityError:
            self._run(self._sql.setup())
        except (duckdb.Error, sa.exc.SQLAlchemyError) as exc:
            raise map_store_error(exc, self.sync_name, self.model_sql, self.key_column) from exc

    def _run(self, statements: Sequence[str]) -> None:
        try:
            self._store.execute(statements)
        except (duckdb.Error, sa.exc.SQLAlchemyError) as exc:
            raise map_store_error(exc, self.sync_name, self.model_sql, self.key_column) from exc

    def snapshot(self) -> Snapshot:
        """The sync's snapshot, in the same diff store."""
        return self._snapshot

    @property
    def store(self) -> DiffStore:
        """Where the diff runs (the sync log is written there too)."""
        return self._store

    @property
    def location(self) -> str:
        """Where the snapshot lives, as messages name it."""
        return self._store.location

    def _stage(self) -> None:
        """`diff: local`: stream the model into the local store's stage table."""
        assert isinstance(self._store, DuckDBStore)
        stage = self._sql.model
        self._run([f"DROP TABLE IF EXISTS {stage}"])
        first = True
        for batch in self.source.stream(self._source_query()):
            verb = f"CREATE TABLE {stage} AS" if first else f"INSERT INTO {stage}"
            self._store.load(f"{verb} SELECT * FROM __syncline_batch", batch)
            first = False
        if first:  # empty model: keep its columns
            cols = self.source.columns(self._source_query())
            spec = ", ".join(f"{self._store.dialect.quote(c.name)} VARCHAR" for c in cols)
            self._run([f"CREATE TABLE {stage} ({spec or 'x VARCHAR'})"])

    def _source_query(self) -> str:
        """The model as the source's `stream`/`columns` take it.

        DuckDB-backed sources take the relation; SQL sources wrap what they get in
        `SELECT * FROM (...)`, which needs a query, not a table name.
        """
        if self.source.capabilities.dialect == "duckdb":
            return self.model_sql
        return f"SELECT * FROM {self.model_sql}"

    def _plan_columns(self) -> str | None:
        # SQLite: declare the plan's columns without types, so the source infers them from
        # the values exactly as it does for the model (CTAS would declare NUM for a DATE)
        if self.diff != "source" or self._store.dialect.sqlglot != "sqlite":
            return None
        q = self._store.dialect.quote
        names = [c.name for c in self.source.columns(self._source_query())] + [KEY, HASH]
        return ", ".join(q(n) for n in names)

    def plan(self, *, full: bool = False, history: Literal["send", "skip"] = "send") -> Plan:
        """Diff the model against the snapshot and materialize the rows to send.

        history="skip" (events): when the snapshot is empty, every valid key is recorded as
        accepted and nothing is planned; so only events that appear after the first run are sent.
        """
        if self.diff == "local":
            self._stage()
        if isinstance(self._store, DuckDBStore):
            with self._store.reading_source():
                return self._plan(full, history)
        return self._plan(full, history)

    def _plan(self, full: bool, history: Literal["send", "skip"]) -> Plan:
        self._snapshot.merge()  # a leftover journal counts as committed (normally merged already)
        old = self._hash_form()
        first = self._snapshot.first_run()
        skip = self.mode == "append" and history == "skip" and first
        sql = self._sql
        if old is None and not (full or first) and sql.form == TYPED_FORM:
            quick = self._incremental()
            if quick is not None:
                return Plan(self._store, self._sql, quick)
        self._run([*sql.drop_work(), sql.bad_keys()])
        if old is not None:
            self._migrate(old)
        self._run(sql.plan(full=full, skip=skip, columns=self._plan_columns()))
        counts = self._counts(skip)
        if skip:
            self._accept_history()
        return Plan(self._store, sql, counts)

    def _counts(self, skip: bool) -> PlanCounts:
        """The plan's counts, from the ``bad`` and ``plan`` tables (``DiffSQL.counts``)."""
        total, nulls, dups, new, planned, in_snapshot, bad_in_snapshot = (
            int(v or 0) for v in self._query(self._sql.counts())[0])
        # skip: the snapshot is empty and no valid row is planned, so nothing was removed
        removed = 0 if skip else in_snapshot - (total - nulls - dups - new) - bad_in_snapshot
        changed = planned - new
        unchanged = total - nulls - dups - new - changed
        return PlanCounts(total, new, changed, unchanged, removed, nulls, dups, in_snapshot)

    def _incremental(self) -> PlanCounts | None:
        """Nothing changed? Then plan nothing, without the bad-key pass or the join.

        One pass over the model sums a digest of each (key, typed hash) pair, and one over the
        snapshot the same of its pairs (``DiffSQL.summary``): equal counts and sums mean the
        plan would be empty (10M rows: about 1.6 CPU-s, against the join's 5-9 and the bad-key
        pass's 2). Otherwise ``_one_pass`` plans from one join. None would send the plan
        through the usual passes (tests patch it so, to compare the two). Only in the typed
        form: the text form's hash costs 3.5-4.3 CPU-s more per pass (bench/PROFILING.md).

        Before it, an upsert plan of a DuckDB table takes the summary's counts from the tables'
        statistics and compares a few runs of rows with the snapshot (``DiffSQL.probe``): if
        either shows a change, the summary would only say so, so the plan goes to its join
        with those counts. Otherwise the summary decides, as without the probe.
        """
        if self._by_rowid and self.mode == "upsert":  # set by _hash_form's DESCRIBE
            rows, keys, held = (int(v) for v in self._query(self._sql.probe_counts())[0])
            if not rows == keys == held != 0 or self._query(self._sql.probe(_chunks(rows)))[0][0]:
                return self._one_pass(rows, keys, held)
        rows, keys, total, held, held_total = self._query(self._sql.summary())[0]
        if not (rows == keys == held and rows and total == held_total):
            return self._one_pass(int(rows), int(keys), int(held))
        self._run(self._sql.plan_nothing())
        n = int(rows)
        return PlanCounts(n, 0, 0, n, 0, 0, 0, n)

    def _one_pass(self, rows: int, keys: int, held: int) -> PlanCounts:
        """Plan with one join; without the bad-key pass when no key is duplicated.

        ``rows``, ``keys`` (non-NULL), ``held`` (snapshot keys): the summary's (or the probe's,
        the same counts). The join keeps only what differs (``DiffSQL.plan_diff``). A
        duplicated key shows there either among new keys (fewer distinct keys than new rows) or
        among the keys the snapshot holds: its keys are distinct, so the model rows that matched
        one (``keys - new``) outnumber the snapshot keys that were matched (``held - removed``)
        exactly when one was matched twice, identical duplicates included. Without one, the bad
        keys are the NULL-key rows (``rows - keys``) and every count follows. With one, the
        bad-key pass finds them (for ``Plan.invalid_rows`` and their counts), and the plan takes
        the join's keys less those: the usual plan's keys, without a second join.
        """
        sql = replace(self._sql, by_rowid=self._by_rowid)
        self._run([*sql.drop_work(), sql.plan_diff()])
        new, distinct_new, removed, differ = (
            int(v or 0) for v in self._query(sql.diff_counts())[0])
        if distinct_new < new or keys - new > held - removed:
            self._run([sql.bad_keys(), sql.plan_joined(valid=True)])
            return self._counts(skip=False)
        nulls = rows - keys
        self._run([sql.bad_nulls(nulls), sql.plan_joined()])
        changed = differ - new - removed
        return PlanCounts(rows, new, changed, keys - new - changed, removed, nulls, 0, held)

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self._store.query(sql)
        except (duckdb.Error, sa.exc.SQLAlchemyError) as exc:
            raise map_store_error(exc, self.sync_name, self.model_sql, self.key_column) from exc

    def _typed_columns(self) -> frozenset[str]:
        """The hash columns the typed form hashes as values: the model's non-nested ones."""
        try:
            rows = self._describe()
        except duckdb.Error as exc:
            raise map_store_error(exc, self.sync_name, self.model_sql, self.key_column) from exc
        scalar = {str(r[0]).lower() for r in rows if not nested(str(r[1]))}
        return frozenset(c for c in self.hash_columns if c.lower() in scalar)

    def _describe(self) -> list[tuple[Any, ...]]:
        """The model's columns (DuckDB ``DESCRIBE`` rows), and ``_by_rowid`` set on the way.

        A table read in place is described with its ``rowid`` asked for first, in the same
        DESCRIBE: it binds for a base table, not for a view (which has none, so the plain
        DESCRIBE follows); and where the table has a column of its own called ``rowid``,
        that column stands in for it, so its rows are not fetched by rowid. A query model is
        read as it is.
        """
        self._by_rowid = False
        if self._reads_table:
            try:
                rows = self._store.query(f"DESCRIBE SELECT rowid AS r, * FROM {self._sql.model}")
            except duckdb.Error:  # a view: no rowid
                pass
            else:
                self._by_rowid = not any(str(r[0]).lower() == "rowid" for r in rows[1:])
                return rows[1:]
        return self._store.query(f"DESCRIBE SELECT * FROM {self._sql.model}")

    def _hash_form(self) -> DiffSQL | None:
        """Render the row hash in this placement's form; answer the snapshot's, if it differs.

        DuckDB reading its source in place hashes typed values, ``diff: local`` text (see
        diff/dialects.py). An empty snapshot takes this form at once. One written in the other
        form (before forms, always text) is migrated by ``_migrate``: the diff that renders
        its hashes is answered for that.
        """
        if not self._store.dialect.typed_hash:
            return None
        # the model's types (a DESCRIBE, which plans a query model once more) only where a
        # typed hash is rendered: reading the source in place, or migrating from that form
        typed = self._typed_columns() if self.diff == "source" else None
        self._sql = replace(self._sql, typed=typed)
        want = self._sql.form
        rows = self._store.query(self._sql.form_read())
        found = int(rows[0][0]) if rows and rows[0][0] is not None else None
        if found == want:
            return None
        found = TEXT_FORM if found is None else found  # written before forms were recorded
        if found == want or self._snapshot.is_empty():
            self._run(self._sql.form_write(want))  # record it: nothing to migrate
            return None
        if found != TYPED_FORM:
            return replace(self._sql, typed=None)
        return replace(self._sql, typed=self._typed_columns() if typed is None else typed)

    def _migrate(self, old: DiffSQL) -> None:
        """Give every unchanged snapshot row its hash in the new form, then plan as usual.

        One transaction rebuilds the snapshot (``DiffSQL.migrate``) and records the new form,
        so a crash at any point leaves either the old snapshot in its recorded old form or the
        new one in the new form. Rows that changed keep their old hash, and are planned.
        """
        self._run([*self._sql.migrate(old, self._snapshot_name),
                   *self._sql.form_write(self._sql.form)])

    def _accept_history(self) -> None:
        """Mark every valid key as seen, a durable chunk at a time (memory stays bounded).

        The snapshot carries a marker meanwhile: a run that dies half-way leaves it, and the
        next run finishes the job instead of sending the rest of the history as new events.
        """
        self._snapshot.start_history()
        self._run([self._sql.history_keys()])
        for batch in self._store.stream(self._sql.keys_rows(), HISTORY_CHUNK):
            self._snapshot.accept_history(batch.column(0).to_pylist(),
                                          batch.column(1).to_pylist())
        self._snapshot.finish_history()

    def close(self) -> None:
        """Close the diff store (the planner's own connection or cursor)."""
        try:
            self._snapshot.close()
        finally:
            self._store.close()


def _chunks(rows: int) -> list[tuple[int, int]]:
    """``PROBE_CHUNKS`` rowid ranges of ``PROBE_ROWS`` rows each (first and last rowid),
    spread evenly from the model's first row to its last (``DiffSQL.probe``)."""
    span = max(rows - PROBE_ROWS, 0)
    starts = sorted({span * i // max(PROBE_CHUNKS - 1, 1) for i in range(PROBE_CHUNKS)})
    return [(a, a + PROBE_ROWS - 1) for a in starts]


def _exact(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` cut again to exactly ``rows`` rows each (the last one fewer).

    A key range's last batch is short; without this, where the ranges were cut (a sample)
    would decide which records share a request.
    """
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not held and batch.num_rows == rows:
            yield batch
            continue
        if batch.num_rows:
            held.append(batch)
            count += batch.num_rows
        while count >= rows:
            merged = _concat(held)
            yield merged.slice(0, rows)
            count -= rows
            held = [merged.slice(rows)] if count else []
    if count:
        yield _concat(held)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of ``batches``' rows (``pa.concat_batches`` needs pyarrow 19; we allow 15)."""
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _tuned(conn: duckdb.DuckDBPyConnection, local_path: Path) -> duckdb.DuckDBPyConnection:
    """Bound DuckDB's memory; beyond it, work spills next to the local diff file.

    Both settings are per database instance, so they bind every cursor of the diff's own
    connection, and every file attached to it (a test reads them back).
    """
    spill = local_path.parent / "tmp"
    spill.mkdir(parents=True, exist_ok=True)
    conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    conn.execute("SET enable_progress_bar = false")  # our own progress reports the run
    conn.execute("SET temp_directory = '" + str(spill).replace("'", "''") + "'")
    return conn
