"""The typed row hash of the DuckDB diff, and the migration of a snapshot written in text form.

DuckDB reading its source in place hashes the columns' own values (diff/dialects.py). These
tests check, in real DuckDB, that the typed hash tells apart what the text form told apart
(NULL against '', a NULL's position, nested values), and that upgrading a snapshot written by
the text form sends nothing again: unchanged rows get their typed hash on the first plan, a
changed row is still planned, an event sync keeps its statuses, and a crash at any point of the
migration leaves a snapshot that plans the same. Then the pre-check of a plan: nothing changed
answered without the join, and the same answer as the full plan on random changes; and the plan
after it, one join without the bad-key pass, the same answer as the usual passes, duplicated
keys of every kind sending it back to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.config.models import ModelConfig
from syncline.engine import planner as planner_module
from syncline.engine.diff.dialects import DIALECTS, TEXT_FORM, TYPED_FORM, nested
from syncline.engine.planner import Planner
from syncline.sources.duckdb import DuckDBSource
from syncline.sources.registry import model_sql
from tests.engine.placing import place_of
from tests.engine.test_planner import TABLE, _commit_all, _make, _write

D = DIALECTS["duckdb"]
DIFF = "syncline_diff.syncline"
# an INTEGER and NULLs among them: DuckDB's hash of a list of strings is the variadic hash of
# the same strings, so the typed hash of a row of non-NULL VARCHARs equals its text form
COLUMNS = ["Name", "city", "other"]


def _typed(values: list[tuple[Any, ...]], types: str = "VARCHAR, VARCHAR") -> list[int]:
    """The typed hash of each row of ``values`` (columns a, b of ``types``)."""
    a, b = types.split(", ")
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE t (a {a}, b {b})")
    conn.executemany("INSERT INTO t VALUES (?, ?)", values)
    typed = {c for c, t in (("a", a), ("b", b)) if not nested(t)}
    h = D.row_hash("salt", ["a", "b"], "m.", typed)
    return [int(r[0]) for r in conn.execute(f"SELECT {h} FROM t AS m ORDER BY rowid").fetchall()]


def test_the_typed_form_hashes_values_not_text() -> None:
    h = D.row_hash("s", ["a", "b"], "m.", {"a"})
    assert h == "hash('s', m.\"a\", COALESCE(CAST(m.\"b\" AS VARCHAR), '\\N'))"
    assert D.row_hash("s", ["a"], "m.") == D.row_hash("s", ["a"], "m.", None)
    assert "list_value" in D.row_hash("s", ["a"], "m.")  # the text form is unchanged
    assert DIALECTS["postgres"].row_hash("s", ["a"], "m.", {"a"}) == \
        DIALECTS["postgres"].row_hash("s", ["a"], "m.")  # other dialects: text only


def test_what_a_column_type_change_does_to_the_typed_hash() -> None:
    """As architecture.md says: 1 as INTEGER and as BIGINT hash alike, as DOUBLE or text not,
    and a DATE turned TIMESTAMP hashes differently (so those profiles are sent again)."""
    assert len({*_typed([(1, 1)], "INTEGER, INTEGER"), *_typed([(1, 1)], "BIGINT, INTEGER")}) == 1
    assert len({*_typed([(1, 1)], "INTEGER, INTEGER"), *_typed([(1, 1)], "DOUBLE, INTEGER"),
                *_typed([("1", 1)], "VARCHAR, INTEGER")}) == 3
    assert len({*_typed([("2020-01-01", 1)], "DATE, INTEGER"),
                *_typed([("2020-01-01", 1)], "TIMESTAMP, INTEGER")}) == 2


@pytest.mark.parametrize(("rows", "types"), [
    ([(None, "x"), ("", "x")], "VARCHAR, VARCHAR"),  # NULL against ''
    ([(None, "x"), ("x", None)], "VARCHAR, VARCHAR"),  # a NULL's position
    ([("ab", "c"), ("a", "bc")], "VARCHAR, VARCHAR"),  # where one value ends
    ([(None, 1), (0, 1)], "INTEGER, INTEGER"),
    ([(1.5, 1), (1.25, 1)], "DOUBLE, INTEGER"),
    ([(None, 1), ([], 1), ([None], 1)], "INTEGER[], INTEGER"),  # hash() alone: all three equal
    ([({"a": None}, 1), (None, 1), ({"a": ""}, 1)], "STRUCT(a VARCHAR), INTEGER"),
    ([([{"q": 1}], 1), ([{"q": None}], 1), ([], 1)], "STRUCT(q INTEGER)[], INTEGER"),
])
def test_values_that_differ_hash_differently(rows: list[tuple[Any, ...]], types: str) -> None:
    hashes = _typed(rows, types)
    assert len(set(hashes)) == len(rows), (rows, hashes)


values = st.one_of(st.none(), st.text(max_size=6), st.integers(-3, 3).map(str))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(values, values), min_size=2, max_size=12))
def test_same_data_same_hash_and_a_change_changes_it(rows: list[tuple[Any, ...]]) -> None:
    hashes = _typed(rows)
    assert hashes == _typed(rows)  # same data, same hash (another connection, same values)
    for i, (r1, h1) in enumerate(zip(rows, hashes, strict=True)):
        for r2, h2 in zip(rows[i + 1:], hashes[i + 1:], strict=True):
            assert (h1 == h2) == (r1 == r2), (r1, r2)


# ---- the planner: forms, migration ----


def _old_snapshot(tmp: Path, salt: str = "m1", statuses: dict[str, tuple[str, int]] | None = None,
                  ) -> None:
    """The diff file as the version before typed hashes left it: snapshot, guard and journal
    tables, no hash-form table, and text-form hashes of the model's rows (statuses and runs
    as given, else accepted by run 1)."""
    statuses = statuses or {}
    text = D.row_hash(salt, COLUMNS, "m.")  # the text form, as it always was
    with duckdb.connect(str(tmp / "diff.duckdb")) as conn:
        conn.execute(f"ATTACH '{tmp / 'w.duckdb'}' AS w (READ_ONLY)")
        conn.execute("CREATE SCHEMA syncline")
        conn.execute("CREATE TABLE syncline.snapshot_users (sync_key VARCHAR NOT NULL, "
                     "row_hash UBIGINT, status VARCHAR(16), run_id BIGINT)")
        conn.execute("CREATE TABLE syncline.guard_users (snapshot_id VARCHAR, run_id BIGINT, "
                     "key_count BIGINT)")
        conn.execute("CREATE TABLE syncline.journal_users (sync_key VARCHAR NOT NULL, "
                     "row_hash UBIGINT, status VARCHAR(16), run_id BIGINT)")
        model = TABLE.replace('"My Schema"', 'w."My Schema"')
        conn.execute(f'INSERT INTO syncline.snapshot_users SELECT m."User Id", {text}, '
                     f"'accepted', 1 FROM {model} AS m")
        for key, (status, run) in statuses.items():
            conn.execute("UPDATE syncline.snapshot_users SET status = ?, run_id = ? "
                         "WHERE sync_key = ?", [status, run, key])
        conn.execute("INSERT INTO syncline.guard_users SELECT 'abc', 1, count(*) "
                     "FROM syncline.snapshot_users")


def _state(p: Planner) -> dict[str, tuple[int, str, int]]:
    rows = p.store.query(f"SELECT sync_key, row_hash, status, run_id FROM {DIFF}.snapshot_users")
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "a key with two rows"
    return {str(k): (int(h), str(s), int(r)) for k, h, s, r in rows}


def _state_of(tmp: Path) -> dict[str, int]:
    """The snapshot's hashes, read from the diff file while no planner has it open."""
    with duckdb.connect(str(tmp / "diff.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT sync_key, row_hash FROM syncline.snapshot_users").fetchall()
    return {str(k): int(h) for k, h in rows}


def _form(p: Planner) -> list[tuple[Any, ...]]:
    return p.store.query(f"SELECT hash_form FROM {DIFF}.hashform_users")


def _model_hashes(tmp: Path) -> dict[str, int]:
    h = D.row_hash("m1", COLUMNS, "m.", set(COLUMNS))
    with duckdb.connect(str(tmp / "w.duckdb"), read_only=True) as conn:
        rows = conn.execute(f'SELECT m."User Id", {h} FROM {TABLE} AS m').fetchall()
    return {str(k): int(v) for k, v in rows}


def _source(tmp: Path, n: int = 20) -> DuckDBSource:
    _make(tmp / "w.duckdb", [(f"u{i:03d}", f"name{i}", None if i % 3 == 0 else "x", i)
                             for i in range(n)])
    return DuckDBSource("wh", tmp / "w.duckdb", read_only=False)


def _planner(tmp: Path, src: DuckDBSource, *, diff: str = "source",
             mode: str = "upsert") -> Planner:
    sql = model_sql(ModelConfig(table=TABLE), src)
    return Planner("users", src, sql, model_is_table=True, key_column="User Id",
                   hash_columns=COLUMNS, salt="m1", mode=mode, place=place_of(src, diff),
                   local_path=tmp / "diff.duckdb")


def test_a_new_snapshot_takes_the_typed_form(tmp_path: Path) -> None:
    src = _source(tmp_path)
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert _form(p) == [(TYPED_FORM,)]
    _commit_all(p, plan)
    p.close()
    p = _planner(tmp_path, src)
    assert p.plan().counts.unchanged == 20
    p.close()
    src.close()


def test_an_upgrade_migrates_unchanged_rows_and_plans_changed_ones(tmp_path: Path) -> None:
    src = _source(tmp_path)
    _old_snapshot(tmp_path)
    _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'changed' WHERE other < 2")  # before
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert (plan.counts.changed, plan.counts.unchanged, plan.counts.new) == (2, 18, 0)
    assert _form(p) == [(TYPED_FORM,)]
    state, model = _state(p), _model_hashes(tmp_path)
    typed = {k for k in state if state[k][0] == model[k]}
    assert typed == {f"u{i:03d}" for i in range(2, 20)}  # the changed two keep their old hash
    _commit_all(p, plan)  # sent: stored with the typed hash
    plan.close()
    assert p.plan().counts.unchanged == 20
    _write(tmp_path, f"UPDATE {TABLE} SET city = NULL WHERE other = 7")  # and after
    plan = p.plan()
    assert (plan.counts.changed, [b.num_rows for b in plan.batches()]) == (1, [1])
    p.close()
    src.close()


def test_without_the_migration_every_row_would_be_sent(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The same upgrade with the migration taken out: what the test above guards against."""
    monkeypatch.setattr(Planner, "_migrate", lambda self, old: None)
    src = _source(tmp_path)
    _old_snapshot(tmp_path)
    p = _planner(tmp_path, src)
    assert p.plan().counts.changed == 20
    p.close()
    src.close()


def test_an_event_sync_keeps_its_statuses_across_the_upgrade(tmp_path: Path) -> None:
    src = _source(tmp_path, 10)
    marks = {"u001": ("in_flight", 5), "u002": ("in_flight", 5), "u003": ("accepted", 4)}
    _old_snapshot(tmp_path, statuses=marks)
    p = _planner(tmp_path, src, mode="append")
    _write(tmp_path, f"INSERT INTO {TABLE} VALUES ('v1', 'a', 'b', 1)")
    plan = p.plan()
    assert (plan.counts.new, plan.counts.changed) == (1, 0)
    state, model = _state(p), _model_hashes(tmp_path)
    assert {k: v[1:] for k, v in state.items() if k in marks} == marks
    assert all(state[k][0] == model[k] for k in state)  # every row migrated
    assert p.snapshot().in_doubt_keys() == ["u001", "u002"]
    assert p.snapshot().run_counts(5) == (0, 2)
    p.close()
    src.close()


@pytest.mark.parametrize("last", [0, 2, 4, 6])
def test_a_crash_inside_the_migration_leaves_the_old_snapshot_and_form(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last: int) -> None:
    """The rebuild, the swap and the new form are one transaction: dying before any of its
    statements or after any of them (here: the copy made, the old table dropped, the form's
    row deleted) leaves
    the text-form snapshot, recorded as such, and the next plan migrates it."""
    src = _source(tmp_path)
    _old_snapshot(tmp_path)
    before = _state_of(tmp_path)
    real = Planner._run

    def dies_inside(self: Planner, statements: Any) -> None:
        if any("_migrated" in s for s in statements):
            statements = [*statements[:last], "SELECT error('killed')"]
        real(self, statements)

    monkeypatch.setattr(Planner, "_run", dies_inside)
    p = _planner(tmp_path, src)
    with pytest.raises(Exception, match="killed"):
        p.plan()
    assert _form(p) == []  # nothing recorded: still the text form
    p.close()
    assert _state_of(tmp_path) == before
    monkeypatch.setattr(Planner, "_run", real)
    p = _planner(tmp_path, src)
    assert p.plan().counts.unchanged == 20
    assert _form(p) == [(TYPED_FORM,)]
    state, model = _state(p), _model_hashes(tmp_path)
    assert len(state) == 20 and all(state[k][0] == model[k] for k in state)
    p.close()
    src.close()


def test_switching_placement_moves_the_form_both_ways_and_sends_nothing(tmp_path: Path) -> None:
    """`diff: local` hashes text (its stage's types come from Arrow): a snapshot moves to it and
    back, each time migrated, never re-sent."""
    src = _source(tmp_path)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())
    p.close()
    for diff, form in (("local", TEXT_FORM), ("source", TYPED_FORM), ("local", TEXT_FORM)):
        p = _planner(tmp_path, src, diff=diff)
        assert p.plan().counts.unchanged == 20, diff
        assert _form(p) == [(form,)]
        p.close()
    src.close()


def test_a_nested_column_change_from_empty_to_null_is_planned(tmp_path: Path) -> None:
    """hash() alone gives [] and NULL one value: the typed form hashes nested columns as text."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute('CREATE SCHEMA "My Schema"')
        conn.execute(f'CREATE TABLE {TABLE} ("User Id" VARCHAR, "Name" INTEGER[], '
                     "city STRUCT(a VARCHAR), other INT)")
        conn.execute(f"INSERT INTO {TABLE} VALUES ('a', [], {{'a': NULL}}, 1), "
                     "('b', [1], {'a': 'x'}, 2)")
    src = DuckDBSource("wh", path, read_only=False)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())
    assert p._sql.typed == {"other"}
    _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = NULL, city = NULL WHERE \"User Id\" = 'a'")
    assert p.plan().counts.changed == 1
    p.close()
    src.close()


# ---- the pre-check: nothing changed, no join ----


def _spy(p: Planner) -> list[str]:
    """Every statement the planner's store runs from now on."""
    ran: list[str] = []
    store = p.store
    execute, query = store.execute, store.query

    def spy_execute(statements: Any) -> None:
        ran.extend(statements)
        execute(statements)

    def spy_query(sql: str) -> Any:
        ran.append(sql)
        return query(sql)

    store.execute = spy_execute  # type: ignore[method-assign]
    store.query = spy_query  # type: ignore[method-assign]
    return ran


def _probe(statement: str) -> bool:
    """Whether ``statement`` is the probe (``DiffSQL.probe``): a few rowid ranges' rows joined
    to the snapshot."""
    return "rowid BETWEEN" in statement


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_a_nothing_changed_plan_runs_no_join_and_no_bad_key_pass(tmp_path: Path,
                                                                   mode: str) -> None:
    src = _source(tmp_path)
    p = _planner(tmp_path, src, mode=mode)
    _commit_all(p, p.plan())
    ran = _spy(p)
    plan = p.plan()
    assert (plan.counts.unchanged, plan.counts.rows_in_model, plan.counts.in_snapshot) == (
        20, 20, 20)
    assert (list(plan.batches()), list(plan.invalid_rows())) == ([], [])
    assert not [s for s in ran if not s.startswith("DROP") and not _probe(s) and (
        "keys_users" in s or "GROUP BY" in s or "JOIN" in s)]
    assert any("SUM(hash(" in s for s in ran)
    assert any(_probe(s) for s in ran) == (mode == "upsert")  # found nothing: the summary ran
    plan.close()
    ran.clear()
    plan = p.plan(full=True)  # a full resync: no pre-check, every row
    assert plan.counts.changed == 20 and not any("SUM(hash(" in s for s in ran)
    p.close()
    src.close()


def _mutate(tmp: Path, rng: Any, n: int) -> None:
    """Some of: nothing, a changed value, NULL/'' swaps, a new row, a removed row, a NULL key,
    a duplicated key (same or other values), one row removed and another added."""
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        i = rng.randrange(n)
        key = f"u{i:03d}"
        _write(tmp, rng.choice([
            f"UPDATE {TABLE} SET \"Name\" = 'z{rng.random()}' WHERE \"User Id\" = '{key}'",
            f"UPDATE {TABLE} SET city = CASE WHEN city IS NULL THEN '' ELSE NULL END "
            f"WHERE \"User Id\" = '{key}'",
            f"UPDATE {TABLE} SET other = other + 1 WHERE \"User Id\" = '{key}'",
            f"INSERT INTO {TABLE} VALUES ('n{rng.random()}', 'a', 'b', 1)",
            f"DELETE FROM {TABLE} WHERE \"User Id\" = '{key}'",
            f"UPDATE {TABLE} SET \"User Id\" = NULL WHERE \"User Id\" = '{key}'",
            f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE \"User Id\" = '{key}'",
            f"INSERT INTO {TABLE} VALUES ('{key}', 'dup', NULL, 0)",
            f"UPDATE {TABLE} SET \"User Id\" = 'moved{rng.random()}' WHERE \"User Id\" = '{key}'",
        ]))


@pytest.mark.parametrize("seed", range(24))
def test_the_pre_check_answers_as_the_full_plan(tmp_path: Path, seed: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """On random changes, the pre-check finds nothing to do exactly when the plan without it
    plans nothing, finds no bad key and no removed key; its counts are then the plan's."""
    import random

    rng = random.Random(seed)
    mode = "append" if seed % 4 == 3 else "upsert"
    src = _source(tmp_path, 12)
    p = _planner(tmp_path, src, mode=mode)
    _commit_all(p, p.plan())
    for _ in range(3):  # each round: a change (or none), the two answers, then send it all
        _mutate(tmp_path, rng, 12)
        ran = _spy(p)
        with_check = p.plan()
        fast = not any("JOIN" in s and not _probe(s) for s in ran)  # no plan's join
        with_check.close()
        monkeypatch.setattr(Planner, "_incremental", lambda self: None)
        plan = p.plan()
        monkeypatch.undo()
        c = plan.counts
        nothing = (c.new, c.changed, c.removed, c.null_keys, c.duplicate_keys) == (0,) * 5
        assert fast == nothing, (seed, c)
        if fast:
            assert with_check.counts == c
        _commit_all(p, plan)
        for keys in plan.removed_keys(100):
            p.snapshot().forget(keys)
        plan.close()
    p.close()
    src.close()


def _mutate_more(tmp: Path, rng: Any, n: int) -> None:
    """As ``_mutate``, more at once, and duplicates of every kind: a key the snapshot holds
    copied with the same values (the copies match the snapshot's hash) or others, a new key
    twice, a NULL key next to them. Half the rounds first drop every duplicate and make none,
    so the plan without a bad-key pass is taken too."""
    clean = rng.random() < 0.5
    if clean:
        _write(tmp, f"DELETE FROM {TABLE} WHERE rowid NOT IN (SELECT min(rowid) FROM {TABLE} "
                    "GROUP BY \"User Id\")")
    for _ in range(rng.choice([1, 2, 3, 4, 6])):
        i = rng.randrange(n)
        key, new = f"u{i:03d}", f"n{rng.random()}" if clean else f"n{rng.randrange(4)}"
        changes = [
            f"UPDATE {TABLE} SET \"Name\" = 'z{rng.random()}' WHERE \"User Id\" = '{key}'",
            f"UPDATE {TABLE} SET other = other + 1 WHERE \"User Id\" = '{key}'",
            f"INSERT INTO {TABLE} VALUES ('{new}', 'a', 'b', 1)",
            f"DELETE FROM {TABLE} WHERE \"User Id\" = '{key}'",
            f"UPDATE {TABLE} SET \"User Id\" = NULL WHERE \"User Id\" = '{key}'",
            f"INSERT INTO {TABLE} VALUES (NULL, 'a', NULL, {i})",
            f"UPDATE {TABLE} SET \"User Id\" = 'moved{rng.random()}' WHERE \"User Id\" = '{key}'",
        ]
        duplicates = [
            f"INSERT INTO {TABLE} VALUES ('{new}', 'a', 'b', 1), ('{new}', 'a', 'b', 1)",
            f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE \"User Id\" = '{key}'",
            f"INSERT INTO {TABLE} VALUES ('{key}', 'dup', NULL, 0)",
            f"UPDATE {TABLE} SET \"User Id\" = '{key}' WHERE \"User Id\" = 'u{(i + 1) % n:03d}'",
        ]
        _write(tmp, rng.choice(changes if clean else changes + duplicates))


def _everything(p: Planner, plan: Any) -> tuple[Any, ...]:
    """All a plan answers: counts, rows to send (with key and hash), invalid and removed keys."""
    rows = [r for b in plan.batches(5) for r in b.to_pylist()]
    removed = [k for keys in plan.removed_keys(100) for k in keys]
    return plan.counts, rows, list(plan.invalid_rows()), removed


@pytest.mark.parametrize("seed", range(16))
def test_the_one_pass_plan_answers_as_the_full_plan(tmp_path: Path, seed: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """On random changes with NULL and duplicated keys, the plan after the summary (one join,
    no bad-key pass: ``Planner._one_pass``) answers exactly what the usual passes do: counts,
    rows with their keys and hashes, invalid rows, removed keys. When it may have a duplicated
    key it must run the bad-key pass (the join cannot tell which keys, nor count their rows)."""
    import random

    rng = random.Random(seed)
    mode = "append" if seed % 4 == 3 else "upsert"
    if seed % 4 == 1:  # the probe sees two rows only: most changes are left to the summary
        monkeypatch.setattr(planner_module, "PROBE_CHUNKS", 1)
        monkeypatch.setattr(planner_module, "PROBE_ROWS", 2)
    src = _source(tmp_path, 12)
    p = _planner(tmp_path, src, mode=mode)
    _commit_all(p, p.plan())
    for _ in range(4):  # each round: changes, the two answers, then send it all
        _mutate_more(tmp_path, rng, 12)
        ran = _spy(p)
        plan = p.plan()
        one_pass = any("FULL OUTER JOIN" in s for s in ran) and not any(
            "GROUP BY" in s for s in ran)
        got = _everything(p, plan)
        plan.close()
        with monkeypatch.context() as m:
            m.setattr(Planner, "_one_pass", lambda self, *a: None)
            plan = p.plan()
        want = _everything(p, plan)
        assert got == want, (seed, one_pass)
        if one_pass:
            assert got[0].duplicate_keys == 0
        else:
            assert sum("FULL OUTER JOIN" in s for s in ran) <= 1  # no second join
        _commit_all(p, plan)
        p.snapshot().forget(want[3])
        plan.close()
    p.close()
    src.close()


@pytest.mark.parametrize("where", ["probed", "not probed"])
def test_a_change_the_probe_sees_skips_the_summary(tmp_path: Path, where: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed row inside the probe's rowid ranges sends the plan to its join with the
    counts from the tables' statistics, without the summary's pass over every row; one
    outside them leaves it to the summary. Both answer what the usual passes do."""
    monkeypatch.setattr(planner_module, "PROBE_CHUNKS", 2)  # rows 0-1 and 18-19
    monkeypatch.setattr(planner_module, "PROBE_ROWS", 2)
    src = _source(tmp_path)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())
    key = "u019" if where == "probed" else "u007"
    _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'z' WHERE \"User Id\" = '{key}'")
    ran = _spy(p)
    plan = p.plan()
    got = _everything(p, plan)
    plan.close()
    assert [s for s in ran if _probe(s)] and any("FULL OUTER JOIN" in s for s in ran)
    assert any("SUM(hash(" in s for s in ran) == (where == "not probed")
    with monkeypatch.context() as m:
        m.setattr(Planner, "_incremental", lambda self: None)
        plan = p.plan()
    assert got == _everything(p, plan)
    assert (got[0].changed, got[0].unchanged, got[0].rows_in_model) == (1, 19, 20)
    plan.close()
    p.close()
    src.close()


_MODELS = {
    "table": ModelConfig(table=TABLE),
    "query": ModelConfig(query=f"SELECT * FROM {TABLE}"),
    "view": ModelConfig(table='"My Schema".v'),
    "own rowid": ModelConfig(table=TABLE),
}


@pytest.mark.parametrize("kind", list(_MODELS))
def test_a_table_model_fetches_the_planned_rows_by_rowid(tmp_path: Path, kind: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass plan of a base table reads the planned rows by rowid; a query, a view
    (no rowid) and a table with a column named ``rowid`` (all 0 here: joined on it, every
    row would match every key) join on the key. Each answers what the usual passes do. The
    planner is told the model is a table by its config (``model_is_table``)."""
    src = _source(tmp_path, 12)
    if kind == "view":
        _write(tmp_path, f'CREATE VIEW "My Schema".v AS SELECT * FROM {TABLE}')
    if kind == "own rowid":
        _write(tmp_path, f"ALTER TABLE {TABLE} ADD COLUMN rowid INTEGER DEFAULT 0")
    sql = model_sql(_MODELS[kind], src)
    p = Planner("users", src, sql, model_is_table=_MODELS[kind].query is None,
                key_column="User Id", hash_columns=COLUMNS, salt="m1", mode="upsert",
                place=place_of(src, "source"), local_path=tmp_path / "d.duckdb")
    _commit_all(p, p.plan())
    _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'z' WHERE \"User Id\" IN ('u003', 'u007')")
    _write(tmp_path, f"INSERT INTO {TABLE} (\"User Id\", \"Name\") VALUES ('n1', 'a')")
    ran = _spy(p)
    plan = p.plan()
    fetched = [s for s in ran if s.startswith("CREATE") and '"plan_users"' in s]
    described = [s for s in ran if s.startswith("DESCRIBE")]
    got = _everything(p, plan)
    plan.close()
    with monkeypatch.context() as m:
        m.setattr(Planner, "_one_pass", lambda self, *a: None)
        plan = p.plan()
    assert got == _everything(p, plan)
    assert (got[0].new, got[0].changed, len(got[1])) == (1, 2, 3)
    assert len(fetched) == 1 and ("rowid" in fetched[0]) == (kind == "table")
    # the rowid is asked for in the DESCRIBE that finds the typed columns; only a view, which
    # has none, is described a second time
    assert len(described) == (2 if kind == "view" else 1)
    plan.close()
    p.close()
    src.close()


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_an_identical_copy_of_a_held_key_is_reported_not_planned(tmp_path: Path,
                                                                 mode: str) -> None:
    """A row copied as it is matches the snapshot's hash, so the one-pass join drops both
    copies: only the arithmetic (more model rows matched than snapshot keys) sees it."""
    src = _source(tmp_path, 12)
    p = _planner(tmp_path, src, mode=mode)
    _commit_all(p, p.plan())
    _write(tmp_path, f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE \"User Id\" = 'u003'")
    _write(tmp_path, f"INSERT INTO {TABLE} VALUES ('n1', 'a', 'b', 1)")
    plan = p.plan()
    c = plan.counts
    assert (c.rows_in_model, c.new, c.changed, c.unchanged, c.duplicate_keys) == (
        14, 1, 0, 11, 2)
    assert [k for k, _, _ in plan.invalid_rows()] == ["u003", "u003"]
    assert [b.to_pydict()["__syncline_key"] for b in plan.batches()] == [["n1"]]
    plan.close()
    p.close()
    src.close()


def test_local_keeps_the_text_form_so_a_staged_type_change_sends_nothing(tmp_path: Path) -> None:
    """`diff: local` stages the model with the types of the source's Arrow batches, which some
    sources infer from the first batch's values (sources/sql_types.py ``infer_type``: an
    all-NULL first batch stages text). The text form hashes 5 and '5' alike; the typed would
    not, and would send the row again."""
    src = _source(tmp_path)
    p = _planner(tmp_path, src, diff="local")
    _commit_all(p, p.plan())
    p.close()
    src.close()
    _write(tmp_path, f"ALTER TABLE {TABLE} ALTER other TYPE VARCHAR")  # same values, as text
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src, diff="local")
    assert p.plan().counts.unchanged == 20
    assert _form(p) == [(TEXT_FORM,)]
    p.close()
    src.close()
