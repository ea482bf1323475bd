"""A realistic CRM `users` table end to end, from PostgreSQL and DuckDB to the sandbox.

Arrays (`text[]`, DuckDB lists) and JSON arrays become multi-value properties, nulls clear
properties under `on_null: clear`, NaN is never sent as null, a 1850 birthday is rejected
naming its column, and columns Syncline cannot send (`jsonb` objects, intervals, bytes) never
break the model: excluded, or left out by `sync_all` with a warning. The test reads what the
sandbox holds afterwards, not only the counts.
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

ACCOUNT, PASSCODE = "CRM-ACC-0001", "crm-passcode"
TABLES = {
    "duckdb": "CREATE TABLE users (user_id INTEGER, full_name VARCHAR, tags VARCHAR[], "
              "prefs JSON, interests JSON, score DOUBLE, tenure INTERVAL, photo BLOB, "
              "plan VARCHAR, birthday DATE)",
    "postgres": "CREATE TABLE users (user_id INTEGER, full_name TEXT, tags TEXT[], prefs JSONB, "
                "interests JSONB, score DOUBLE PRECISION, tenure INTERVAL, photo BYTEA, "
                "plan TEXT, birthday DATE)",
}  # fmt: skip
ARRAY = {"duckdb": "[{}]", "postgres": "ARRAY[{}]::TEXT[]"}
SOURCES = {
    "duckdb": "    type: duckdb\n    path: warehouse.duckdb\n",
    "postgres": "    type: postgres\n    host: 127.0.0.1\n    port: 5432\n    user: postgres\n"
                "    database: {database}\n",
}  # fmt: skip
SYNC = """\
syncs:
  users:
    source: warehouse
    model:
      table: users
    destination: ct
    object: profile
    sync_key: user_id
    diff: {diff}
    on_null: clear
    mappings:
      sync_all: true
      exclude: [prefs, tenure]
      columns:
        - {from: interests, to: Interests}
        - {from: plan, to: Plan history, multi_value: add}
"""


class CRM:
    def __init__(
        self, kind: str, diff: str, root: Path, db: Database | None, url: str
    ) -> None:
        self.kind, self.root, self.db = kind, root, db
        self.env = {**os.environ, "CLEVERTAP_PASSCODE": PASSCODE, "CLEVERTAP_ENDPOINT": url}
        self.env.pop("SYNCLINE_STATE_URL", None)
        database = getattr(getattr(db, "config", None), "database", "")
        (root / "syncline.yml").write_text(
            f"version: 1\nsources:\n  warehouse:\n{SOURCES[kind].format(database=database)}"
            f"destinations:\n  ct:\n    type: clevertap\n    account_id: {ACCOUNT}\n"
            f"    passcode: ${{CLEVERTAP_PASSCODE}}\n    endpoint: ${{CLEVERTAP_ENDPOINT}}\n"
            + SYNC.replace("{diff}", diff)
        )

    def sql(self, statement: str) -> None:
        if self.db is None:
            with duckdb.connect(str(self.root / "warehouse.duckdb")) as con:
                con.execute(statement)
        else:
            self.db.sql(statement)

    def array(self, *values: str) -> str:
        return ARRAY[self.kind].format(", ".join(f"'{v}'" for v in values))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncline", *args, "--project", str(self.root)],
            env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def run(self) -> dict[str, Any]:
        result = self.cli("run", "users", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        summary: dict[str, Any] = orjson.loads(result.stdout)
        return summary


@pytest.fixture(params=[
    pytest.param(("duckdb", "source"), id="duckdb"),
    pytest.param(("postgres", "source"), id="postgres", marks=pytest.mark.integration),
    pytest.param(("postgres", "local"), id="postgres-local-diff", marks=pytest.mark.integration),
])  # fmt: skip
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[CRM, SandboxView]]:
    kind, diff = request.param
    databases = iter([None]) if kind == "duckdb" else make_database(kind, tmp_path)
    db = next(databases)
    try:
        with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as server:
            yield CRM(kind, diff, tmp_path, db, server.url), SandboxView(server)
    finally:
        next(databases, None)


def test_crm_table_arrays_json_nulls_and_unsendable_columns(
    crm: tuple[CRM, SandboxView],
) -> None:
    project, sandbox = crm
    project.sql(TABLES[project.kind])
    a = project.array
    project.sql(
        "INSERT INTO users VALUES "
        f"(1, 'Ann', {a('vip', 'beta', 'vip')}, '{{\"plan\": \"pro\"}}', '[\"golf\", \"chess\"]', "
        "1.5, INTERVAL '1 day', 'x', 'pro', DATE '1980-01-02'), "
        f"(2, 'Bob', {a('new')}, NULL, '\"solo\"', 'NaN', NULL, NULL, NULL, NULL), "
        "(3, 'Cy', NULL, NULL, NULL, 2, NULL, NULL, 'free', DATE '1850-01-01')"
    )
    plan = project.cli("plan", "users")  # warned before the first run, not after
    assert plan.returncode == 0, plan.stderr
    assert "warning: column `photo`" in plan.stderr and "cannot send this type" in plan.stderr
    first = project.run()
    assert first["status"] == "succeeded_with_rejections", first
    assert (first["sent"], first["accepted"], first["rejected"]) == (2, 2, 1)
    assert len(first["warnings"]) == 1 and "`photo`" in first["warnings"][0]
    profiles = sandbox.profiles(ACCOUNT)
    assert profiles["1"] == {
        "Name": "Ann", "tags": ["vip", "beta"], "Interests": ["golf", "chess"], "score": 1.5,
        "Plan history": ["pro"], "DOB": "$D_315619200",
    }  # fmt: skip
    assert profiles["2"] == {"Name": "Bob", "tags": ["new"], "Interests": "solo"}  # NaN: unsent
    assert "3" not in profiles  # its 1850 birthday is rejected locally
    rejections = _rejections(project, first["run_id"])
    assert [(r["sync_key"], r["column"]) for r in rejections] == [("3", "birthday")]
    assert "1850-01-01 is outside the years 1900-2200" in rejections[0]["message"]

    # tags replaced, plan added to its history, nulls clear what CleverTap holds
    project.sql(f"UPDATE users SET tags = {a('vip')}, plan = 'team', full_name = NULL, "
                "interests = NULL WHERE user_id = 1")  # fmt: skip
    project.sql("UPDATE users SET birthday = DATE '1990-05-06' WHERE user_id = 3")
    second = project.run()
    assert (second["sent"], second["accepted"], second["rejected"]) == (2, 2, 0)
    profiles = sandbox.profiles(ACCOUNT)
    assert profiles["1"] == {
        "tags": ["vip"], "score": 1.5, "Plan history": ["pro", "team"], "DOB": "$D_315619200",
    }  # fmt: skip
    assert profiles["3"]["DOB"] == "$D_641952000" and profiles["3"]["Plan history"] == ["free"]


def _rejections(project: CRM, run_id: int) -> list[dict[str, Any]]:
    result = project.cli("rejections", str(run_id), "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = orjson.loads(result.stdout)
    return rows
