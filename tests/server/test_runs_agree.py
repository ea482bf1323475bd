"""The API and the CLI tell one run the same way: status word and every count, in one order.

The real server runs the sync; ``syncline runs`` (another process, on the same state store, with
no CleverTap secrets in its environment) must show what ``GET /api/runs/{id}`` answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from syncline.store.counts import RUN_COUNTS

from .served import SOURCE_BODY, USERS, destination_body, served

PROFILE_SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id",
    "mappings": {"columns": [{"from": "email", "to": "Email"}, {"from": "phone", "to": "Phone"}]},
}
PROJECT = """\
version: 1
sources:
  wh: {type: duckdb, path: wh.duckdb}
destinations:
  ct: {type: clevertap, account_id: X, passcode: "${CLEVERTAP_PASSCODE}", region: eu1}
syncs: {}
"""


def _cli(folder: Path, state: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEVERTAP_")}
    env.update(SYNCLINE_STATE_URL=state, COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "syncline", *args, "--project", str(folder)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_api_runs_json_and_runs_table_agree(tmp_path: Path) -> None:
    with served(tmp_path) as app, app.api() as client:
        client.post("/api/connections", json=destination_body(app.sandbox))
        client.post("/api/connections", json=SOURCE_BODY)
        assert client.post("/api/syncs", json={"name": "users", "config": PROFILE_SYNC}
                           ).status_code == 201
        run = app.wait_run(client, client.post("/api/syncs/users/runs").json()["run_id"])
        api = client.get(f"/api/runs/{run['id']}").json()["run"]
    assert (api["status"], api["status_text"]) == (
        "succeeded_with_rejections", "succeeded with rejections")
    assert list(api["counts"]) == [name for name, _ in RUN_COUNTS]
    assert (api["counts"]["accepted"], api["counts"]["rejected"]) == (USERS - 1, 1)
    for name, value in api["counts"].items():
        assert api[name] == value  # the flat fields stay, for existing clients

    folder = tmp_path / "cli"
    folder.mkdir()
    (folder / "syncline.yml").write_text(PROJECT)
    state = f"sqlite:///{tmp_path / 'state.db'}"
    listed = _cli(folder, state, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    [cli] = orjson.loads(listed.stdout)
    assert (cli["id"], cli["status"], cli["counts"]) == (api["id"], api["status"], api["counts"])

    table = _cli(folder, state, "runs")
    assert table.returncode == 0, table.stderr
    [row] = [line.split() for line in table.stdout.splitlines()
             if line.strip().startswith(str(api["id"]) + " ")]
    c = api["counts"]
    assert row == [str(api["id"]), "users", "succeeded", "with", "rejections", *row[5:7],
                   str(c["planned_new"] + c["planned_changed"]), str(c["accepted"]),
                   str(c["rejected"]), str(c["invalid"])], table.stdout
