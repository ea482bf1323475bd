"""Every SQL source end to end through the real CLI: DuckDB, SQLite, PostgreSQL, MariaDB.

One test body per behaviour, parametrized over the sources; each test gets its own database (a
file, or a PostgreSQL/MariaDB database dropped after) and its own sandbox. The last test runs
the same syncs with the diff in the source and in the local DuckDB file, into two sandbox
accounts, and compares what CleverTap received.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer
from tests.cli.conftest import SandboxView
from tests.engine.test_pushdown import Database, make_database

USERS, ORDERS = 40, 30
SOURCES = {
    "duckdb": "    type: duckdb\n    path: warehouse.duckdb\n",
    "sqlite": "    type: sqlite\n    path: warehouse.sqlite\n",
    "postgres": "    type: postgres\n    host: 127.0.0.1\n    port: 5432\n    user: postgres\n"
                "    database: {database}\n",
    "mariadb": "    type: mariadb\n    host: 127.0.0.1\n    port: 3306\n    user: root\n"
               "    database: {database}\n",
}
DESTINATION = """\
  {name}:
    type: clevertap
    account_id: {account}
    passcode: ${{CLEVERTAP_PASSCODE}}
    region: eu1
    endpoint: ${{CLEVERTAP_ENDPOINT}}
"""
SYNCS = """\
  users{suffix}:
    source: warehouse
    model:
      table: users
    destination: {destination}
    object: profile
    sync_key: user_id
    diff: {diff}
    mappings:
      columns:
        - {{from: full_name, to: Name}}
        - {{from: email, to: Email}}
        - {{from: plan, to: plan}}
  orders{suffix}:
    source: warehouse
    model:
      table: orders
    destination: {destination}
    object: event
    sync_key: order_id
    identity_column: user_id
    event_name: Charged
    timestamp_column: ordered_at
    diff: {diff}
    mappings:
      columns:
        - {{from: order_id, to: Order ID, type: number}}
        - {{from: amount, to: Amount, type: number}}
        - {{from: currency, to: Currency}}
