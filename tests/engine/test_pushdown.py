"""Pushdown (`diff: source`) into SQLite, PostgreSQL and MariaDB: the diff runs in the source.

Each test gets its own SQLite file or its own PostgreSQL/MariaDB database, dropped after.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncline.config.models import ModelConfig
from syncline.config.sources import MySQLSourceConfig, PostgresSourceConfig, SQLiteSourceConfig
from syncline.engine.planner import Plan, Planner
from syncline.errors import ConfigError, ModelError
from syncline.sources.registry import model_sql
from syncline.sources.sql import SQLSource, open_sql_source
from tests.engine.placing import place_of
from tests.servers import need_mariadb, need_postgres

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MY_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"


@dataclass
class Database:
    """A throwaway database: its kind, a config to open it as a source, and a SQL runner."""

    kind: str
    config: Any
    url: str

    def sql(self, *statements: str, params: list[dict[str, Any]] | None = None) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    if params is not None:
                        conn.execute(sa.text(statement), params)
                    else:
                        conn.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def scalar(self, statement: str) -> Any:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql(statement).scalar()
        finally:
            engine.dispose()

    def source(self, *, read_only: bool = False) -> SQLSource:
        config = self.config.model_copy(update={"read_only": read_only})
        return open_sql_source("wh", config, Path("/"))


def make_database(kind: str, tmp: Path) -> Iterator[Database]:
    """A fresh database of `kind` for one test; PostgreSQL/MariaDB ones are dropped after."""
    name = f"syncline_t_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        path = tmp / "warehouse.sqlite"
        sqlite3.connect(path).close()
        yield Database(kind, SQLiteSourceConfig(type="sqlite", path=str(path)),
                       f"sqlite:///{path}")
        return
    need_postgres() if kind == "postgres" else need_mariadb()
    admin_url = PG_ADMIN if kind == "postgres" else MY_ADMIN
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        if kind == "postgres":
            yield Database(kind, PostgresSourceConfig(
                type="postgres", host="127.0.0.1", port=5432, user="postgres", database=name),
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        else:
            yield Database(kind, MySQLSourceConfig(
                type="mariadb", host="127.0.0.1", port=3306, user="root", database=name),
                f"mysql+pymysql://root@127.0.0.1:3306/{name}")
    finally:
        with admin.connect() as conn:
            if kind == "postgres":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
                _drop_mysql_tables(conn, name)
        admin.dispose()


def _drop_mysql_tables(conn: sa.Connection, database: str) -> None:
    """Syncline's tables of this database live in the shared `syncline` database."""
    rows = conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'syncline' "
        "AND table_name LIKE %s", (f"%{database}%",)).fetchall()
    for (table,) in rows:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS `syncline`.`{table}`")


KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.integration),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.integration),
]


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from make_database(str(request.param), tmp_path)


TABLE = "users"
COLS = '"User Id" VARCHAR(20), "Name" VARCHAR(50), city VARCHAR(50), other INTEGER'


def _create(db: Database, rows: list[tuple[object, ...]]) -> None:
    _update(db, f"CREATE TABLE {TABLE} ({COLS})")
    db.sql(f"INSERT INTO {TABLE} VALUES (:k, :n, :c, :o)",
           params=[{"k": r[0], "n": r[1], "c": r[2], "o": r[3]} for r in rows])


def _rows(n: int) -> list[tuple[object, ...]]:
    return [(f"u{i:03d}", f"name{i}", "x", i) for i in range(n)]


def _planner(tmp: Path, src: SQLSource, *, diff: str = "source", salt: str = "m1",
             mode: str = "upsert", name: str = "users") -> Planner:
    sql = model_sql(ModelConfig(table=TABLE), src)
    return Planner(name, src, sql, model_is_table=True, key_column="User Id",
                   hash_columns=["Name", "city"],
                   salt=salt, mode=mode, place=place_of(src, diff),
                   local_path=tmp / "diff" / "d.duckdb")


def _keys(plan: Plan) -> list[str]:
    return sorted(k for b in plan.batches(3) for k in b.to_pydict()["__syncline_key"])


def _commit_all(planner: Planner, plan: Plan) -> None:
    for batch in plan.batches(7):
        d = batch.to_pydict()
        planner.snapshot().commit(d["__syncline_key"], d["__syncline_hash"], 1)


