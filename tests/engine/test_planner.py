"""Planner: the diff in SQL against real DuckDB files, in both placements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from syncline.config.models import ModelConfig
from syncline.engine import planner as planner_module
from syncline.engine import snapshot as snapshot_module
from syncline.engine.diff.store import DuckDBStore
from syncline.engine.planner import KEY, MEMORY_LIMIT, Plan, Planner
from syncline.engine.snapshot import Snapshot
from syncline.errors import SynclineError
from syncline.sources.duckdb import DuckDBSource
from syncline.sources.registry import model_sql
from tests.engine.placing import place_of
from tests.engine.test_pushdown import crash_in_a_first_run_filled_directly, crash_with_a_journal

TABLE = '"My Schema"."User ""Table"""'


def _make(path: Path, rows: list[tuple[object, ...]]) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute('CREATE SCHEMA IF NOT EXISTS "My Schema"')
        conn.execute(f'CREATE OR REPLACE TABLE {TABLE} ("User Id" VARCHAR, "Name" VARCHAR, '
                     "city VARCHAR, other INT)")
        conn.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?)", rows)


def _write(tmp: Path, statement: str) -> None:
    """Change the warehouse as its owner would, between plans (Syncline only reads it)."""
    with duckdb.connect(str(tmp / "w.duckdb")) as conn:
        conn.execute(statement)


def _rows(n: int) -> list[tuple[object, ...]]:
    return [(f"u{i:03d}", f"name{i}", "x", i) for i in range(n)]


def _planner(tmp: Path, src: DuckDBSource, *, diff: str = "source", salt: str = "m1",
             mode: str = "upsert") -> Planner:
    sql = model_sql(ModelConfig(table='"My Schema"."User ""Table"""'), src)
    return Planner("users", src, sql, model_is_table=True, key_column="User Id",
                   hash_columns=["Name", "city"],
                   salt=salt, mode=mode, place=place_of(src, diff),
                   local_path=tmp / "diff.duckdb")


def _commit_all(planner: Planner, plan: Plan) -> None:
    for batch in plan.batches(7):
        d = batch.to_pydict()
        planner.snapshot().commit(d["__syncline_key"], d["__syncline_hash"], 1)
    planner.snapshot().merge()  # as a run does at its end


def test_first_second_changed_unrelated_salt(tmp_path: Path) -> None:
    _make(tmp_path / "w.duckdb", _rows(20))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert (plan.counts.new, plan.counts.rows_in_model) == (20, 20)
    _commit_all(p, plan)
    plan.close()
    assert p.plan().counts.unchanged == 20
    _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'z' WHERE other < 3")
    _write(tmp_path, f"UPDATE {TABLE} SET other = other + 100")
    plan = p.plan()
    assert (plan.counts.changed, plan.counts.new, plan.counts.unchanged) == (3, 0, 17)
    assert [b.num_rows for b in plan.batches()] == [3]
    assert p.plan(full=True).counts.changed == 20
    p.close()
    p2 = _planner(tmp_path, src, salt="m2")
    assert p2.plan().counts.changed == 20
    p2.close()
    src.close()


def test_null_vs_empty_and_invalid_and_removed(tmp_path: Path) -> None:
    rows = [*_rows(3), ("d", "a", None, 1), ("d", "b", "", 2), (None, "n", "", 3)]
    _make(tmp_path / "w.duckdb", rows)
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert (plan.counts.null_keys, plan.counts.duplicate_keys, plan.counts.new) == (1, 2, 3)
    invalid = list(plan.invalid_rows())
    assert [r[:2] for r in invalid] == [(None, "null_key"), ("d", "duplicate_key"),
                                        ("d", "duplicate_key")]
    assert "User Id" in invalid[0][2]
    _commit_all(p, plan)
    _write(tmp_path, f"DELETE FROM {TABLE} WHERE \"User Id\" = 'u000'")
    assert p.plan().counts.removed == 1
    p.close()
    src.close()


def test_null_hashes_differently_from_empty(tmp_path: Path) -> None:
    _make(tmp_path / "w.duckdb", [("a", "n", None, 1)])
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())
    _write(tmp_path, f"UPDATE {TABLE} SET city = ''")
    assert p.plan().counts.changed == 1
    p.close()
    src.close()


@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_events_history_skip_and_in_doubt(tmp_path: Path, policy: str) -> None:
    _make(tmp_path / "w.duckdb", _rows(5))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src, mode="append")
    plan = p.plan(history="skip")
    assert (plan.counts.new, list(plan.batches())) == (0, [])
    _write(tmp_path, f"INSERT INTO {TABLE} VALUES ('v1', 'a', 'b', 1), ('v2', 'a', 'b', 2)")
    _write(tmp_path, f"UPDATE {TABLE} SET \"Name\" = 'q'")
    plan = p.plan(history="skip")
    assert (plan.counts.new, plan.counts.changed) == (2, 0)
    batch = next(plan.batches()).to_pydict()
    p.snapshot().mark_in_flight(batch["__syncline_key"], batch["__syncline_hash"], 2)
    assert p.snapshot().in_doubt_keys() == ["v1", "v2"]
    p.snapshot().resolve_in_doubt(["v1", "v2"], policy)  # type: ignore[arg-type]
    assert p.snapshot().in_doubt_keys() == []
    assert p.plan().counts.new == (0 if policy == "skip" else 2)
    p.close()
    src.close()


