"""Messy CRM data end to end (issue #12 §3–§4): a real PostgreSQL (or DuckDB) `users` table with
phones typed by people, gender words, padded emails and yes/no opt-ins, through the real CLI
into the sandbox; once rejecting a record at fault, once dropping only the fields at fault."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer
from tests.cli.conftest import SandboxView
from tests.cli.test_sql_sources import Warehouse
from tests.engine.test_pushdown import make_database

ACCOUNTS = ("CRM-STRICT", "CRM-LENIENT")
PASSCODE = "crm-passcode"
ROWS = [
    # user_id, full_name, phone, gender, email, email_opt_in, dnd_phone, tz
    (1, "Ann", "9876500001", "female", "  ann@example.com ", "yes", "false", "Asia/Kolkata"),
    (2, "Bob", "+44 20 7946 0002", "Male", "bob@example.com", "0", "TRUE", "Europe/London"),
    (3, "Cy", "+1 415-555-1234", "m", "cy@example.com", "true", "no", "America/New_York"),
    (4, "Di", "+6834002", "woman", "di@example.com", "no", "1", "Pacific/Niue"),
    (5, "Ed", "12345", "x", "ed@example.com", "yes", "0", "UTC"),
    (6, "Flo", " 098765-00006 ", "F", "flo@example.com", "maybe", "0", "UTC"),
]
SYNC = """\
  users_{name}:
    source: warehouse
    model:
      table: users
    destination: ct_{name}
    object: profile
    sync_key: user_id
    phone_region: IN
    on_invalid_field: {policy}
    mappings:
      sync_all: true