def _update(db: Database, statement: str) -> None:
    db.sql(statement.replace('"', "`") if db.kind == "mariadb" else statement)


def test_first_second_changed_unrelated_full_and_salt(db: Database, tmp_path: Path) -> None:
    _create(db, _rows(20))
    src = db.source()
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert (plan.counts.new, plan.counts.rows_in_model) == (20, 20)
    _commit_all(p, plan)
    plan.close()
    assert p.plan().counts.unchanged == 20
    _update(db, 'UPDATE users SET "Name" = \'z\' WHERE other < 3')
    _update(db, "UPDATE users SET other = other + 100")
    plan = p.plan()
    assert (plan.counts.changed, plan.counts.new, plan.counts.unchanged) == (3, 0, 17)
    assert _keys(plan) == ["u000", "u001", "u002"]
    rows = [r for b in plan.batches() for r in b.to_pylist()]
    assert {r["Name"] for r in rows} == {"z"} and {r["other"] for r in rows} == {100, 101, 102}
    assert p.plan(full=True).counts.changed == 20
    p.close()
    p2 = _planner(tmp_path, src, salt="m2")
    assert p2.plan().counts.changed == 20
    p2.close()
    src.close()


def test_invalid_removed_null_vs_empty_and_case(db: Database, tmp_path: Path) -> None:
    rows = [*_rows(3), ("d", "a", None, 1), ("d", "b", "", 2), (None, "n", "", 3),
            ("Aa", "n", None, 4), ("aa", "n", None, 5)]
    _create(db, rows)
    src = db.source()
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert (plan.counts.null_keys, plan.counts.duplicate_keys, plan.counts.new) == (1, 2, 5)
    invalid = list(plan.invalid_rows())
    assert [r[:2] for r in invalid] == [(None, "null_key"), ("d", "duplicate_key"),
                                        ("d", "duplicate_key")]
    assert "User Id" in invalid[0][2] and "2 times" in invalid[1][2]
    _commit_all(p, plan)
    _update(db, "UPDATE users SET city = '' WHERE other = 4")  # key Aa, not aa
    _update(db, "DELETE FROM users WHERE \"User Id\" = 'u000'")
    plan = p.plan()
    assert (plan.counts.removed, plan.counts.changed, _keys(plan)) == (1, 1, ["Aa"])
    p.close()
    src.close()


@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_events_history_skip_and_in_doubt(db: Database, tmp_path: Path, policy: str) -> None:
    _create(db, _rows(5))
    src = db.source()
    p = _planner(tmp_path, src, mode="append")
    plan = p.plan(history="skip")
    assert (plan.counts.new, plan.counts.unchanged, _keys(plan)) == (0, 5, [])
    assert plan.counts.removed == 0
    db.sql("INSERT INTO users VALUES ('v1', 'a', 'b', 1), ('v2', 'a', 'b', 2)")
    _update(db, "UPDATE users SET \"Name\" = 'q'")
    plan = p.plan(history="skip")
    assert (plan.counts.new, plan.counts.changed, plan.counts.removed) == (2, 0, 0)
    batch = next(plan.batches()).to_pydict()
    p.snapshot().mark_in_flight(batch["__syncline_key"], batch["__syncline_hash"], 2)
    assert p.snapshot().in_doubt_keys() == ["v1", "v2"]
    p.snapshot().resolve_in_doubt(["v1", "v2"], policy)  # type: ignore[arg-type]
    assert p.snapshot().in_doubt_keys() == []
    assert p.plan().counts.new == (0 if policy == "skip" else 2)
    p.close()
    src.close()


