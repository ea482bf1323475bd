"""The snapshot guard end to end: a lost or older snapshot fails the run and sends nothing.

Without the guard, a dropped `syncline` schema, a deleted local diff file or a snapshot restored
from an old backup made the next run send every row again (events: each one twice), silently.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.helpers import Project
from tests.cli.test_sql_sources import ACCOUNTS, ORDERS, SQLProject
from tests.cli.test_sql_sources import project as sql_project  # noqa: F401 (a fixture)

USERS = 40


def _run(root: Path, env: dict[str, str], sync: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "syncline", "run", sync, *args, "--json", "--project", str(root)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, orjson.loads(result.stdout)


def _refused(code: int, summary: dict[str, Any], *, where: str, after_run: int) -> None:
    assert code == 1 and summary["status"] == "failed"
    assert summary["sent"] == 0
    error = summary["error"]
    assert where in error and f"after run {after_run}" in error, error
    assert "--full" in error and "--full --resend-events" in error and "restore" in error


@pytest.fixture
def project(tmp_path: Path, sandbox_account: dict[str, str]) -> Project:
    return Project.create(tmp_path, sandbox_account, users=USERS)


def _diff_file(project: Project) -> Path:
    return project.root / ".syncline" / "diff" / "users.duckdb"


@pytest.mark.parametrize("diff", ["source", "local"])
def test_a_deleted_local_diff_file_fails_the_run_until_full(project: Project, diff: str) -> None:
    """DuckDB keeps every snapshot in `.syncline/diff/<sync>.duckdb`, in both placements."""
    project.config_path.write_text(project.config_path.read_text().replace(
        "    sync_key: user_id\n", f"    sync_key: user_id\n    diff: {diff}\n"))
    account = project.account["account_id"]
    first = project.run_json("users")
    assert first["accepted"] == USERS - 2
    uploads = project.sandbox.upload_count(account)
    _diff_file(project).unlink()
    code, summary = _run(project.root, project.env, "users")
    _refused(code, summary, where=f"missing from the file {_diff_file(project)}",
             after_run=first["run_id"])
    assert f"{USERS - 2} keys" in summary["error"]
    assert project.sandbox.upload_count(account) == uploads  # the sandbox received nothing
    code, summary = _run(project.root, project.env, "users")  # still refused: nothing adopted
    assert code == 1 and "missing from" in summary["error"]
    code, full = _run(project.root, project.env, "users", "--full")
    # users 2 and 4 are refused (email, phone): a success with rejections
    assert (code, full["status"], full["accepted"]) == (0, "succeeded_with_rejections", USERS - 2)
    again = project.run_json("users")
    assert (again["status"], again["planned"]["unchanged"]) == ("succeeded_with_rejections",
                                                                USERS - 2)


def test_a_snapshot_restored_from_an_older_backup_fails_until_the_right_one_is_back(
        project: Project) -> None:
    account = project.account["account_id"]
    project.run_json("users")
    older = project.root / "older.duckdb"
    shutil.copy(_diff_file(project), older)
    project.sql("UPDATE users SET plan = 'team' WHERE user_id IN (3, 5, 8)")
    second = project.run_json("users")
    assert second["accepted"] == 3
    newer = project.root / "newer.duckdb"
    shutil.copy(_diff_file(project), newer)
    uploads = project.sandbox.upload_count(account)
    shutil.copy(older, _diff_file(project))
    code, summary = _run(project.root, project.env, "users")
    _refused(code, summary, where=f"in the file {_diff_file(project)} is older than recorded",
             after_run=second["run_id"])
    assert project.sandbox.upload_count(account) == uploads
    shutil.copy(newer, _diff_file(project))  # the way out without resending: restore it
    restored = project.run_json("users")
    assert (restored["status"], restored["sent"]) == ("succeeded_with_rejections", 0)
    assert restored["planned"]["unchanged"] == USERS - 2


def _lose_snapshot(project: SQLProject, sync: str) -> str:
    """Lose `sync`'s snapshot as an operator might; returns where the message must point."""
    kind, warehouse = project.warehouse.kind, project.warehouse
    if kind == "duckdb":
        path = project.root / ".syncline" / "diff" / f"{sync}.duckdb"
        path.unlink()
        return f"the file {path}"
    if kind == "postgres":
        warehouse.sql("DROP SCHEMA syncline CASCADE")
        return "the `syncline` schema of source `warehouse`"
    if kind == "sqlite":
        warehouse.sql(f"DROP TABLE syncline_snapshot_{sync}")
        warehouse.sql(f"DROP TABLE syncline_guard_{sync}")
        return "the `syncline_*` tables of source `warehouse`"
    database = warehouse.db.config.database  # type: ignore[union-attr]
    warehouse.sql(f"DROP TABLE syncline.snapshot_{database}__{sync}")
    warehouse.sql(f"DROP TABLE syncline.guard_{database}__{sync}")
    return f"the `syncline` database beside `{database}`"


def test_a_lost_event_snapshot_sends_no_event_twice_unless_asked(
        sql_project: SQLProject) -> None:  # noqa: F811
    """Every placement: DuckDB's local file, SQLite's tables, PostgreSQL's dropped schema,
    MariaDB's `syncline` database."""
    project = sql_project
    project.configure({"": ("source", ACCOUNTS[0])})
    first = project.run("orders")
    assert first["accepted"] == ORDERS
    where = _lose_snapshot(project, "orders")
    uploads = project.view.upload_count(ACCOUNTS[0])
    code, summary = _run(project.root, project.env, "orders")
    _refused(code, summary, where=f"missing from {where}", after_run=first["run_id"])
    assert project.view.upload_count(ACCOUNTS[0]) == uploads
    assert len(project.events()) == ORDERS  # no event twice
    code, full = _run(project.root, project.env, "orders", "--full", "--resend-events")
    assert (code, full["status"], full["accepted"]) == (0, "succeeded", ORDERS)
    assert len(project.events()) == 2 * ORDERS  # as asked: every event again
    assert project.run("orders")["sent"] == 0
