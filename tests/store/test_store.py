"""State store on a real SQLite file and a real PostgreSQL database: migrations, runs, leases."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from syncline.errors import RunLockedError, StoreError
from syncline.store import DroppedField, RejectedRow, StateStore
from syncline.store.store import SCHEMA_REVISION

MIGRATIONS = Path(__file__).parents[2] / "src" / "syncline" / "store" / "migrations"


def test_migration_creates_tables(state_url: str) -> None:
    store = StateStore(state_url)
    names = set(sa.inspect(store.engine).get_table_names())
    store.close()
    assert {"runs", "rejections", "in_doubt_keys", "leases", "sign_in_failures",
            "alembic_version"} <= names


def _alembic() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def test_schema_revision_is_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(_alembic()).get_heads() == [SCHEMA_REVISION]


def test_an_older_store_is_upgraded(state_url: str) -> None:
    engine = sa.create_engine(state_url)
    cfg = _alembic()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    engine.dispose()
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    names = set(sa.inspect(store.engine).get_table_names())
    store.close()
    assert version == SCHEMA_REVISION and "syncline_users" in names


def test_an_up_to_date_store_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(url).close()
    code = ("import sys; from syncline.store import StateStore; StateStore(sys.argv[1]).close(); "
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_runs_and_rejections_round_trip(state_url: str) -> None:
    store = StateStore(state_url)
    run = store.start_run("users", trigger="schedule", full=True)
    store.update_run(run, planned_new=5)
    rows = [RejectedRow("k1", "invalid_email", "bad email", "email", {"a": 1}),
            RejectedRow(None, "null_key", "no key", None, None)]
    store.add_rejections(run, rows)
    store.add_in_doubt(run, ["k9"], "resent")
    store.finish_run(run, "succeeded", sent=5, accepted=4, rejected=1)
    rec = store.run(run)
    assert (rec.status, rec.trigger, rec.full, rec.sent, rec.planned_new) == (
        "succeeded_with_rejections", "schedule", True, 5, 5)
    assert rec.started_at.tzinfo is not None and (rec.duration_s or 0) >= 0
    assert rec.to_dict()["accepted"] == 4
    assert store.rejections(run) == rows
    assert store.rejections(run, code="null_key") == rows[1:]
    assert [k.sync_key for k in store.in_doubt(run)] == ["k9"]
    assert [r.id for r in store.runs("users")] == [run]
    with pytest.raises(StoreError, match="syncline runs"):
        store.run(999)
    store.close()


def test_lease_refused_across_stores_and_taken_over_after_expiry(state_url: str) -> None:
    url = state_url
    one, two = StateStore(url), StateStore(url)
    lease = one.lease("users", holder="host:1", ttl_s=0.3)
    run = one.start_run("users")
    lease.renew(run)
    with pytest.raises(RunLockedError, match="already running"):
        two.lease("users", holder="host:2")
    time.sleep(0.4)
    with two.lease("users", holder="host:2"):
        assert two.run(run).status == "failed"
        assert two.run(run).error == "the process running it stopped"
    with one.lease("users", holder="host:3"):
        pass
    one.close()
    two.close()


def test_migrations_create_the_server_tables_as_the_models_declare_them(state_url: str) -> None:
    from syncline.server.project.models import metadata

    store = StateStore(state_url)
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name
    store.close()


def test_migrations_create_the_store_tables_as_tables_py_declares_them(state_url: str) -> None:
    from syncline.store import tables

    store = StateStore(state_url)
    inspector = sa.inspect(store.engine)
    for table in tables.metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            assert indexes.get(index.name) == [c.name for c in index.columns], index.name
    store.close()


def test_a_0002_store_keeps_its_runs_and_gains_the_new_counts(state_url: str) -> None:
    """Later migrations are additive: runs recorded before them read 0 for the new counts."""
    engine = sa.create_engine(state_url)
    cfg = _alembic()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(sa.text("INSERT INTO runs (sync, status, trigger, \"full\", started_at, "
                             "accepted) VALUES ('old', 'succeeded', 'manual', false, :at, 7)"),
                     {"at": datetime.now(UTC)})
        conn.exec_driver_sql("INSERT INTO in_doubt_keys (run_id, sync_key, action) VALUES "
                             "(1, 'k', 'skipped')")
    engine.dispose()
    store = StateStore(state_url)
    try:
        old = store.runs("old")[0]
        assert (old.accepted, old.not_sent, old.in_doubt_skipped, old.in_doubt_resent,
                old.fields_dropped) == (7, 0, 0, 0, 0)
        assert store.in_doubt(old.id)[0].reason is None
        run = store.start_run("users")
        store.add_dropped_fields(run, [DroppedField("k1", "Gender", "gender", "514", "bad")])
        store.finish_run(run, "succeeded", fields_dropped=1)
        assert store.run(run).fields_dropped == 1
        assert store.dropped_fields(run) == [DroppedField("k1", "Gender", "gender", "514", "bad")]
        assert store.rejections(run) == []
    finally:
        store.close()


def test_a_run_whose_process_died_is_closed_with_counts_that_add_up(state_url: str) -> None:
    store = StateStore(state_url)
    dead = store.start_run("orders")
    store.update_run(dead, planned_new=1_000, invalid=1, sent=300, accepted=200)
    store.add_rejections(dead, [RejectedRow(None, "null_key", "no key"),  # the invalid row
                                RejectedRow("k1", "515", "bad email")])
    # its lease, never released, held by a process of this host that is gone
    store.lease("orders", holder=f"{socket.gethostname()}:999999999").renew(dead)
    with store.lease("orders", holder="me:1") as lease:
        assert lease.taken_over == dead
        store.finish_crashed(dead, accepted=400, in_doubt=100)  # as read from the snapshot
    rec = store.run(dead)
    store.close()
    assert (rec.status, rec.error) == ("failed", "the process running it stopped")
    assert (rec.accepted, rec.rejected, rec.in_doubt, rec.not_sent) == (400, 1, 100, 499)
    assert rec.planned_new == rec.accepted + rec.rejected + rec.failed + rec.in_doubt + rec.not_sent


def test_rejections_are_counted_grouped_paged_and_filtered_in_sql(state_url: str) -> None:
    store = StateStore(state_url)
    run = store.start_run("users")
    other = store.start_run("users")
    store.add_rejections(other, [RejectedRow("x1", "516", "bad phone", "phone")])
    rows = ([RejectedRow(f"u{i:03}", "516", "bad phone", "phone") for i in range(7)]
            + [RejectedRow(f"e{i}", "512", "bad email", "email") for i in range(3)]
            + [RejectedRow("50%_off", "513", "too long", None)])
    store.add_rejections(run, rows)
    assert [(g.code, g.column, g.count) for g in store.rejection_summary(run)] == [
        ("516", "phone", 7), ("512", "email", 3), ("513", None, 1)]
    assert store.count_rejections(run) == 11
    assert store.count_rejections(run, code="516", column="email") == 0
    assert [r.sync_key for r in store.rejections(run, code="516", offset=5, limit=5)] == [
        "u005", "u006"]
    # the key filter is a literal substring: `%` and `_` are not wildcards
    assert store.count_rejections(run, key="%_") == 1
    assert store.count_rejections(run, key="u00") == 7
    streamed = list(store.iter_rejections(run, chunk=3))
    assert [r.sync_key for r in streamed] == [r.sync_key for r in rows]
    assert [r.sync_key for r in store.iter_rejections(run, column="email", chunk=2)] == [
        "e0", "e1", "e2"]
    store.close()


def test_last_runs_per_sync_and_failures_since(state_url: str) -> None:
    from datetime import timedelta

    store = StateStore(state_url)
    old = store.start_run("users")
    store.finish_run(old, "failed", error="long ago")
    store.update_run(old, started_at=datetime.now(UTC) - timedelta(hours=30))
    recent = store.start_run("users")
    store.finish_run(recent, "failed", error="warehouse unreachable")
    done = store.start_run("users")
    store.finish_run(done, "succeeded", sent=1, accepted=1)
    orders = store.start_run("orders")
    last = store.last_runs()
    assert {name: r.id for name, r in last.items()} == {"users": done, "orders": orders}
    assert last["orders"].status == "running"
    since = datetime.now(UTC) - timedelta(hours=24)
    assert [(r.id, r.error) for r in store.failed_since(since)] == [
        (recent, "warehouse unreachable")]
    store.close()