def test_commits_are_durable_and_only_changed_rows_are_materialized(
        db: Database, tmp_path: Path) -> None:
    _create(db, _rows(50))
    src = db.source()
    p = _planner(tmp_path, src)
    plan = p.plan()
    batch = next(plan.batches(10)).to_pydict()
    p.snapshot().commit(batch["__syncline_key"], batch["__syncline_hash"], 1)
    p.close()  # a new planner, new connections: the 10 committed keys are there
    p = _planner(tmp_path, src)
    plan = p.plan()
    assert (plan.counts.unchanged, plan.counts.new) == (10, 40)
    _commit_all(p, plan)
    _update(db, "UPDATE users SET \"Name\" = 'w' WHERE other IN (7, 8)")
    p.plan()
    table = {"sqlite": "syncline_plan_users", "postgres": "syncline.plan_users",
             "mariadb": "syncline.`plan_{}__users`"}[db.kind].format(
                 getattr(db.config, "database", ""))
    assert db.scalar(f"SELECT COUNT(*) FROM {table}") == 2
    p.close()
    src.close()


def test_source_and_local_placement_agree(db: Database, tmp_path: Path) -> None:
    _create(db, [*_rows(10), ("d", "a", "", 1), ("d", "a", "", 1), ("e", None, None, 2)])
    src = db.source()
    results = []
    for diff in ("source", "local"):
        p = _planner(tmp_path, src, diff=diff)
        plan = p.plan()
        rows = sorted((r for b in plan.batches() for r in b.to_pylist()),
                      key=lambda r: str(r["__syncline_key"]))
        results.append((plan.counts, [{k: v for k, v in r.items() if k != "__syncline_hash"}
                                      for r in rows]))
        _commit_all(p, plan)
        plan.close()
        assert p.plan().counts.unchanged == 11
        p.close()
    assert results[0] == results[1]
    src.close()


def test_read_only_source_refuses_pushdown(db: Database, tmp_path: Path) -> None:
    _create(db, _rows(1))
    src = db.source(read_only=True)
    with pytest.raises(ConfigError, match="diff: local"):
        _planner(tmp_path, src)
    src.close()


def test_bad_key_column_is_a_model_error(db: Database, tmp_path: Path) -> None:
    _create(db, _rows(1))
    src = db.source()
    sql = model_sql(ModelConfig(table=TABLE), src)
    p = Planner("users", src, sql, model_is_table=True, key_column="nope",
                hash_columns=["Name"], salt="s",
                mode="upsert", place=place_of(src, "source"),
                local_path=tmp_path / "d.duckdb")
    with pytest.raises(ModelError, match="`nope`"):
        p.plan()
    p.close()
    src.close()




@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("postgres", tmp_path)


@pytest.mark.integration
def test_first_runs_of_many_syncs_at_once_all_create_their_snapshot(
    pg: Database, tmp_path: Path
) -> None:
    """Workers start the first runs of several syncs on one database at the same moment: each
    creates the `syncline` schema if it is missing, and none may fail because another did."""
    import threading

    _create(pg, _rows(3))
    sources = [pg.source() for _ in range(8)]
    start, failures = threading.Barrier(len(sources)), []

    def first_run(i: int) -> None:
        start.wait()
        try:
            _planner(tmp_path, sources[i], name=f"sync{i}").close()
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first_run, args=(i,)) for i in range(len(sources))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for src in sources:
        src.close()
    assert failures == []


def crash_with_a_journal(make: Callable[[], Planner]) -> None:
    """A run that dies with its journal unmerged loses nothing, and `plan` sees it committed.

    Events: keys 0-4 accepted, 5-6 released (rejected), 7-9 left in flight, 10-19 accepted with
    no mark; then the process dies (its store closed without the end-of-run merge).
    """
    p = make()
    keys = _keys(p.plan())
    assert len(keys) == 50
    hashes = {k: h for b in p.plan().batches(50)
              for k, h in zip(b.to_pydict()["__syncline_key"], b.to_pydict()["__syncline_hash"],
                              strict=True)}
    snap = p.snapshot()
    snap.mark_in_flight(keys[:10], [hashes[k] for k in keys[:10]], 7)
    snap.record(7, accepted=(keys[:5], [hashes[k] for k in keys[:5]]), released=keys[5:7],
                in_flight=(keys[20:22], [hashes[k] for k in keys[20:22]]))
    snap.commit(keys[10:20], [hashes[k] for k in keys[10:20]], 7)
    snap.release(keys[20:22])
    p._store.close()  # SIGKILL: no merge
    p = make()
    plan = p.plan(history="send")  # merges the journal first: its rows count as committed
    assert (plan.counts.new, plan.counts.unchanged) == (50 - 5 - 3 - 10, 5 + 3 + 10)
    assert _keys(plan) == sorted(keys[5:7] + keys[20:])
    assert p.snapshot().in_doubt_keys() == keys[7:10]
    assert p.snapshot().run_counts(7) == (15, 3)
    p.close()
    p = make()  # merging again changes nothing
    assert p.snapshot().run_counts(7) == (15, 3)
    p.close()