"""
ACCOUNTS = ("SQL-ACC-0001", "SQL-ACC-0002")
PASSCODE = "sql-passcode"


class Warehouse:
    """The source database a project reads, written by the test between runs."""

    def __init__(self, kind: str, root: Path, db: Database | None) -> None:
        self.kind, self.root, self.db = kind, root, db

    def sql(self, statement: str) -> None:
        if self.db is None:
            with duckdb.connect(str(self.root / "warehouse.duckdb")) as con:
                con.execute(statement)
        else:
            self.db.sql(statement)

    def source_yaml(self) -> str:
        database = getattr(getattr(self.db, "config", None), "database", "")
        return SOURCES[self.kind].format(database=database)

    def fill(self) -> None:
        self.sql("CREATE TABLE users (user_id INTEGER, full_name VARCHAR(50), "
                 "email VARCHAR(80), plan VARCHAR(20))")
        self.sql("INSERT INTO users VALUES " + ", ".join(
            f"({i}, 'User {i}', '{'bad-email' if i == 2 else f'u{i}@example.com'}', "
            f"'{('free', 'pro')[i % 2]}')" for i in range(1, USERS + 1)))
        self.sql("CREATE TABLE orders (order_id INTEGER, user_id INTEGER, ordered_at BIGINT, "
                 "amount INTEGER, currency VARCHAR(3))")
        self.add_orders(1, ORDERS)

    def add_orders(self, first: int, count: int) -> None:
        self.sql("INSERT INTO orders VALUES " + ", ".join(
            f"({i}, {1 + i % USERS}, {1767225600 + i * 60}, {10 + i}, 'USD')"
            for i in range(first, first + count)))


def _run(root: Path, env: dict[str, str], sync: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "syncline", "run", sync, "--json", "--project", str(root)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = orjson.loads(result.stdout)
    # the users table has a bad email (rejected); the orders table has nothing wrong
    assert summary["status"] == ("succeeded_with_rejections" if summary["rejected"]
                                 else "succeeded"), summary
    return summary


KINDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.integration),
    pytest.param("mariadb", id="mariadb", marks=pytest.mark.integration),
]


class SQLProject:
    """A project folder: a warehouse of one kind, syncline.yml, and a sandbox with 2 accounts."""

    def __init__(self, root: Path, warehouse: Warehouse, view: SandboxView, url: str) -> None:
        self.root, self.warehouse, self.view = root, warehouse, view
        self.env = {**os.environ, "CLEVERTAP_PASSCODE": PASSCODE, "CLEVERTAP_ENDPOINT": url}
        self.env.pop("SYNCLINE_STATE_URL", None)

    def configure(self, placements: dict[str, tuple[str, str]]) -> None:
        """placements: sync-name suffix -> (diff placement, destination account)."""
        dests = "".join(DESTINATION.format(name=f"ct_{a}", account=a) for a in ACCOUNTS)
        syncs = "".join(SYNCS.format(suffix=s, diff=d, destination=f"ct_{a}")
                        for s, (d, a) in placements.items())
        (self.root / "syncline.yml").write_text(
            f"version: 1\nsources:\n  warehouse:\n{self.warehouse.source_yaml()}"
            f"destinations:\n{dests}syncs:\n{syncs}")

    def run(self, sync: str) -> dict[str, Any]:
        return _run(self.root, self.env, sync)

    def profiles(self, account: str = ACCOUNTS[0]) -> dict[str, dict[str, Any]]:
        return self.view.profiles(account)

    def events(self, account: str = ACCOUNTS[0]) -> list[dict[str, Any]]:
        return self.view.events(account, name="Charged")


@pytest.fixture(params=KINDS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLProject]:
    kind = str(request.param)
    databases = iter([None]) if kind == "duckdb" else make_database(kind, tmp_path)
    db = next(databases)
    warehouse = Warehouse(kind, tmp_path, db)
    warehouse.fill()
    accounts = [Account(a, {PASSCODE}) for a in ACCOUNTS]
    try:
        with SandboxServer(accounts) as server:
            yield SQLProject(tmp_path, warehouse, SandboxView(server), server.url)
    finally:
        next(databases, None)  # runs make_database's clean-up


def test_profile_sync_second_run_and_k_changes(project: SQLProject) -> None:
    project.configure({"": ("source", ACCOUNTS[0])})
    first = project.run("users")
    assert (first["rows_in_model"], first["planned"]["new"]) == (USERS, USERS)
    assert (first["sent"], first["rejected"]) == (USERS - 1, 1)  # user 2's email is invalid
    profiles = project.profiles()
    assert len(profiles) == USERS - 1
    assert profiles["7"]["Name"] == "User 7" and profiles["7"]["plan"] == "pro"
    again = project.run("users")
    assert (again["sent"], again["planned"]["unchanged"]) == (0, USERS - 1)
    project.warehouse.sql("UPDATE users SET plan = 'team' WHERE user_id IN (3, 5, 8)")
    changed = project.run("users")
    assert (changed["planned"]["changed"], changed["sent"]) == (3, 3)
    assert project.profiles()["5"]["plan"] == "team"


def test_event_sync_second_run_and_k_new_orders(project: SQLProject) -> None:
    project.configure({"": ("source", ACCOUNTS[0])})
    first = project.run("orders")
    assert (first["planned"]["new"], first["sent"], first["accepted"]) == (ORDERS, ORDERS, ORDERS)
    assert sorted(e["evtData"]["Order ID"] for e in project.events()) == list(
        range(1, ORDERS + 1))
    assert project.run("orders")["sent"] == 0
    project.warehouse.add_orders(ORDERS + 1, 4)
    more = project.run("orders")
    assert (more["planned"]["new"], more["sent"]) == (4, 4)
    assert len(project.events()) == ORDERS + 4


def test_source_and_local_diff_send_the_same(project: SQLProject) -> None:
    project.configure({"_local": ("local", ACCOUNTS[0]), "_source": ("source", ACCOUNTS[1])})
    for step in range(2):
        for sync in ("users_local", "users_source", "orders_local", "orders_source"):
            project.run(sync)
        assert project.profiles(ACCOUNTS[0]) == project.profiles(ACCOUNTS[1])
        events = [sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in
                         project.events(a)) for a in ACCOUNTS]
        assert events[0] == events[1] and len(events[0]) == ORDERS + 4 * step
        if step:
            break
        project.warehouse.sql("UPDATE users SET full_name = 'Renamed' WHERE user_id < 6")
        project.warehouse.add_orders(ORDERS + 1, 4)
