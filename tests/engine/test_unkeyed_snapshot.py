"""The DuckDB snapshot has no PRIMARY KEY: its writes must keep each key to one row themselves.

Nothing in the table refuses a second row for a key, so these tests look for one after every
merge: a key changed in two runs, a released key sent again, an in-flight mark then accepted
(in one run and across runs), a merge in parts cut short by a crash and done again, `history:
skip` done twice. And a keyed snapshot an older version left is rebuilt without its key once.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from syncline.engine import snapshot as snapshot_module
from syncline.engine.planner import Planner
from syncline.sources.duckdb import DuckDBSource
from tests.engine.test_planner import TABLE, _commit_all, _make, _planner, _rows, _write

SNAP = "syncline_diff.syncline.snapshot_users"


def _state(p: Planner) -> dict[str, tuple[object, str, int]]:
    """The snapshot as {key: (hash, status, run)}, after checking no key has two rows."""
    rows = p.store.query(f"SELECT sync_key, row_hash, status, run_id FROM {SNAP}")
    keys = [str(r[0]) for r in rows]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    assert not twice, f"keys with more than one row in the snapshot: {twice}"
    return {str(k): (h, str(s), int(r)) for k, h, s, r in rows}


def _hashes(p: Planner) -> dict[str, object]:
    """Every valid key of the model and its current hash (a full plan, not recorded)."""
    plan = p.plan(full=True)
    out = {k: h for b in plan.batches(100) for k, h in
           zip(b.to_pydict()["__syncline_key"], b.to_pydict()["__syncline_hash"], strict=True)}
    plan.close()
    return out


def _events(tmp_path: Path, rows: int) -> tuple[DuckDBSource, Planner, list[str],
                                                 dict[str, object]]:
    """An event sync on a DuckDB model of ``rows`` rows: source, planner, sorted keys, hashes."""
    _make(tmp_path / "w.duckdb", _rows(rows))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src, mode="append")
    h = _hashes(p)
    return src, p, sorted(h), h


@pytest.fixture(params=[1, 3], ids=["one-part", "parts"])
def parts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Merge in one transaction, or in parts of 4 journal entries (several per merge)."""
    if request.param > 1:
        monkeypatch.setattr(snapshot_module, "_MERGE_ENTRIES", 4)
    return int(request.param)


def test_no_merge_gives_a_key_a_second_row(tmp_path: Path, parts: int) -> None:
    _make(tmp_path / "w.duckdb", _rows(20))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())  # run 1: a plain INSERT into the empty snapshot
    assert len(_state(p)) == 20
    for run, last in ((2, 5), (3, 3)):  # keys 0-4, then 0-2 again: changed in two runs
        _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'run{run}' WHERE other < {last}")
        plan = p.plan()
        assert plan.counts.changed == last
        _commit_all(p, plan)
        state = _state(p)
        assert len(state) == 20 and p.plan().counts.unchanged == 20
    keys = sorted(state)
    h = _hashes(p)
    snap = p.snapshot()
    # run 4: keys 5-9 marked in flight; 5-6 accepted, 7 released, 8-9 left in flight; key 10
    # (in the snapshot) released too: it leaves, as a rejected key does
    snap.mark_in_flight(keys[5:10], [h[k] for k in keys[5:10]], 4)
    snap.record(4, accepted=(keys[5:7], [h[k] for k in keys[5:7]]), released=[keys[7], keys[10]])
    snap.merge()
    state = _state(p)
    assert len(state) == 18 and keys[7] not in state and keys[10] not in state
    assert [state[k][1] for k in keys[5:10] if k in state] == ["accepted"] * 2 + ["in_flight"] * 2
    # run 5: the released keys are sent again and accepted; the in-flight keys are marked and
    # accepted again (their old mark is in the snapshot)
    snap.mark_in_flight(keys[7:11], [h[k] for k in keys[7:11]], 5)
    snap.commit(keys[7:11], [h[k] for k in keys[7:11]], 5)
    snap.merge()
    state = _state(p)
    assert len(state) == 20
    assert {state[k][1:] for k in keys[7:11]} == {("accepted", 5)}
    # run 6: marked in flight and left so; then resolved (`skip`) and accepted in run 7
    snap.mark_in_flight(keys[11:13], [h[k] for k in keys[11:13]], 6)
    snap.merge()
    assert snap.in_doubt_keys() == keys[11:13]
    snap.resolve_in_doubt(keys[11:13], "skip")
    snap.commit(keys[11:14], [h[k] for k in keys[11:14]], 7)
    snap.merge()
    assert len(_state(p)) == 20 and snap.in_doubt_keys() == []
    assert p.plan().counts.unchanged == 20
    p.close()
    src.close()


