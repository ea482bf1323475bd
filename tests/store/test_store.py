"""State store on a real SQLite file and a real PostgreSQL database: migrations, runs, leases."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from syncline.errors import RunLockedError, StoreError
from syncline.store import RejectedRow, StateStore
from syncline.store.store import SCHEMA_REVISION

MIGRATIONS = Path(__file__).parents[2] / "src" / "syncline" / "store" / "migrations"


def test_migration_creates_tables(state_url: str) -> None:
    store = StateStore(state_url)
    names = set(sa.inspect(store.engine).get_table_names())
    store.close()
    assert {"runs", "rejections", "in_doubt_keys", "leases", "alembic_version"} <= names


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
        "succeeded", "schedule", True, 5, 5)
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
