"""One status word and one set of counts for a run, whichever view shows it: the run's own
``--json``, ``syncline runs --json`` and ``syncline runs`` (80 columns, no secrets needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncline import __version__
from syncline.store.counts import RUN_COUNTS
from tests.cli.helpers import Project

USERS = 40


@pytest.fixture
def project(tmp_path: Path, sandbox_account: dict[str, Any]) -> Project:
    return Project.create(tmp_path, sandbox_account, users=USERS)


def test_rejected_rows_make_succeeded_with_rejections_with_exit_code_0(project: Project) -> None:
    result = project.cli("run", "users")
    assert result.returncode == 0, result.stderr
    assert "succeeded with rejections" in result.stdout
    assert "invalid (null or duplicate key)" in result.stdout  # apart from rejected
    data = project.run_json("users")  # the two bad rows are planned and rejected again
    assert (data["status"], data["status_text"]) == (
        "succeeded_with_rejections", "succeeded with rejections")
    assert list(data["counts"]) == [name for name, _ in RUN_COUNTS]


def test_a_run_without_rejections_is_plain_succeeded(project: Project) -> None:
    project.sql("DELETE FROM users WHERE user_id IS NULL OR user_id IN (2, 4) "
                f"OR user_id = {USERS + 1}")
    data = project.run_json("users")
    assert (data["status"], data["rejected"], data["invalid"]) == ("succeeded", 0, 0)


def test_runs_json_has_the_counts_the_run_printed(project: Project) -> None:
    ran = project.run_json("users")
    listed = project.cli_json("runs")
    assert [r["id"] for r in listed] == [ran["run_id"]]
    assert listed[0]["counts"] == ran["counts"]
    assert listed[0]["status"] == ran["status"] == "succeeded_with_rejections"
    assert (ran["counts"]["invalid"], ran["counts"]["rejected"]) == (3, 2)


def test_runs_reads_history_without_the_destinations_secrets(project: Project) -> None:
    project.run_json("users")
    env = {k: v for k, v in project.env.items() if not k.startswith("CLEVERTAP_")}
    result = project.cli_with_env(env, "runs", "--json")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)[0]["sync"] == "users"
    # rejections and in-doubt read the same store: no secrets either
    run_id = orjson.loads(result.stdout)[0]["id"]
    assert project.cli_with_env(env, "rejections", str(run_id)).returncode == 0
    assert project.cli_with_env(env, "in-doubt", "users").returncode == 0


def test_runs_fits_an_80_column_terminal(project: Project) -> None:
    project.run_json("users")
    project.sql("UPDATE users SET plan = 'enterprise' WHERE user_id < 10")
    project.set_faults(error_rate=1.0)
    env = {**project.env, "COLUMNS": "80", "SYNCLINE_RETRY_ATTEMPTS": "1"}
    failed = project.cli_with_env(env, "run", "users", "--json")  # every upload fails
    assert orjson.loads(failed.stdout)["status"] == "failed", failed.stdout
    result = project.cli_with_env(env, "runs")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    text = " ".join(lines)
    for word in ("planned", "accepted", "rejected", "invalid", "rejections", "7 failed"):
        assert word in text, result.stdout


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "syncline", "--version"], capture_output=True,
                            text=True, check=False, env=os.environ.copy(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"syncline {__version__}"