def test_a_merge_in_parts_cut_short_and_done_again(tmp_path: Path) -> None:
    """A crash between two parts leaves the journal whole and some parts merged: merging it
    again updates what the first parts wrote instead of inserting it twice."""
    src, p, keys, h = _events(tmp_path, 30)
    snap = p.snapshot()
    for empty in (True, False):  # the first run's parts, then a later run's
        snap.mark_in_flight(keys, [h[k] for k in keys], 1)
        snap.commit(keys[:25], [h[k] for k in keys[:25]], 1)
        sql = p._sql
        for i in range(2):  # two parts of three merged, then the process dies
            p.store.execute(sql.journal_merge(empty=empty, released=False, part=(i, 3)))
        assert 0 < len(_state(p)) <= 30
        snap.merge()  # as the next run does first (`recover`)
        state = _state(p)
        assert len(state) == 30
        assert sorted(k for k, v in state.items() if v[1] == "in_flight") == keys[25:]
    p.close()
    src.close()


def test_history_skip_done_twice_gives_each_key_one_row(tmp_path: Path) -> None:
    """A `history: skip` first run that died after writing some keys (its marker left) is done
    again by the next run: the keys written the first time are not written twice."""
    _make(tmp_path / "w.duckdb", _rows(12))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src, mode="append")
    h = _hashes(p)
    keys = sorted(h)
    snap = p.snapshot()
    snap.start_history()
    snap.accept_history(keys[:5], [h[k] for k in keys[:5]])
    snap.merge()  # what the next run's `recover` does with the dead run's journal
    assert snap.first_run()
    plan = p.plan(history="skip")
    assert plan.counts.new == 0 and sum(b.num_rows for b in plan.batches()) == 0
    state = _state(p)
    assert sorted(state) == keys and {v[1] for v in state.values()} == {"accepted"}
    assert not snap.first_run()
    p.close()
    src.close()


def _primary_keys(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return int(conn.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'snapshot_users' "
            "AND constraint_type = 'PRIMARY KEY'").fetchall()[0][0])


def test_a_keyed_snapshot_of_an_older_version_is_rebuilt_without_its_key(
        tmp_path: Path) -> None:
    _make(tmp_path / "w.duckdb", _rows(20))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())
    p.close()
    diff = tmp_path / "diff.duckdb"
    with duckdb.connect(str(diff)) as conn:  # the snapshot as versions before 2026-12 made it
        conn.execute("CREATE TABLE syncline.old (sync_key VARCHAR NOT NULL PRIMARY KEY, "
                     "row_hash UBIGINT, status VARCHAR(16), run_id BIGINT)")
        conn.execute("INSERT INTO syncline.old SELECT * FROM syncline.snapshot_users")
        conn.execute("DROP TABLE syncline.snapshot_users")
        conn.execute("ALTER TABLE syncline.old RENAME TO snapshot_users")
    assert _primary_keys(diff) == 1
    p = _planner(tmp_path, src)  # opening it rebuilds it
    assert p.plan().counts.unchanged == 20
    p.close()
    assert _primary_keys(diff) == 0
    with duckdb.connect(str(diff), read_only=True) as conn:
        tables = conn.execute("SELECT table_name FROM duckdb_tables() "
                              "WHERE schema_name = 'syncline' ORDER BY 1").fetchall()
        assert tables == [("guard_users",), ("hashform_users",), ("journal_users",),
                          ("snapshot_users",)]
    for run in (2, 3):  # the next runs: changed keys updated, new keys inserted, once each
        _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'run{run}' WHERE other < 4")
        _write(tmp_path, f"INSERT INTO {TABLE} VALUES ('new{run}', 'n', 'x', 99)")
        p = _planner(tmp_path, src)
        plan = p.plan()
        assert (plan.counts.changed, plan.counts.new) == (4, 1)
        _commit_all(p, plan)
        assert len(_state(p)) == 20 + run - 1
        assert p.plan().counts.unchanged == 20 + run - 1
        p.close()
    src.close()


def test_an_event_first_run_is_merged_in_parts_of_its_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Into an empty snapshot, a part is cut by the entries its anti-join hashes (the answers),
    not by every entry: a mark and an answer per key would otherwise double the parts, each
    a scan of the journal more. The merged snapshot is the same: answers, and the marks left
    unanswered, one row per key."""
    monkeypatch.setattr(snapshot_module, "_MERGE_ENTRIES", 8)
    src, p, keys, h = _events(tmp_path, 12)
    snap = p.snapshot()
    snap.mark_in_flight(keys, [h[k] for k in keys], 1)  # 12 marks
    snap.record(1, accepted=(keys[:7], [h[k] for k in keys[:7]]), released=keys[7:8])
    merges: list[list[str]] = []
    execute = p.store.execute
    monkeypatch.setattr(p.store, "execute",
                        lambda statements: (merges.append(list(statements)), execute(statements)))
    snap.merge()
    assert len(merges) == 1  # 8 answers: one part (by every entry, 20: three)
    state = _state(p)
    assert sorted(state) == keys[:7] + keys[8:]
    assert [state[k][1] for k in keys[:7]] == ["accepted"] * 7
    assert snap.in_doubt_keys() == keys[8:]
    p.close()
    src.close()