def crash_in_a_first_run_filled_directly(make: Callable[[], Planner]) -> None:
    """A profile sync's first run writes accepted keys straight into the snapshot
    (``Snapshot.fill_directly``): nothing in the journal, nothing to merge. A run that dies
    after 20 of 50 keys leaves exactly those 20 keys, once each; the next run is an ordinary
    incremental one that plans only the other 30, journals them, and merges them in.
    """
    p = make()
    plan = p.plan()
    keys = _keys(plan)
    assert (len(keys), plan.counts.new) == (50, 50)
    hashes = {k: h for b in p.plan().batches(50)
              for k, h in zip(b.to_pydict()["__syncline_key"], b.to_pydict()["__syncline_hash"],
                              strict=True)}
    snap = p.snapshot()
    assert snap.fill_directly()
    snap.commit(keys[:12], [hashes[k] for k in keys[:12]], 7)
    snap.commit(keys[12:20], [hashes[k] for k in keys[12:20]], 7)
    store = p.store
    journal, table = snap.journal, snap.table
    assert store.query(f"SELECT COUNT(*) FROM {journal}")[0][0] == 0
    assert store.query(f"SELECT COUNT(*) FROM {table}")[0][0] == 20
    p._store.close()  # SIGKILL: no merge, no mark
    p = make()
    plan = p.plan()
    assert (plan.counts.new, plan.counts.unchanged) == (30, 20)
    assert _keys(plan) == keys[20:]
    snap = p.snapshot()
    assert snap.run_counts(7) == (20, 0)
    assert not snap.first_run()
    assert not snap.fill_directly()  # the snapshot holds keys: the journal again
    snap.commit(keys[20:], [hashes[k] for k in keys[20:]], 8)
    assert p.store.query(f"SELECT COUNT(*) FROM {journal}")[0][0] == 30
    snap.merge()
    rows = p.store.query(f"SELECT COUNT(*), COUNT(DISTINCT sync_key) FROM {table}")[0]
    assert tuple(rows) == (50, 50)
    assert p.plan().counts.unchanged == 50
    p.close()


def test_a_first_run_filled_directly_then_killed_loses_and_repeats_nothing(
        db: Database, tmp_path: Path) -> None:
    _create(db, _rows(50))
    src = db.source()
    crash_in_a_first_run_filled_directly(lambda: _planner(tmp_path, src))
    src.close()


def test_a_first_run_with_an_in_flight_mark_falls_back_to_the_journal(
        db: Database, tmp_path: Path) -> None:
    """An entry other than an acceptance (a mark, a release) goes to the journal, and every
    entry after it too: the merge settles them, one row per key."""
    _create(db, _rows(10))
    src = db.source()
    p = _planner(tmp_path, src, mode="append")
    keys = _keys(p.plan())
    snap = p.snapshot()
    assert snap.fill_directly()
    snap.commit(keys[:2], ["1", "2"], 3)
    snap.mark_in_flight(keys[2:6], ["3", "4", "5", "6"], 3)
    snap.commit(keys[2:4], ["3", "4"], 3)
    snap.release(keys[4:5], 3)
    assert p.store.query(f"SELECT COUNT(*) FROM {snap.journal}")[0][0] == 7
    snap.merge()
    assert snap.run_counts(3) == (4, 1)
    assert snap.in_doubt_keys() == [keys[5]]
    rows = p.store.query(f"SELECT COUNT(*), COUNT(DISTINCT sync_key) FROM {snap.table}")[0]
    assert tuple(rows) == (5, 5)
    p.close()
    src.close()


def test_a_journal_left_by_a_crash_is_merged_before_anything_reads_the_snapshot(
        db: Database, tmp_path: Path) -> None:
    _create(db, _rows(50))
    src = db.source()
    crash_with_a_journal(lambda: _planner(tmp_path, src, mode="append"))
    src.close()