"""


@pytest.fixture(params=[pytest.param("duckdb", id="duckdb"),
                        pytest.param("postgres", id="postgres", marks=pytest.mark.integration)])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str],
                                                                          SandboxView]]:
    kind = str(request.param)
    databases = iter([None]) if kind == "duckdb" else make_database(kind, tmp_path)
    warehouse = Warehouse(kind, tmp_path, next(databases))
    warehouse.sql("CREATE TABLE users (user_id INTEGER, full_name VARCHAR(50), phone VARCHAR(40), "
                  "gender VARCHAR(10), email VARCHAR(80), email_opt_in VARCHAR(10), "
                  "dnd_phone VARCHAR(10), tz VARCHAR(40))")
    warehouse.sql("INSERT INTO users VALUES " + ", ".join(
        "(" + ", ".join(str(v) if isinstance(v, int) else f"'{v}'" for v in row) + ")"
        for row in ROWS))
    dests = "".join(
        f"  ct_{name}:\n    type: clevertap\n    account_id: {account}\n"
        f"    passcode: ${{CLEVERTAP_PASSCODE}}\n    endpoint: ${{CLEVERTAP_ENDPOINT}}\n"
        for name, account in zip(("strict", "lenient"), ACCOUNTS, strict=True))
    syncs = SYNC.format(name="strict", policy="reject_record") + SYNC.format(
        name="lenient", policy="drop_field")
    (tmp_path / "syncline.yml").write_text(
        f"version: 1\nsources:\n  warehouse:\n{warehouse.source_yaml()}"
        f"destinations:\n{dests}syncs:\n{syncs}")
    try:
        with SandboxServer([Account(a, {PASSCODE}) for a in ACCOUNTS]) as server:
            env = {**os.environ, "CLEVERTAP_PASSCODE": PASSCODE, "CLEVERTAP_ENDPOINT": server.url}
            env.pop("SYNCLINE_STATE_URL", None)
            yield tmp_path, env, SandboxView(server)
    finally:
        next(databases, None)


def _cli(root: Path, env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "syncline", *args, "--json", "--project", str(root)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


CLEAN = {
    "1": {"Name": "Ann", "Phone": "+919876500001", "Gender": "F", "Email": "ann@example.com",
          "MSG-email": True, "MSG-dndPhone": False, "Timezone": "Asia/Kolkata"},
    "2": {"Name": "Bob", "Phone": "+442079460002", "Gender": "M", "Email": "bob@example.com",
          "MSG-email": False, "MSG-dndPhone": True, "Timezone": "Europe/London"},
    "3": {"Name": "Cy", "Phone": "+14155551234", "Gender": "M", "Email": "cy@example.com",
          "MSG-email": True, "MSG-dndPhone": False, "Timezone": "America/New_York"},
    "4": {"Name": "Di", "Phone": "+6834002", "Gender": "F", "Email": "di@example.com",
          "MSG-email": False, "MSG-dndPhone": True, "Timezone": "Pacific/Niue"},
}


def test_messy_crm_values_are_normalised_and_bad_fields_dropped(
    crm: tuple[Path, dict[str, str], SandboxView],
) -> None:
    root, env, sandbox = crm
    strict = _cli(root, env, "run", "users_strict")
    assert (strict["sent"], strict["rejected"], strict["fields_dropped"]) == (4, 2, 0)
    assert sandbox.profiles(ACCOUNTS[0]) == CLEAN
    rejected = {r["sync_key"]: r for r in _cli(root, env, "rejections", str(strict["run_id"]))}
    # CleverTap's code is the first fault in the record (phone comes before gender); the
    # message lists every field at fault
    assert (rejected["5"]["code"], rejected["5"]["column"]) == ("516", "phone")
    assert "Gender (column `gender`): 514" in rejected["5"]["message"]
    assert "Phone (column `phone`): 516" in rejected["5"]["message"]
    assert (rejected["6"]["code"], rejected["6"]["column"]) == ("bad_value", "email_opt_in")

    lenient = _cli(root, env, "run", "users_lenient")
    assert (lenient["sent"], lenient["accepted"], lenient["rejected"]) == (6, 6, 0)
    assert lenient["fields_dropped"] == 3
    assert sandbox.profiles(ACCOUNTS[1]) == {
        **CLEAN,
        "5": {"Name": "Ed", "Email": "ed@example.com", "MSG-email": True,
              "MSG-dndPhone": False, "Timezone": "UTC"},
        "6": {"Name": "Flo", "Phone": "+919876500006", "Gender": "F", "Email": "flo@example.com",
              "MSG-dndPhone": False, "Timezone": "UTC"},
    }  # fmt: skip
    dropped = _cli(root, env, "rejections", str(lenient["run_id"]), "--dropped")
    assert sorted((d["sync_key"], d["field"], d["column"], d["code"]) for d in dropped) == [
        ("5", "Gender", "gender", "514"), ("5", "Phone", "phone", "516"),
        ("6", "MSG-email", "email_opt_in", "bad_value")]
    assert all(d["message"] for d in dropped)
    assert _cli(root, env, "rejections", str(lenient["run_id"])) == []
    runs = {r["sync"]: r for r in _cli(root, env, "runs")}
    assert runs["users_lenient"]["fields_dropped"] == 3
    assert runs["users_strict"]["fields_dropped"] == 0


def test_plan_checks_every_row_before_anything_is_sent(
    crm: tuple[Path, dict[str, str], SandboxView],
) -> None:
    root, env, sandbox = crm
    plan = _cli(root, env, "plan", "users_strict", "--preview", "1")
    assert (plan["rejected"], plan["fields_dropped"], len(plan["preview"])) == (2, 0, 1)
    found = {(c["outcome"], c["code"], c["column"]): c for c in plan["checks"]}
    assert found.keys() == {("rejected", "516", "phone"),
                            ("rejected", "bad_value", "email_opt_in")}
    assert found["rejected", "516", "phone"]["count"] == 1
    assert found["rejected", "516", "phone"]["examples"] == ["5"]
    lenient = _cli(root, env, "plan", "users_lenient")
    assert (lenient["rejected"], lenient["fields_dropped"]) == (0, 3)
    assert {(c["outcome"], c["code"], c["column"], c["count"]) for c in lenient["checks"]} == {
        ("field_dropped", "514", "gender", 1), ("field_dropped", "516", "phone", 1),
        ("field_dropped", "bad_value", "email_opt_in", 1)}
    assert sandbox.profiles(ACCOUNTS[0]) == {} and sandbox.upload_count(ACCOUNTS[0]) == 0
    text = subprocess.run(
        [sys.executable, "-m", "syncline", "plan", "users_lenient", "--project", str(root)],
        env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "Local checks of every planned row" in text and "sent without field" in text
    assert "email_opt_in" in text and "fields dropped" in text
