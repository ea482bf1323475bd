"""State store on a real SQLite file and a real PostgreSQL database: migrations, runs, leases."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from syncline.errors import RunLockedError, StoreError
from syncline.store import RejectedRow, StateStore


def test_migration_creates_tables(state_url: str) -> None:
    store = StateStore(state_url)
    names = set(sa.inspect(store.engine).get_table_names())
    store.close()
    assert {"runs", "rejections", "in_doubt_keys", "leases", "alembic_version"} <= names


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
    from syncline.server.models import metadata

    store = StateStore(state_url)
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name
    store.close()
