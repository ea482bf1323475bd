"""The sync log written into the warehouse (DuckDB, SQLite, PostgreSQL, MariaDB): its rows match
the run's counts, ``syncline log`` traces one key, and retention trims old rows."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import orjson
import sqlalchemy as sa

from tests.cli.test_sql_sources import ACCOUNTS, ORDERS, USERS, SQLProject
from tests.cli.test_sql_sources import project as project  # the parametrized fixture

SYNC_LOG = "sync_log: {enabled: true, retention_days: 30}\n"


def _table(project: SQLProject) -> str:
    kind, db = project.warehouse.kind, project.warehouse.db
    if kind == "sqlite":
        return "syncline_sync_log"
    if kind == "mariadb":
        assert db is not None
        return f"syncline.`{db.config.database}__sync_log`"
    return "syncline.sync_log"


def _duck_log(project: SQLProject, sync: str) -> str:
    """DuckDB: the sync log is in the sync's own diff file (the warehouse is only ever read)."""
    return str(project.root / ".syncline" / "diff" / f"{sync}.duckdb")


def read_sync_log(project: SQLProject, sql: str, duck_file: Path | None) -> list[tuple[Any, ...]]:
    """Run ``sql`` where the sync log is: ``duck_file`` (a DuckDB warehouse's sync log lives in
    the sync's diff file) when given, else the warehouse database. Also used by
    tests/cli/test_sync_log_place.py."""
    if duck_file is not None:
        with duckdb.connect(str(duck_file), read_only=True) as con:
            return con.execute(sql).fetchall()
    assert project.warehouse.db is not None
    engine = sa.create_engine(project.warehouse.db.url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def _rows(project: SQLProject, where: str = "", sync: str = "users") -> list[tuple[Any, ...]]:
    sql = (f"SELECT run_id, sync, sync_key, operation, outcome, code, column_name "
           f"FROM {_table(project)} {where}")
    local = project.warehouse.db is None
    return read_sync_log(project, sql, Path(_duck_log(project, sync)) if local else None)


def _cli(project: SQLProject, *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "syncline", *args, "--json", "--project", str(project.root)],
        env=project.env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_the_sync_log_matches_the_runs_counts(project: SQLProject) -> None:
    project.configure({"": ("source", ACCOUNTS[0])})
    config = project.root / "syncline.yml"
    config.write_text(config.read_text() + SYNC_LOG)

    users = project.run("users")
    assert users["sync_log_rows"] == USERS and users["sync_log_error"] is None
    rows = _rows(project, f"WHERE run_id = {users['run_id']}")
    assert Counter(r[4] for r in rows) == {"accepted": users["accepted"],
                                           "rejected": users["rejected"]}
    assert {r[3] for r in rows} == {"upsert"} and {r[1] for r in rows} == {"users"}
    (bad,) = [r for r in rows if r[4] == "rejected"]
    assert (bad[2], bad[6]) == ("2", "email")  # user 2's email, named by its source column

    orders = project.run("orders")
    events = _rows(project, f"WHERE run_id = {orders['run_id']}", sync="orders")
    assert Counter((r[3], r[4]) for r in events) == {("event", "accepted"): ORDERS}

    project.warehouse.sql("UPDATE users SET plan = 'team' WHERE user_id = 5")
    again = project.run("users")
    assert again["sync_log_rows"] == 2  # user 5 changed; user 2 is tried (and refused) again
    history = _cli(project, "log", "users", "--key", "5")
    assert [(h["run_id"], h["outcome"]) for h in history] == [
        (again["run_id"], "accepted"), (users["run_id"], "accepted")]
    assert _cli(project, "log", "users", "--key", "2")[0]["code"] == users_code(project)

    old_row = (f"INSERT INTO {_table(project)} (run_id, sync, sync_key, operation, outcome, "
               "logged_at) VALUES (0, 'users', 'old', 'upsert', 'accepted', '2020-01-01 00:00:00')")
    if project.warehouse.db is None:
        with duckdb.connect(_duck_log(project, "users")) as con:
            con.execute(old_row)
    else:
        project.warehouse.sql(old_row)
    project.run("users")
    assert _rows(project, "WHERE sync_key = 'old'") == []  # past retention_days: trimmed


def users_code(project: SQLProject) -> str:
    rows = _rows(project, "WHERE sync_key = '2'")
    return str(rows[0][5])


def test_no_sync_log_unless_enabled(project: SQLProject) -> None:
    project.configure({"": ("source", ACCOUNTS[0])})
    summary = project.run("users")
    assert summary["sync_log_rows"] == 0
    result = subprocess.run(
        [sys.executable, "-m", "syncline", "log", "users", "--key", "1", "--project",
         str(project.root)], env=project.env, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "sync_log" in result.stdout + result.stderr
