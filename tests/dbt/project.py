"""A real dbt project (dbt-core + dbt-duckdb) building models into a DuckDB warehouse, and a
Syncline project whose syncs read them: built once per test session.

dbt comes from the test environment when installed there, else from a venv of its own (made
once, reused): dbt-core pins libraries (pathspec) that clash with the project's own tools.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integrations.venvs import cached_venv

# dbt-core 1.11+ fetches a parser binary from outside the package registry at install time
DBT_REQUIREMENTS = ["dbt-core>=1.8,<1.11", "dbt-duckdb>=1.8"]

MODELS = {
    "users_raw": "select 'u' || i as user_id, 'user' || i || '@example.com' as email, "
                 "'User ' || i as full_name from range(1, 6) t(i)",
    "users_enriched": "select user_id, email, upper(full_name) as name_upper "
                      "from {{ ref('users_raw') }}",
    "orders": "select 'o' || i as order_id, 'u' || i as user_id from range(1, 4) t(i)",
}

SYNCLINE_YML = """\
version: 1
sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb
    dbt: {{project_dir: dbt, target: dev}}
destinations:
  clevertap:
    type: clevertap
    account_id: ${{CLEVERTAP_ACCOUNT_ID}}
    passcode: ${{CLEVERTAP_PASSCODE}}
    region: eu1
    endpoint: ${{CLEVERTAP_ENDPOINT}}
syncs:
  enriched:
    source: warehouse
    model: {{dbt: users_enriched}}
    destination: clevertap
    object: profile
    sync_key: user_id
    tags: [crm]
  raw:
    source: warehouse
    model: {{dbt: users_raw}}
    destination: clevertap
    object: profile
    sync_key: user_id
    tags: [crm, raw]
  orders:
    source: warehouse
    model: {{table: analytics.orders}}
    destination: clevertap
    object: event
    event_name: Ordered
    identity_column: user_id
    sync_key: order_id
    tags: [ops]
{extra}"""


def dbt_executable() -> Path:
    """`dbt` beside this Python when installed there, else in a cached venv."""
    here = Path(sys.executable).parent / "dbt"
    if here.exists():
        return here
    return cached_venv(DBT_REQUIREMENTS).parent / "dbt"


def build_project(root: Path, *, extra: str = "") -> Path:
    """A Syncline project at `root` with its dbt project in `root/dbt`, built by real dbt."""
    dbt_dir = root / "dbt"
    (dbt_dir / "models").mkdir(parents=True)
    (dbt_dir / "dbt_project.yml").write_text(
        "name: crm\nversion: '1.0'\nprofile: crm\nmodels:\n  crm:\n    +materialized: table\n")
    (dbt_dir / "profiles.yml").write_text(
        "crm:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'warehouse.duckdb'}\n      schema: analytics\n      threads: 1\n")
    for name, sql in MODELS.items():
        (dbt_dir / "models" / f"{name}.sql").write_text(sql + "\n")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    subprocess.run([str(dbt_executable()), "build", "--profiles-dir", ".", "--target", "dev"],
                   cwd=dbt_dir, env=env, check=True, capture_output=True, timeout=600)
    write_config(root, extra=extra)
    return root


def write_config(root: Path, *, extra: str = "") -> None:
    (root / "syncline.yml").write_text(SYNCLINE_YML.format(extra=extra))