def test_history_skip_is_chunked_and_finishes_after_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Existing keys are marked as seen a chunk at a time; a first run that dies half-way
    leaves a marker, and the next run finishes marking instead of sending the rest as new."""
    _make(tmp_path / "w.duckdb", _rows(5))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src, mode="append")
    monkeypatch.setattr(planner_module, "HISTORY_CHUNK", 2)
    commit, calls = Snapshot.accept_history, []

    def dies_after_one_chunk(self: Snapshot, *args: Any) -> None:
        calls.append(args)
        if len(calls) > 1:
            raise RuntimeError("killed")
        commit(self, *args)

    monkeypatch.setattr(Snapshot, "accept_history", dies_after_one_chunk)
    with pytest.raises(RuntimeError, match="killed"):
        p.plan(history="skip")
    monkeypatch.setattr(Snapshot, "accept_history", commit)
    assert p.snapshot().first_run()  # two keys seen, the marker still there
    plan = p.plan(history="skip")
    assert (plan.counts.new, list(plan.batches())) == (0, [])
    assert not p.snapshot().first_run()
    keys = p._store.query("SELECT sync_key, status FROM syncline_diff.syncline.snapshot_users")
    assert sorted(keys) == [(k, "accepted") for k in sorted(r[0] for r in _rows(5))]
    _write(tmp_path, f"INSERT INTO {TABLE} VALUES ('v1', 'a', 'b', 1)")
    assert p.plan(history="skip").counts.new == 1
    p.close()
    src.close()


def test_local_and_source_placement_agree(tmp_path: Path) -> None:
    _make(tmp_path / "w.duckdb", [*_rows(10), ("d", "a", "", 1), ("d", "a", "", 1)])
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    results = []
    for diff in ("source", "local"):
        p = _planner(tmp_path, src, diff=diff)
        plan = p.plan()
        keys = [k for b in plan.batches() for k in b.to_pydict()["__syncline_key"]]
        results.append((plan.counts, keys))
        p.close()
    assert results[0] == results[1]
    src.close()


def test_removed_counts_keys_gone_not_keys_turned_duplicate(tmp_path: Path) -> None:
    _make(tmp_path / "w.duckdb", _rows(6))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    _commit_all(p, p.plan())
    _write(tmp_path, f"INSERT INTO {TABLE} VALUES ('u001', 'twin', 'x', 9)")
    _write(tmp_path, f"UPDATE {TABLE} SET \"User Id\" = NULL WHERE other = 2")
    _write(tmp_path, f"DELETE FROM {TABLE} WHERE other IN (3, 4)")
    c = p.plan().counts
    assert (c.rows_in_model, c.duplicate_keys, c.null_keys) == (5, 2, 1)
    assert (c.removed, c.unchanged, c.new, c.changed) == (3, 2, 0, 0)
    p.close()
    src.close()


def test_local_diff_leaves_a_read_only_source_untouched(tmp_path: Path) -> None:
    _make(tmp_path / "w.duckdb", _rows(2))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=True)
    p = _planner(tmp_path, src, diff="local")
    _commit_all(p, p.plan())
    assert p.plan().counts.unchanged == 2
    p.close()
    src.close()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.schemata "
                            "WHERE schema_name = 'syncline'").fetchall() == [(0,)]
    with duckdb.connect(str(tmp_path / "diff.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM syncline.snapshot_users").fetchall() == [(2,)]


def test_the_memory_limit_holds_and_the_source_file_is_never_written(tmp_path: Path) -> None:
    """`diff: source` on DuckDB reads the user's file attached read-only to Syncline's own
    file: the memory limit binds the diff's connection, the snapshot lands in the diff file,
    and the warehouse gets no `syncline` schema (older versions wrote one there)."""
    _make(tmp_path / "w.duckdb", _rows(5))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    with duckdb.connect() as ref:
        ref.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        wanted = ref.execute("SELECT current_setting('memory_limit')").fetchall()
    p = _planner(tmp_path, src)
    assert p._store.query("SELECT current_setting('memory_limit')") == wanted
    plan = p.plan()
    assert plan.counts.new == 5
    _commit_all(p, plan)
    plan.close()
    p.close()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.schemata "
                            "WHERE schema_name = 'syncline'").fetchall() == [(0,)]
    with duckdb.connect(str(tmp_path / "diff.duckdb"), read_only=True) as conn:
        tables = conn.execute("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = 'syncline'").fetchall()
        assert sorted(tables) == [("guard_users",), ("hashform_users",), ("journal_users",),
                                  ("snapshot_users",)]
        assert conn.execute("SELECT count(*) FROM syncline.snapshot_users").fetchall() == [(5,)]


def test_a_snapshot_older_versions_kept_in_the_warehouse_is_carried_over(tmp_path: Path) -> None:
    """Upgrading must not make every row look new: the old `syncline.snapshot_<sync>` table of
    the warehouse is copied into the empty snapshot of Syncline's own file."""
    _make(tmp_path / "w.duckdb", _rows(4))
    _write(tmp_path, "CREATE SCHEMA syncline")
    _write(tmp_path, "CREATE TABLE syncline.snapshot_users (sync_key VARCHAR PRIMARY KEY, "
                     "row_hash UBIGINT, status VARCHAR(16), run_id BIGINT)")
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    first = _planner(tmp_path / "first", src)
    _commit_all(first, first.plan())
    hashes = first._store.query("SELECT sync_key, row_hash, status, run_id FROM "
                                "syncline_diff.syncline.snapshot_users")
    first.close()
    values = ", ".join(f"('{k}', {h}, '{st}', {r})" for k, h, st, r in hashes)
    _write(tmp_path, f"INSERT INTO syncline.snapshot_users VALUES {values}")
    p = _planner(tmp_path, src)
    assert p.plan().counts.unchanged == 4
    p.close()


