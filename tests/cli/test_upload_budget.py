"""Runs in separate processes share one budget of 15 uploads in flight per CleverTap account.

Each run alone may have ``in_flight: 15``; together, through the state store (a SQLite file or
PostgreSQL), they never have more than 15 uploads at the sandbox, which answers 429 beyond and
counts those answers (``throttled``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncline.config.load import state_url
from syncline.store import StateStore
from tests.cli.budget_project import start_run, summary_of, write_project

ROWS, BATCH = 1_200, 20
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def state_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The state store the runs share: the project's SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        yield {}
        return
    import psycopg

    name = f"syncline_budget_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"SYNCLINE_STATE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_three_runs_to_one_account_stay_within_its_15_uploads(
    tmp_path: Path, sandbox_account: dict[str, Any], state_env: dict[str, str]
) -> None:
    syncs = ["a", "b", "c"]
    env = write_project(tmp_path, sandbox_account, rows=ROWS, syncs=syncs, batch_size=BATCH,
                        in_flight=15) | state_env
    account, sandbox = sandbox_account["account_id"], sandbox_account["server"]
    sandbox.set_faults(account, latency_ms=300)  # uploads overlap: 45 would be in flight
    # the store is created first: three processes creating one store at once is another matter
    StateStore(state_url(tmp_path, env)).close()
    procs = [start_run(tmp_path, sync, env) for sync in syncs]
    summaries = [summary_of(proc) for proc in procs]
    for summary in summaries:
        assert (summary["status"], summary["accepted"], summary["failed"]) == (
            "succeeded", ROWS, 0), summary
    stats = sandbox.server.stats(account)
    assert stats["throttled"] == 0
    assert stats["uploads"] == len(syncs) * ROWS // BATCH  # each batch sent once, never refused
    profile = sandbox.server.profile(account, "7")
    assert profile == {"name_a": "Person 7", "name_b": "Person 7", "name_c": "Person 7"}
