"""A minimal project for lease and upload-budget tests: ``people`` rows → CleverTap profiles.

Several syncs read the same table into one account, so their runs compete for its uploads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import orjson

SYNC = """\
  {name}:
    source: warehouse
    model:
      table: main.people
    destination: clevertap
    object: profile
    sync_key: id
    batch_size: {batch_size}
    in_flight: {in_flight}
    mappings:
      columns:
        - {{from: name, to: {field}}}
"""
HEAD = """\
version: 1
sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb
    read_only: true
destinations:
  clevertap:
    type: clevertap
    account_id: ${{CLEVERTAP_ACCOUNT_ID}}
    passcode: ${{CLEVERTAP_PASSCODE}}
    endpoint: ${{CLEVERTAP_ENDPOINT}}
syncs:
{syncs}"""


def write_project(root: Path, account: dict[str, Any], *, rows: int, syncs: list[str],
                  batch_size: int, in_flight: int) -> dict[str, str]:
    """Write the warehouse and ``syncline.yml`` under ``root``; answer the environment to use."""
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute(f"CREATE TABLE people AS SELECT i AS id, 'Person ' || i AS name "
                    f"FROM range(1, {rows + 1}) t(i)")
    body = "".join(SYNC.format(name=name, batch_size=batch_size, in_flight=in_flight,
                               field=f"name_{name}") for name in syncs)
    (root / "syncline.yml").write_text(HEAD.format(syncs=body))
    env = {**os.environ, "CLEVERTAP_ACCOUNT_ID": account["account_id"],
           "CLEVERTAP_PASSCODE": account["passcode"], "CLEVERTAP_ENDPOINT": account["url"]}
    env.pop("SYNCLINE_STATE_URL", None)
    return env


def start_run(root: Path, sync: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``syncline run SYNC --json`` as a separate process."""
    return subprocess.Popen(
        [sys.executable, "-m", "syncline", "run", sync, "--project", str(root), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary_of(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=240)
    assert out.strip(), err
    data: dict[str, Any] = orjson.loads(out)
    return data
