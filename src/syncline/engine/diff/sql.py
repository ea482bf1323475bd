"""The diff, written once and rendered per dialect (see dialects.py for what differs).

Each statement is one pass over the model, and none copies unchanged rows:
1. ``bad``: keys that are NULL or duplicated (GROUP BY key HAVING ...): only keys leave the scan.
2. ``plan``: the rows to send, with their key and hash: new keys, and for profiles keys whose
   hash differs from the snapshot's (or every valid row on a full resync or a first run). The
   comparison joins only (key, hash) pairs into a ``keys`` table; a second pass then picks the
   full rows of those keys. Joining whole rows instead made the engine partition and spill every
   column of the model once the join outgrew its memory limit (10M rows: 1.5 GB written, ~3 CPU-s
   more). Unchanged rows are filtered inside the join and never written anywhere.
3. counts: model rows (a count), the rest from the small ``bad`` and ``plan`` tables and the
   snapshot's size; keys gone from the model follow by arithmetic (see ``counts``).
In the typed form (DuckDB, see dialects.py) an incremental plan first compares a summary of the
model's (key, hash) pairs with the snapshot's (``summary``): equal, nothing changed, and the
plan is two empty tables (``plan_nothing``) without steps 1 and 2. An upsert plan of a DuckDB
table first tries a cheaper proof of a change (``probe_counts``, ``probe``), and on one skips the
summary (it would only find the change again). When either finds a change, one FULL OUTER JOIN
keeps what differs (``plan_diff``); when that shows no duplicated key, ``bad`` holds only the
NULL-key rows, the rows are picked by ``plan_joined``, the counts follow from the summary's and
``diff_counts``, and steps 1 and 3 are not run; with one, step 1 runs and the plan takes the
join's keys less the bad ones (planner.py ``_one_pass``).
Identifiers are always quoted and the salt is an escaped literal; the model is the relation the
user configured (a quoted table name, or their own query as a subquery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from syncline.engine.diff.dialects import TEXT_FORM, TYPED_FORM, DiffDialect

__all__ = ["HASH", "KEY", "DiffSQL"]

KEY, HASH = "__syncline_key", "__syncline_hash"


@dataclass(frozen=True)
class DiffSQL:
    """The statements of one sync's diff in one dialect; table names derive from ``name``."""

    dialect: DiffDialect
    name: str
    model: str
    key_column: str
    hash_columns: Sequence[str]
    salt: str
    mode: Literal["upsert", "append"]
    typed: frozenset[str] | None = None
    """The typed row hash: these hash columns as their own values, the others as text (see
    dialects.py); None: the text form. Only where the dialect has ``typed_hash``."""
    by_rowid: bool = False
    """The model is a DuckDB base table with its own ``rowid`` (not a query, not a view, no
    column of that name): ``plan_joined`` then fetches the plan's rows by rowid (see there)."""
    tables: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "tables",
            {
                "snapshot": self.dialect.table(f"snapshot_{self.name}"),
                "guard": self.dialect.table(f"guard_{self.name}"),
                "journal": self.dialect.table(f"journal_{self.name}"),
                "form": self.dialect.table(f"hashform_{self.name}"),
                **{t: self.dialect.work_table(f"{t}_{self.name}")
                   for t in ("bad", "keys", "plan", "removed")},
            },
        )

    @property
    def _m(self) -> str:
        # a subquery so a query model (already aliased) and a table model read the same
        return f"(SELECT * FROM {self.model}) AS m"

    def _key(self) -> str:
        return self.dialect.key(self.key_column, "m.")

    def _hash(self) -> str:
        return self.dialect.row_hash(self.salt, self.hash_columns, "m.", self.typed)

    @property
    def form(self) -> int:
        """The form of this diff's row hashes (dialects.py TEXT_FORM, TYPED_FORM)."""
        return TYPED_FORM if self.typed is not None and self.dialect.typed_hash else TEXT_FORM

    def setup(self) -> list[str]:
        """Create the schema and the snapshot table if they do not exist yet."""
        d, out = self.dialect, []
        if d.create_schema and d.schema is not None:
            out.append(d.create_schema.format(schema=d.schema_name()))
        out.append(self.snapshot_table(self.tables["snapshot"]))
        out.append(f"CREATE TABLE IF NOT EXISTS {self.tables['guard']} (snapshot_id "
                   f"{d.key_type}, run_id BIGINT, key_count BIGINT)")
        # no key, no index: appending to it costs the same whatever the snapshot's size
        out.append(f"CREATE TABLE IF NOT EXISTS {self.tables['journal']} (sync_key {d.key_type} "
                   f"NOT NULL, row_hash {d.hash_type}, status {d.status_type}, run_id BIGINT)")
        if d.typed_hash:  # which form the snapshot's hashes are in (no row: the text form)
            out.append(f"CREATE TABLE IF NOT EXISTS {self.tables['form']} (hash_form INTEGER)")
        return out

    def form_read(self) -> str:
        """The form the snapshot's row hashes are in (no row: written before forms, text)."""
        return f"SELECT hash_form FROM {self.tables['form']}"

    def form_write(self, form: int) -> list[str]:
        """Record the snapshot's hash form (in the transaction that makes it true)."""
        t = self.tables["form"]
        return [f"DELETE FROM {t}", f"INSERT INTO {t} (hash_form) VALUES ({int(form)})"]

    def migrate(self, old: DiffSQL, name: str) -> list[str]:
        """Rebuild the snapshot with this diff's hash for every row the model has unchanged.

        Unchanged: the row's hash in ``old``'s form equals the snapshot's; it gets this form's
        hash, and keeps its status and run (an in-flight mark stays in flight). A row that
        changed keeps its old hash, which no hash in the new form matches (but by a 64-bit
        collision), so it is planned as changed. Keys in ``bad`` (NULL, duplicated) are left
        as they are, so each snapshot row meets at most one model row. Copy and swap, as
        ``unkey_snapshot``, to be run in one transaction with ``form_write``: a crash leaves
        the old snapshot and its old form. Rewriting the rows in place through the journal
        (10M rows: 115 CPU-s, its merge in ten parts) cost ten times the copy.
        ``name``: the snapshot table's own name, unqualified.
        """
        d, snap = self.dialect, self.tables["snapshot"]
        rebuilt = d.table(f"{name}_migrated")
        model = (f"SELECT {self._key()} AS k, {old._hash()} AS o, {self._hash()} AS h "
                 f"FROM {self._m} WHERE NOT EXISTS (SELECT 1 FROM {self.tables['bad']} b "
                 f"WHERE b.k = {self._key()})")
        return [f"DROP TABLE IF EXISTS {rebuilt}", self.snapshot_table(rebuilt),
                f"INSERT INTO {rebuilt} SELECT s.sync_key, COALESCE(d.h, s.row_hash), s.status, "
                f"s.run_id FROM {snap} s LEFT JOIN ({model}) AS d ON d.k = s.sync_key AND "
                "d.o = s.row_hash",
                f"DROP TABLE {snap}", f"ALTER TABLE {rebuilt} RENAME TO {d.quote(name)}"]

    def summary(self) -> str:
        """(model rows, non-null keys, digest sum; snapshot rows, digest sum), one pass each.

        The digest of a row is ``hash(key, row hash)`` (events: of the key alone, as only new
        keys are sent). Equal counts and sums mean the model's (key, hash) pairs are the
        snapshot's, so nothing would be planned (but by a 64-bit collision of the sums): no
        NULL key, no duplicate (the snapshot's keys are distinct), nothing new, changed or
        removed. DuckDB sums the UBIGINT digests into a HUGEINT, exactly.
        """
        m, s = (("hash(d.k, d.h)", "hash(sync_key, row_hash)") if self.mode == "upsert"
                else ("hash(d.k)", "hash(sync_key)"))
        h = f", {self._hash()} AS h" if self.mode == "upsert" else ""
        return (f"SELECT x.n, x.keys, x.total, t.n, t.total FROM "
                f"(SELECT COUNT(*) AS n, COUNT(d.k) AS keys, SUM({m}) AS total FROM "
                f"(SELECT {self._key()} AS k{h} FROM {self._m}) AS d) AS x, "
                f"(SELECT COUNT(*) AS n, SUM({s}) AS total FROM {self.tables['snapshot']}) AS t")

    def probe_counts(self) -> str:
        """(model rows, non-null keys, snapshot rows): the summary's counts, without its pass.

        On DuckDB tables these come from the tables' row counts and the key column's
        statistics (10M rows: milliseconds, against the summary's 1.5-3 CPU-s).
        """
        return (f"SELECT (SELECT COUNT(*) FROM {self._m}), "
                f"(SELECT COUNT({self._key()}) FROM {self._m}), "
                f"(SELECT COUNT(*) FROM {self.tables['snapshot']})")

    def probe(self, ranges: Sequence[tuple[int, int]]) -> str:
        """How many model rows in the ``rowid`` ranges (first, last) the snapshot lacks or holds
        with another hash (``by_rowid`` models, upsert). More than none proves a change,
        so the plan goes to its join without the summary (planner.py ``_incremental``); none
        proves nothing. DuckDB reads only the ranges' rows of the model (the filter is pushed
        into the scan) and the snapshot's key and hash columns.
        """
        where = " OR ".join(f"m.rowid BETWEEN {int(a)} AND {int(b)}" for a, b in ranges)
        return (f"SELECT COUNT(*) FROM (SELECT {self._key()} AS k, {self._hash()} AS h "
                f"FROM {self.model} AS m WHERE {where}) AS d "
                f"LEFT JOIN {self.tables['snapshot']} s ON s.sync_key = d.k "
                "WHERE s.sync_key IS NULL OR s.row_hash <> d.h")

    def plan_nothing(self) -> list[str]:
        """Empty ``bad`` and ``plan`` tables, for a plan the summary found nothing to send."""
        return [*self.drop_work(),
                f"{self._create} {self.tables['bad']} AS SELECT CAST(NULL AS "
                f"{self.dialect.text_type}) AS k, CAST(0 AS BIGINT) AS n WHERE 1 = 0",
                f"{self._create} {self.tables['plan']} AS {self._every_row('1 = 0')}"]

    def snapshot_table(self, table: str) -> str:
        """The snapshot's DDL: keyed where the dialect keeps its key (``keyed_snapshot``)."""
        d = self.dialect
        key = " PRIMARY KEY" if d.keyed_snapshot else ""
        return (f"CREATE TABLE IF NOT EXISTS {table} (sync_key {d.key_type} NOT NULL{key}, "
                f"row_hash {d.hash_type}, status {d.status_type}, run_id BIGINT)")

    def unkey_snapshot(self, name: str) -> list[str]:
        """Rebuild a keyed snapshot (older versions, DuckDB) without its key: copy, swap.

        ``name``: the snapshot table's own name, unqualified (ALTER ... RENAME takes one).
        """
        d, snap = self.dialect, self.tables["snapshot"]
        rebuilt = d.table(f"{name}_unkeyed")
        return [f"DROP TABLE IF EXISTS {rebuilt}", self.snapshot_table(rebuilt),
                f"INSERT INTO {rebuilt} SELECT sync_key, row_hash, status, run_id FROM {snap}",
                f"DROP TABLE {snap}", f"ALTER TABLE {rebuilt} RENAME TO {d.quote(name)}"]

    def journal_append(self, table: str = "journal") -> str:
        """Append rows to the journal (DuckDB: from `__syncline_in`; else bound parameters);
        ``table="snapshot"``: to the snapshot itself (a profile sync's first run,
        ``Snapshot.fill_directly``)."""
        cols = f"{self.tables[table]} (sync_key, row_hash, status, run_id)"
        if self.dialect.sqlglot == "duckdb":
            return f"INSERT INTO {cols} SELECT k, h, s, r FROM __syncline_in"
        return f"INSERT INTO {cols} VALUES (:k, :h, :s, :r)"

    def journal_merge(self, *, empty: bool, released: bool = True, in_flight: bool = True,
                      part: tuple[int, int] | None = None) -> list[str]:
        """Fold the journal's entries into the snapshot (the journal is emptied after).

        The journal holds one run's entries (a run merges a leftover journal before it appends),
        and in one run a key is marked in flight at most once, then settled at most once:
        `accepted` or `released` (rejected or failed: it leaves the snapshot). So a key's last
        state is its settled entry if it has one, else its in-flight mark, without ordering the
        entries. Merging twice gives the same snapshot. ``empty``: the snapshot holds no key, so
        rows are inserted plainly (a keyed table then builds its index without probing it);
        ``released``: some entries release keys (else the snapshot is not searched for them).
        ``in_flight``: some entries are in-flight marks (events; else no entry needs the
        search for its settled entry, whose anti-join would hash every entry of the journal).
        ``part`` (i, n): only the keys whose hash is i modulo n (DuckDB: one statement's
        work, and the anti-join's hash table, must fit its memory limit; 10M keys at once do
        not).

        Without a key on the snapshot (``keyed_snapshot``: DuckDB) nothing refuses a second row
        for one key, so the merge keeps keys unique itself: it deletes the released keys,
        updates the keys the snapshot holds, and inserts only the others. An empty snapshot
        takes the entries with a plain INSERT, as their keys are distinct. Deleting every
        merged key and inserting it again would be one statement less, but it ran out of
        memory on a 30M snapshot with 1% changed (an earlier attempt, bench/PROFILING.md).
        """
        j, snap = self.tables["journal"], self.tables["snapshot"]
        cols = "(sync_key, row_hash, status, run_id)"

        def only(alias: str) -> str:
            return "" if part is None else f" AND hash({alias}.sync_key) % {part[1]} = {part[0]}"

        marks = ("" if not in_flight else " OR (j.status = 'in_flight' AND NOT EXISTS (SELECT 1 "
                 f"FROM {j} o WHERE o.sync_key = j.sync_key AND o.status <> 'in_flight'"
                 f"{only('o')}))")
        final = (f"SELECT j.sync_key, j.row_hash, j.status, j.run_id FROM {j} j WHERE "
                 f"(j.status = 'accepted'{marks}){only('j')}")
        if empty:
            return [f"INSERT INTO {snap} {cols} {final}"]
        delete = (f"DELETE FROM {snap} WHERE sync_key IN "
                  f"(SELECT j.sync_key FROM {j} j WHERE j.status = 'released'{only('j')})")
        out = [delete] if released else []
        if self.dialect.keyed_snapshot:
            return [*out, self.dialect.merge.format(table=snap, select=final)]
        update = (f"UPDATE {snap} AS t SET row_hash = v.row_hash, status = v.status, "
                  f"run_id = v.run_id FROM ({final}) AS v WHERE t.sync_key = v.sync_key"
                  f"{only('t')}")
        # the keys of the part the snapshot holds, found by a semi-join that hashes the
        # journal's keys: NOT EXISTS on the snapshot hashed the snapshot's keys instead, and ran
        # out of memory on 30M keys at 128MB
        held = (f"SELECT s.sync_key FROM {snap} s WHERE s.sync_key IN "
                f"(SELECT j.sync_key FROM {j} j WHERE 1 = 1{only('j')})")
        insert = (f"INSERT INTO {snap} {cols} SELECT v.sync_key, v.row_hash, v.status, v.run_id "
                  f"FROM ({final}) AS v LEFT JOIN ({held}) AS e ON e.sync_key = v.sync_key "
                  "WHERE e.sync_key IS NULL")
        return [*out, update, insert]

    def journal_clear(self) -> str:
        """Empty the journal once every entry is in the snapshot."""
        return f"DELETE FROM {self.tables['journal']}"

    def journal_size(self) -> str:
        """The journal's entries, how many of them release a key, how many mark one in flight."""
        return (f"SELECT COUNT(*), SUM(CASE WHEN status = 'released' THEN 1 ELSE 0 END), "
                f"SUM(CASE WHEN status = 'in_flight' THEN 1 ELSE 0 END) "
                f"FROM {self.tables['journal']}")

    def guard_write(self, snapshot_id: str, run_id: int) -> list[str]:
        """The snapshot's mark, replaced in one transaction: its id, the run, its key count."""
        guard = self.tables["guard"]
        return [f"DELETE FROM {guard}",
                f"INSERT INTO {guard} (snapshot_id, run_id, key_count) SELECT "
                f"{self.dialect.literal(snapshot_id)}, {int(run_id)}, COUNT(*) "
                f"FROM {self.tables['snapshot']}"]

    def guard_read(self) -> str:
        """The snapshot's mark (no row: never written, or lost with the snapshot)."""
        return f"SELECT snapshot_id, run_id, key_count FROM {self.tables['guard']}"

    def drop_work(self) -> list[str]:
        """Drop the work tables (the snapshot stays)."""
        work = ("plan", "keys", "bad", "removed")
        drops = [f"DROP TABLE IF EXISTS {self.tables[t]}" for t in work]
        if self.dialect.temp_work:  # left in the database file by versions before TEMP tables
            old = [self.dialect.table(f"{t}_{self.name}") for t in work]
            drops += [f"DROP TABLE IF EXISTS {table}" for table in old]
        return drops

    @property
    def _create(self) -> str:
        return "CREATE TEMP TABLE" if self.dialect.temp_work else "CREATE TABLE"

    def bad_keys(self) -> str:
        """NULL and duplicated keys with their row counts: only keys are grouped and kept.

        Grouped on the raw column (integers group much faster than their text), except where
        text comparison differs from the column's (MySQL's case-insensitive collations).
        """
        d = self.dialect
        raw = d.key(self.key_column, "m.") if d.key_collate else f"m.{d.quote(self.key_column)}"
        return (f"{self._create} {self.tables['bad']} AS SELECT CAST(k AS {d.text_type}) AS k, "
                f"COUNT(*) AS n FROM (SELECT {raw} AS k FROM {self._m}) AS mk "
                "GROUP BY k HAVING k IS NULL OR COUNT(*) > 1")

    def _valid(self) -> str:
        k = self._key()
        return (f"{k} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {self.tables['bad']} b "
                f"WHERE b.k = {k})")

    def plan_keys(self) -> str:
        """The keys to send and their hash: the model's (key, hash) against the snapshot's.

        Nothing when the snapshot is empty: every valid row is then new, and ``plan`` takes them
        straight from the model rather than joining them back through this table.
        """
        snap = self.tables["snapshot"]
        send = "s.sync_key IS NULL" + (" OR s.row_hash <> d.h" if self.mode == "upsert" else "")
        return (f"{self._create} {self.tables['keys']} AS SELECT d.k, d.h FROM "
                f"(SELECT {self._key()} AS k, {self._hash()} AS h FROM {self._m}) AS d "
                f"LEFT JOIN {snap} s ON s.sync_key = d.k "
                f"WHERE d.k IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {self.tables['bad']} b "
                f"WHERE b.k = d.k) AND ({send}) AND EXISTS (SELECT 1 FROM {snap})")

    def plan_diff(self) -> str:
        """The typed form's one pass: every (key, hash) pair not matched and equal, into ``keys``.

        A FULL OUTER JOIN of the model's (key, hash) pairs with the snapshot keeps new keys and
        changed ones (``k`` and ``h`` set, ``s`` NULL when new) and snapshot keys the model lost
        (``k`` NULL, ``s`` the key); NULL-key rows and unchanged pairs are dropped in the join.
        ``diff_counts`` then tells whether a key may be duplicated; if none is, ``keys`` is the
        plan's keys as ``plan_keys`` would have made them (its rows without ``k`` join nothing),
        and the bad-key pass and the ``counts`` statement are not needed (planner.py
        ``_one_pass``). Only after the summary found a change, on a non-empty snapshot.
        """
        snap = self.tables["snapshot"]
        changed = " OR s.row_hash <> d.h" if self.mode == "upsert" else ""
        return (f"{self._create} {self.tables['keys']} AS SELECT d.k, d.h, s.sync_key AS s "
                f"FROM (SELECT {self._key()} AS k, {self._hash()} AS h FROM {self._m}) AS d "
                f"FULL OUTER JOIN {snap} s ON s.sync_key = d.k "
                f"WHERE (d.k IS NULL) <> (s.sync_key IS NULL){changed}")

    def diff_counts(self) -> str:
        """From ``plan_diff``'s table: new rows, their distinct keys, removed keys, all rows."""
        return ("SELECT COUNT(*) FILTER (WHERE s IS NULL), COUNT(DISTINCT k) FILTER (WHERE s IS "
                f"NULL), COUNT(*) FILTER (WHERE k IS NULL), COUNT(*) FROM {self.tables['keys']}")

    def bad_nulls(self, nulls: int) -> str:
        """``bad`` when no key is duplicated: one row for the ``nulls`` NULL-key rows, if any."""
        return (f"{self._create} {self.tables['bad']} AS SELECT CAST(NULL AS "
                f"{self.dialect.text_type}) AS k, CAST({int(nulls)} AS BIGINT) AS n "
                f"WHERE {int(nulls)} > 0")

    def plan_joined(self, *, valid: bool = False) -> str:
        """The plan of a non-empty snapshot: the model's rows of the keys in ``keys``.

        ``valid``: less the keys in ``bad`` (``keys`` came from ``plan_diff``, which does not
        know them); without, ``keys`` holds no duplicated key. ``by_rowid``: the keys are
        matched on the key column alone, and only the matched rows' other columns are read,
        fetched by rowid (DuckDB pushes the join's rowids into the scan as a filter). Joining
        every column of the model to ``keys`` decoded all of them for every row, as DuckDB's
        filter on a text key lets nearly every row through: at 10M rows, 1% planned, that
        cost about 1.7 CPU-s against 1.0 (bench/PROFILING.md, "late materialization").
        """
        keys, bad = self.tables["keys"], ""
        if valid:
            bad = f" WHERE NOT EXISTS (SELECT 1 FROM {self.tables['bad']} b WHERE b.k = p.k)"
        select = f"{self._create} {self.tables['plan']} AS SELECT m.*, p.k AS {KEY}, p.h AS {HASH}"
        if not self.by_rowid:
            return f"{select} FROM {self._m} JOIN {keys} p ON p.k = {self._key()}{bad}"
        found = (f"SELECT t.rowid AS r, p.k, p.h FROM {self.model} AS t JOIN {keys} p "
                 f"ON p.k = {self.dialect.key(self.key_column, 't.')}{bad}")
        return f"{select} FROM {self.model} AS m JOIN ({found}) AS p ON p.r = m.rowid"

    def _every_row(self, where: str) -> str:
        return (f"SELECT m.*, {self._key()} AS {KEY}, {self._hash()} AS {HASH} "
                f"FROM {self._m} WHERE {where}")

    def plan_select(self, *, full: bool, skip: bool) -> str:
        """The rows to send: model columns, then the key and the hash.

        A full resync sends every valid row, so it needs neither the snapshot nor ``keys``; so
        does a first run (empty snapshot). Otherwise the rows of the keys in ``keys``.
        """
        if skip:
            return self._every_row("1 = 0")
        if full:
            return self._every_row(self._valid())
        first_run = f"NOT EXISTS (SELECT 1 FROM {self.tables['snapshot']})"
        return (f"{self._every_row(f'{first_run} AND {self._valid()}')} UNION ALL "
                f"SELECT m.*, p.k AS {KEY}, p.h AS {HASH} FROM {self._m} "
                f"JOIN {self.tables['keys']} p ON p.k = {self._key()}")

    def plan(self, *, full: bool, skip: bool, columns: str | None = None) -> list[str]:
        """Materialize the plan; ``columns`` declares its columns first (SQLite keeps types).

        ``skip`` (events, first run with `history: skip`) plans nothing, even on a full resync.
        """
        keys = [] if full or skip else [self.plan_keys()]
        select = self.plan_select(full=full, skip=skip)
        if columns is None:
            return [*keys, f"{self._create} {self.tables['plan']} AS {select}"]
        return [*keys, f"{self._create} {self.tables['plan']} ({columns})",
                f"INSERT INTO {self.tables['plan']} {select}"]

    def counts(self) -> str:
        """total, null rows, duplicate rows, new, planned, snapshot keys, bad keys in snapshot.

        Keys gone from the model are derived, not joined: every valid row outside the plan is
        in the snapshot, so removed = snapshot - (valid rows - new) - bad keys in the snapshot.
        """
        t = self.tables
        return (f"SELECT (SELECT COUNT(*) FROM {self._m}), "
                f"(SELECT COALESCE(SUM(n), 0) FROM {t['bad']} WHERE k IS NULL), "
                f"(SELECT COALESCE(SUM(n), 0) FROM {t['bad']} WHERE k IS NOT NULL), "
                f"(SELECT COUNT(*) FROM {t['plan']} p WHERE NOT EXISTS (SELECT 1 FROM "
                f"{t['snapshot']} s WHERE s.sync_key = p.{KEY})), "
                f"(SELECT COUNT(*) FROM {t['plan']}), "
                f"(SELECT COUNT(*) FROM {t['snapshot']}), "
                f"(SELECT COUNT(*) FROM {t['bad']} b JOIN {t['snapshot']} s "
                "ON s.sync_key = b.k)")

    def history_keys(self) -> str:
        """Events, first run with `history: skip`: every valid key and its hash, into ``keys``.

        The planner then marks them as seen in chunks: one INSERT of 10M keys into the
        snapshot's index outgrows DuckDB's memory limit.
        """
        return (f"{self._create} {self.tables['keys']} AS SELECT {self._key()} AS k, "
                f"{self._hash()} AS h FROM {self._m} WHERE {self._valid()}")

    def keys_rows(self) -> str:
        """The rows of ``keys``."""
        return f"SELECT k, h FROM {self.tables['keys']}"

    def removed(self) -> str:
        """Keys the snapshot holds and the model no longer has (``on_removed: delete``).

        An anti-join of the snapshot with the model's keys (as text, as the snapshot holds
        them): one more pass over the model, run only when the counts found removed keys. A
        duplicated key is still in the model, so it is not removed.
        """
        t = self.tables
        return (f"{self._create} {t['removed']} AS SELECT s.sync_key AS k FROM {t['snapshot']} s "
                f"LEFT JOIN (SELECT {self._key()} AS k FROM {self._m}) d ON d.k = s.sync_key "
                "WHERE d.k IS NULL AND s.status = 'accepted'")

    def removed_rows(self) -> str:
        """The removed keys in key order."""
        return f"SELECT k FROM {self.tables['removed']} ORDER BY k"

    def invalid(self) -> str:
        """NULL key first, then duplicated keys in key order."""
        return (f"SELECT k, n FROM {self.tables['bad']} "
                "ORDER BY CASE WHEN k IS NULL THEN 0 ELSE 1 END, k")

    def rows(self, *, above: bool = False, below: bool = False) -> str:
        """The plan's rows in key order; ``above``/``below``: only keys ``>= $lo``/``< $hi``.

        The bounds are parameters (``$lo``, ``$hi``: DuckDB), never pasted keys. With them the
        plan is sorted a key range at a time (``Plan.batches``): the ranges, read one after
        the other, give the same rows in the same order as one ORDER BY over the whole plan,
        since its keys are distinct and never NULL.
        """
        where = [f"{KEY} >= $lo"] * above + [f"{KEY} < $hi"] * below
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        return f"SELECT * FROM {self.tables['plan']}{cond} ORDER BY {KEY}"

    def key_sample(self, n: int) -> str:
        """Up to ``n`` of the plan's keys, sampled, in key order (DuckDB: where to cut ranges).

        Which keys the sample holds changes only where the ranges are cut, never the rows'
        order, so the sample need not be the same from one run to the next.
        """
        return (f"SELECT {KEY} FROM (SELECT {KEY} FROM {self.tables['plan']} "
                f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (18)) AS s ORDER BY {KEY}")
