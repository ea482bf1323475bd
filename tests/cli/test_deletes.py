"""Deletes end to end through the real CLI: `on_removed: delete`, the mass-delete limit, erasure
syncs and `plan`, from DuckDB and PostgreSQL (diff pushed down) into the sandbox, which is then
asked whether the profiles and their events are gone. The removed-keys SQL on SQLite and
MariaDB is tested below the CLI (tests/engine/test_deletes.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncline.config.load import load_project, state_url
from syncline.engine.delivery import RetryPolicy
from syncline.engine.runner import Runner
from syncline.errors import ConfigError
from syncline.store import StateStore
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer
from tests.cli.conftest import SandboxView
from tests.cli.helpers import upload
from tests.cli.test_sql_sources import ORDERS, USERS, Warehouse
from tests.engine.test_pushdown import make_database

ACCOUNT, PASSCODE = "DEL-ACC-0001", "del-passcode"
KINDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.integration),
]
CONFIG = """\
version: 1
sources:
  warehouse:
{source}destinations:
  clevertap:
    type: clevertap
    account_id: {account}
    passcode: ${{CLEVERTAP_PASSCODE}}
    region: eu1
    endpoint: ${{CLEVERTAP_ENDPOINT}}
syncs:
  users:
    source: warehouse
    model: {{table: users}}
    destination: clevertap
    object: profile
    sync_key: user_id
    diff: {diff}
    on_removed: delete
{limit}    mappings:
      columns:
        - {{from: full_name, to: Name}}
        - {{from: email, to: Email}}
  orders:
    source: warehouse
    model: {{table: orders}}
    destination: clevertap
    object: event
    sync_key: order_id
    identity_column: user_id
    event_name: Charged
    timestamp_column: ordered_at
    mappings:
      columns:
        - {{from: amount, to: Amount, type: number}}
  erasure:
    source: warehouse
    model: {{table: gdpr_requests}}
    destination: clevertap
    object: delete
    sync_key: request_id
    identity_column: user_id