def test_a_model_query_reads_nothing_but_the_source_file(tmp_path: Path) -> None:
    """The user's query runs on the diff's own connection: it is locked down, so a model cannot
    read other files or change the settings back, while the diff itself still works."""
    _make(tmp_path / "w.duckdb", _rows(3))
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    query = ModelConfig(query=f"SELECT t.*, (SELECT content FROM read_text('{secret}')) AS x "
                              f"FROM {TABLE} t")
    p = Planner("users", src, model_sql(query, src), model_is_table=False, key_column="User Id",
                hash_columns=["x"], salt="m1", mode="upsert", place=place_of(src, "source"),
                local_path=tmp_path / "diff.duckdb")
    with pytest.raises(SynclineError, match="Cannot access file"):
        p.plan()
    with pytest.raises(duckdb.Error, match=r"(?i)configuration"):
        p._store.query("SET enable_external_access = true")
    p.close()
    fine = _planner(tmp_path, src)
    assert fine.plan().counts.new == 3
    fine.close()


@pytest.mark.parametrize("parts", [1, 3])
def test_a_journal_left_by_a_crash_is_merged_first_in_duckdb(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int) -> None:
    """The same crash as on the SQL databases; ``parts``: merged in several transactions."""
    if parts > 1:
        monkeypatch.setattr(snapshot_module, "_MERGE_ENTRIES", 10)  # 32 entries: 4 parts
    _make(tmp_path / "w.duckdb", _rows(50))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    crash_with_a_journal(lambda: _planner(tmp_path, src, mode="append"))
    src.close()


def test_a_first_run_filled_directly_then_killed_in_duckdb(tmp_path: Path) -> None:
    """The same crash as on the SQL databases, in the local DuckDB file."""
    _make(tmp_path / "w.duckdb", _rows(50))
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    crash_in_a_first_run_filled_directly(lambda: _planner(tmp_path, src))
    src.close()


@pytest.mark.parametrize("full", [False, True])
def test_a_large_plan_is_sorted_a_key_range_at_a_time_in_key_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool) -> None:
    """Beyond ``PART_ROWS`` rows (a first run, a full resync) the plan is read in key ranges,
    each sorted on its own: no single query sorts the whole plan, and the rows come in the
    same key order, in batches of exactly the size asked, the same on every plan."""
    monkeypatch.setattr(planner_module, "PART_ROWS", 40)
    odd = ["", "'", '"', "\\", "é", "Z", "a b", "ü'x", "日本"]
    rows = [(f"{odd[i % len(odd)]}{i * 7919 % 1000}", f"n{i}", "x", i) for i in range(300)]
    _make(tmp_path / "w.duckdb", rows)
    src = DuckDBSource("wh", tmp_path / "w.duckdb", read_only=False)
    p = _planner(tmp_path, src)
    if full:
        _commit_all(p, p.plan())
    streamed: list[int] = []
    stream = DuckDBStore.stream

    def counted(self: DuckDBStore, sql: str, rows: int,
                params: Any = None) -> Iterator[pa.RecordBatch]:
        streamed.append(0)
        for batch in stream(self, sql, rows, *([] if params is None else [params])):
            streamed[-1] += batch.num_rows
            yield batch

    monkeypatch.setattr(DuckDBStore, "stream", counted)
    plan = p.plan(full=full)
    assert plan.counts.new + plan.counts.changed == 300
    whole = [r[0] for r in p._store.query(f"SELECT {KEY} FROM ({p._sql.rows()})")]
    assert whole == sorted(r[0] for r in rows)  # DuckDB's ORDER BY: code point order
    streamed.clear()
    batches = list(plan.batches(7))
    assert len(streamed) > 3 and max(streamed) <= 120, streamed  # ranges, none the whole
    assert [k for b in batches for k in b.column(KEY).to_pylist()] == whole
    assert {b.num_rows for b in batches[:-1]} == {7} and batches[-1].num_rows == 300 % 7
    again = list(p.plan(full=full).batches(7))
    assert [b.to_pydict() for b in again] == [b.to_pydict() for b in batches]
    p.close()
    src.close()
