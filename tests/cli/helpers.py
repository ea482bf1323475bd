"""A small project on disk (DuckDB warehouse + syncline.yml) driven through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import httpx
import orjson

if TYPE_CHECKING:
    from syncline.engine.summary import RunSummary

PLANS = ("free", "starter", "pro", "business")
COUNTRIES = ("US", "IN", "GB", "DE", "SG")

PROFILE_SYNC = """\
version: 1
sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb
destinations:
  clevertap:
    type: clevertap
    account_id: ${{CLEVERTAP_ACCOUNT_ID}}
    passcode: ${{CLEVERTAP_PASSCODE}}
    region: eu1
    endpoint: ${{CLEVERTAP_ENDPOINT}}
syncs:
  users:
    source: warehouse
    model:
      table: main.users
    destination: clevertap
    object: profile
    sync_key: user_id
    batch_size: 1000
    in_flight: 4
    mappings:
{mappings}
"""

SYNC_ALL = "      sync_all: true\n      exclude: [lifetime_value]\n"
COLUMNS = """\
      columns:
        - {{from: full_name, to: Name}}
        - {{from: email, to: Email}}
        - {{from: phone, to: Phone}}
        - {{from: gender, to: Gender}}
        - {{from: birthday, to: DOB, type: date}}
        - {{from: plan, to: plan}}
{extra}"""


def sandbox_profiles(project: Project) -> dict[str, dict[str, Any]]:
    """Every profile the sandbox holds for the project's account: identity → profileData."""
    return project.sandbox.profiles(project.account["account_id"])


@dataclass
class Project:
    root: Path
    account: dict[str, str]
    sandbox: Any
    users: int
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, account: dict[str, Any], *, users: int) -> Project:
        project = cls(root, account, account["server"], users)
        project.env = {
            **os.environ,
            "CLEVERTAP_ACCOUNT_ID": account["account_id"],
            "CLEVERTAP_PASSCODE": account["passcode"],
            "CLEVERTAP_ENDPOINT": account["url"],
        }
        project.env.pop("SYNCLINE_STATE_URL", None)
        project.build_warehouse()
        project.write_config()
        return project

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def config_path(self) -> Path:
        return self.root / "syncline.yml"

    def plan_of(self, i: int) -> str:
        return PLANS[i % len(PLANS)]

    def country_of(self, i: int) -> str:
        return COUNTRIES[i % len(COUNTRIES)]

    def dob_of(self, i: int) -> str:
        born = date(1970 + i % 40, 1 + i % 12, 1 + i % 28)
        return f"$D_{int((born - date(1970, 1, 1)).total_seconds())}"

    def build_warehouse(self) -> None:
        rows = []
        for i in range(1, self.users + 1):
            email = "not-an-email" if i == 2 else f"user{i}@example.com"
            phone = "12345" if i == 4 else f"+1415555{i:04d}"
            born = date(1970 + i % 40, 1 + i % 12, 1 + i % 28)
            rows.append((i, f"User {i}", email, phone, "male" if i % 2 else "female", born,
                         self.plan_of(i), self.country_of(i), float(i)))
        dup = self.users + 1
        rows += [
            (None, "No Key", "nokey@example.com", "+14155550000", "F", date(1990, 1, 1), "free",
             "US", 0.0),
            (dup, "Twin A", "a@example.com", "+14155550001", "M", date(1990, 1, 1), "free", "US",
             0.0),
            (dup, "Twin B", "b@example.com", "+14155550002", "F", date(1990, 1, 1), "free", "US",
             0.0),
        ]
        with duckdb.connect(str(self.warehouse)) as con:
            con.execute(
                "CREATE TABLE users (user_id INTEGER, full_name VARCHAR, email VARCHAR, "
                "phone VARCHAR, gender VARCHAR, birthday DATE, plan VARCHAR, country VARCHAR, "
                "lifetime_value DOUBLE)"
            )
            con.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def write_config(self, *, mapping: str = "sync_all", extra_column: str | None = None) -> None:
        if mapping == "sync_all":
            body = SYNC_ALL
        else:
            extra = ""
            if extra_column:
                extra = f"        - {{from: {extra_column}, to: {extra_column.title()}}}\n"
            body = COLUMNS.format(extra=extra)
        self.config_path.write_text(PROFILE_SYNC.format(mappings=body))

    def sql(self, statement: str) -> None:
        with duckdb.connect(str(self.warehouse)) as con:
            con.execute(statement)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli_with_env(self.env, *args)

    def cli_with_env(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncline", *args, "--project", str(self.root)],
            env=env, capture_output=True, text=True, timeout=240, check=False,
        )

    def cli_json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return orjson.loads(result.stdout)

    def run_json(self, sync: str, *args: str) -> dict[str, Any]:
        data: dict[str, Any] = self.cli_json("run", sync, *args)
        return data

    def set_faults(self, **faults: Any) -> None:
        self.sandbox.set_faults(self.account["account_id"], **faults)

    def has_running_run(self) -> bool:
        state = self.root / ".syncline" / "state.db"
        if not state.exists():
            return False
        import sqlite3

        with sqlite3.connect(state) as con:
            try:
                row = con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()
            except sqlite3.OperationalError:
                return False
        return bool(row and row[0])


def upload(url: str, account: dict[str, str], records: list[dict[str, Any]]) -> Any:
    headers = {"X-CleverTap-Account-Id": account["account_id"],
               "X-CleverTap-Passcode": account["passcode"]}
    return httpx.post(f"{url}/1/upload", headers=headers, json={"d": records}).json()


def run_in_process(project: Project, sync: str) -> RunSummary:
    """One run of ``sync`` by the engine in this process (so a test can patch it), with a
    SQLite state store of its own in the project's folder."""
    from syncline.config.load import load_project
    from syncline.engine.runner import Runner
    from syncline.store import StateStore

    store = StateStore(f"sqlite:///{project.root / 'state.db'}")
    try:
        return Runner(load_project(project.root, env=project.env), store).run(sync)
    finally:
        store.close()