"""
SYNCED = USERS - 1  # user 2's email is invalid: rejected, never in the snapshot...
PROFILES = USERS  # ...but user 2's events create its profile in CleverTap


class DeleteProject:
    """A project whose users sync deletes removed rows, beside an event and an erasure sync.

    Runs go through the engine in-process (a new interpreter per CLI call would make each test
    take tens of seconds on a shared machine); one test drives the same through the CLI.
    """

    def __init__(self, root: Path, warehouse: Warehouse, view: SandboxView, url: str) -> None:
        self.root, self.warehouse, self.view = root, warehouse, view
        self.env = {**os.environ, "CLEVERTAP_PASSCODE": PASSCODE, "CLEVERTAP_ENDPOINT": url,
                    "SYNCLINE_RETRY_ATTEMPTS": "2", "SYNCLINE_RETRY_BASE_DELAY_S": "0.01"}
        self.env.pop("SYNCLINE_STATE_URL", None)
        self.url = url
        self.configure()

    def configure(self, *, diff: str = "source", limit: str = "") -> None:
        (self.root / "syncline.yml").write_text(CONFIG.format(
            source=self.warehouse.source_yaml(), account=ACCOUNT, diff=diff, limit=limit))

    @contextmanager
    def runner(self) -> Iterator[Runner]:
        store = StateStore(state_url(self.root, self.env))
        try:
            yield Runner(load_project(self.root, self.env), store,
                         retry=RetryPolicy(max_attempts=2, base_delay_s=0.01))
        finally:
            store.close()

    def run(self, sync: str, **options: Any) -> dict[str, Any]:
        with self.runner() as runner:
            return runner.run(sync, **options).to_dict()

    def plan(self, sync: str) -> dict[str, Any]:
        with self.runner() as runner:
            return runner.plan(sync).to_dict()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncline", *args, "--project", str(self.root)],
            env=self.env, capture_output=True, text=True, timeout=120, check=False)

    def json(self, *args: str, code: int = 0) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == code, (result.stdout, result.stderr)
        return orjson.loads(result.stdout)

    def profiles(self) -> dict[str, dict[str, Any]]:
        return self.view.profiles(ACCOUNT)

    def event_users(self) -> set[str]:
        return {e["identity"] for e in self.view.events(ACCOUNT, name="Charged")}


@pytest.fixture(params=KINDS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeleteProject]:
    kind = str(request.param)
    databases = iter([None]) if kind == "duckdb" else make_database(kind, tmp_path)
    warehouse = Warehouse(kind, tmp_path, next(databases))
    warehouse.fill()
    warehouse.sql("CREATE TABLE gdpr_requests (request_id INTEGER, user_id INTEGER)")
    try:
        with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as server:
            yield DeleteProject(tmp_path, warehouse, SandboxView(server), server.url)
    finally:
        next(databases, None)


def _first_runs(project: DeleteProject) -> None:
    users = project.run("users")
    assert (users["accepted"], users["deleted"], users["to_delete"]) == (SYNCED, 0, 0)
    assert project.run("orders")["accepted"] == ORDERS
    # orders 1..30 belong to users 2..31: users 3 and 5 have events
    assert {"3", "5"} <= project.event_users() and len(project.profiles()) == PROFILES


def test_rows_removed_from_the_model_are_deleted_with_their_events(
        project: DeleteProject) -> None:
    _first_runs(project)
    project.warehouse.sql("DELETE FROM users WHERE user_id IN (3, 5)")
    plan = project.plan("users")
    assert (plan["planned"]["removed"], plan["to_delete"]) == (2, 2)
    assert plan["delete_preview"] == ["3", "5"] and plan["delete_note"] is None
    assert "3" in project.profiles()  # plan sent nothing
    run = project.run("users")
    assert run["status"] == "succeeded_with_rejections"
    assert (run["planned"]["removed"], run["deleted"], run["delete_failed"]) == (2, 2, 0)
    profiles = project.profiles()
    assert "3" not in profiles and "5" not in profiles and len(profiles) == PROFILES - 2
    assert not {"3", "5"} & project.event_users() and "4" in project.event_users()
    again = project.run("users")  # the snapshot forgot them: nothing left to delete
    assert (again["planned"]["removed"], again["deleted"], again["sent"]) == (0, 0, 0)
    with project.runner() as runner:
        assert [r.deleted for r in runner.store.runs("users")] == [0, 2, 0]


def test_the_mass_delete_limit_refuses_and_allow_mass_delete_proceeds(
        project: DeleteProject) -> None:
    _first_runs(project)
    project.warehouse.sql("DELETE FROM users WHERE user_id <= 11")  # 10 synced keys: 25.6%
    project.warehouse.sql("UPDATE users SET full_name = 'Renamed' WHERE user_id = 20")
    plan = project.plan("users")
    assert plan["to_delete"] == 10 and "max_delete_percent: 10" in plan["delete_note"]
    refused = project.run("users")
    assert refused["status"] == "failed" and (refused["deleted"], refused["sent"]) == (0, 0)
    assert "10 of the 39 profiles" in refused["error"]
    assert "--allow-mass-delete" in refused["error"]
    assert len(project.profiles()) == PROFILES and project.profiles()["20"]["Name"] == "User 20"
    allowed = project.run("users", allow_mass_delete=True)
    assert allowed["status"] == "succeeded"
    assert (allowed["sent"], allowed["deleted"], allowed["delete_failed"]) == (1, 10, 0)
    assert len(project.profiles()) == PROFILES - 10 and "11" not in project.profiles()
    project.warehouse.sql("DELETE FROM users WHERE user_id = 12")  # 1 of 29: within the limit
    assert project.run("users")["deleted"] == 1


def test_an_erasure_table_deletes_each_key_once(project: DeleteProject) -> None:
    _first_runs(project)
    project.warehouse.sql("INSERT INTO gdpr_requests VALUES (1, 7), (2, 8), (3, NULL), (4, 8)")
    plan = project.plan("erasure")
    assert (plan["to_delete"], plan["delete_preview"]) == (4, ["7", "8", "8"])
    first = project.run("erasure")
    assert first["status"] == "succeeded_with_rejections"
    assert (first["planned"]["new"], first["deleted"], first["rejected"]) == (4, 3, 1)
    assert "7" not in project.profiles() and "8" not in project.profiles()
    assert not {"7", "8"} & project.event_users()
    with project.runner() as runner:
        rejected = runner.store.rejections(first["run_id"])
    assert [(r.sync_key, r.code, r.column) for r in rejected] == [
        ("3", "missing_identity", "user_id")]
    # user 7 comes back (signs up again): the recorded requests never delete it twice
    upload(project.url, {"account_id": ACCOUNT, "passcode": PASSCODE},
           [{"identity": "7", "type": "profile", "profileData": {"Name": "Back"}}])
    second = project.run("erasure")
    assert (second["planned"]["new"], second["deleted"], second["rejected"]) == (1, 0, 1)
    assert project.profiles()["7"] == {"Name": "Back"}
    with pytest.raises(ConfigError, match="`--full` would delete again"):
        project.run("erasure", full=True)


@pytest.fixture
def duckdb_project(tmp_path: Path) -> Iterator[DeleteProject]:
    warehouse = Warehouse("duckdb", tmp_path, None)
    warehouse.fill()
    warehouse.sql("CREATE TABLE gdpr_requests (request_id INTEGER, user_id INTEGER)")
    with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as server:
        yield DeleteProject(tmp_path, warehouse, SandboxView(server), server.url)


def test_a_failed_delete_stays_in_the_snapshot_and_is_retried(
        duckdb_project: DeleteProject) -> None:
    project = duckdb_project
    project.configure(diff="local")
    _first_runs(project)
    project.warehouse.sql("DELETE FROM users WHERE user_id IN (3, 5)")
    project.view.set_faults(ACCOUNT, delete_error_rate=1.0)
    failed = project.run("users")
    assert (failed["status"], failed["deleted"], failed["delete_failed"]) == ("failed", 0, 2)
    assert "did not confirm a delete after 2 attempt(s)" in failed["error"]
    assert "3" in project.profiles()
    project.view.set_faults(ACCOUNT)
    retried = project.run("users")
    assert (retried["planned"]["removed"], retried["deleted"]) == (2, 2)
    assert "3" not in project.profiles()


def test_the_cli_plans_refuses_and_allows_mass_deletes(duckdb_project: DeleteProject) -> None:
    project = duckdb_project
    project.configure(limit="    max_delete_percent: 5\n")
    _first_runs(project)
    project.warehouse.sql("DELETE FROM users WHERE user_id IN (3, 5)")  # 2 of 39: 5.1%
    plan = project.cli("plan", "users")
    assert plan.returncode == 0, plan.stderr
    assert "would delete (2): 3, 5" in plan.stdout
    assert "deletes held back" in plan.stderr and "max_delete_percent: 5" in plan.stderr
    refused = project.json("run", "users", code=1)
    assert (refused["status"], refused["deleted"]) == ("failed", 0)
    allowed = project.json("run", "users", "--allow-mass-delete")
    assert (allowed["deleted"], allowed["delete_failed"]) == (2, 0)
    assert [r["deleted"] for r in project.json("runs", "users")] == [2, 0, 0]
    project.env["COLUMNS"] = "200"  # Rich fits the table to the terminal's width
    assert "2 deleted" in project.cli("runs", "users").stdout  # in "also": not zero
    assert "3" not in project.profiles()
    project.warehouse.sql("INSERT INTO gdpr_requests VALUES (1, 7)")
    assert project.cli("run", "erasure", "--full").returncode == 2
