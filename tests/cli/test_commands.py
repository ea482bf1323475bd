"""The commands a new user types first: `syncline sandbox`, `syncline init`, `syncline test`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from syncline_sandbox.testing import listening_port
from tests.cli.conftest import ACCOUNT, PASSCODE


def _syncline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncline", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_sandbox_command_serves_the_upload_api_and_keeps_data(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "syncline", "sandbox", "--port", "0", "--data",
           str(tmp_path), "--account", f"{ACCOUNT}:{PASSCODE}:eu1"]
    headers = {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE}
    record = {"identity": "42", "type": "profile", "profileData": {"Name": "Ada"}}
    for attempt in range(2):  # the second start must find the profile of the first
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            # --port 0: it binds a free port itself and says which (a loaded machine, a
            # parallel suite, starts it slowly: hence 60 s)
            url = f"http://127.0.0.1:{listening_port(proc, timeout=60)}"
            if attempt == 0:
                answer = httpx.post(f"{url}/1/upload", headers=headers, json={"d": [record]})
                assert answer.json() == {"status": "success", "processed": 1, "unprocessed": []}
            else:
                found = httpx.get(f"{url}/1/profile.json?identity=42", headers=headers).json()
                assert found["record"]["profileData"]["Name"] == "Ada"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_init_then_test_and_plan_against_the_sandbox(tmp_path: Path,
                                                     sandbox_account: dict[str, str]) -> None:
    project = tmp_path / "myproj"
    made = _syncline("init", str(project), "--users", "500")
    assert made.returncode == 0, made.stderr
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": PASSCODE,
           "CLEVERTAP_ENDPOINT": sandbox_account["url"]}
    tested = _syncline("test", "clevertap_prod", "--project", str(project), env=env)
    assert tested.returncode == 0, tested.stderr
    assert "connection works" in tested.stdout
    plan = _syncline("plan", "users_to_clevertap", "--project", str(project), "--json", env=env)
    assert plan.returncode == 0, plan.stderr
    assert orjson.loads(plan.stdout)["planned"]["new"] >= 495
    again = _syncline("init", str(project))
    assert again.returncode == 2 and "syncline.yml" in again.stderr


def test_wrong_passcode_is_named(tmp_path: Path, sandbox_account: dict[str, str]) -> None:
    project = tmp_path / "p"
    assert _syncline("init", str(project), "--users", "10").returncode == 0
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": "wrong",
           "CLEVERTAP_ENDPOINT": sandbox_account["url"]}
    tested = _syncline("test", "clevertap_prod", "--project", str(project), env=env)
    assert tested.returncode == 1
    assert "passcode" in tested.stderr.lower()


def test_unknown_sync_lists_the_known_ones(tmp_path: Path) -> None:
    project = tmp_path / "p"
    assert _syncline("init", str(project), "--users", "10").returncode == 0
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": PASSCODE}
    result = _syncline("run", "nope", "--project", str(project), env=env)
    assert result.returncode == 2
    assert "users_to_clevertap" in result.stderr


def test_sources_browsing_lists_schemas_tables_and_typed_columns(tmp_path: Path) -> None:
    project = tmp_path / "p"
    assert _syncline("init", str(project), "--users", "10").returncode == 0
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": ACCOUNT, "CLEVERTAP_PASSCODE": PASSCODE}
    where = ["--project", str(project), "--json"]
    schemas = _syncline("sources", "schemas", "warehouse", *where, env=env)
    assert {"schema": "main"} in orjson.loads(schemas.stdout)
    tables = _syncline("sources", "tables", "warehouse", "main", *where, env=env)
    assert {r["table"] for r in orjson.loads(tables.stdout)} >= {"users", "orders"}
    columns = _syncline("sources", "columns", "warehouse", "--table", "main.orders", *where,
                        env=env)
    types = {r["column"]: r["type"] for r in orjson.loads(columns.stdout)}
    assert types["ordered_at"].startswith("TIMESTAMP")
    missing = _syncline("sources", "columns", "warehouse", "--table", "main.nope", *where,
                        env=env)
    assert missing.returncode == 2
    assert "warehouse" in missing.stderr and "nope" in missing.stderr
