"""Syncs of one DuckDB warehouse run side by side, from separate processes.

DuckDB allows one writing process per file or many reading ones. Syncline only reads the user's
file (its snapshots live in `.syncline/diff/`), so syncs never lock each other out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from tests.cli.helpers import Project, sandbox_profiles

USERS = 60
SYNCS = ("users_a", "users_b", "users_c")


@pytest.fixture
def project(tmp_path: Path, sandbox_account: dict[str, str]) -> Project:
    project = Project.create(tmp_path, sandbox_account, users=USERS)
    text = project.config_path.read_text()
    head, _, sync = text.partition("  users:\n")
    project.config_path.write_text(head + "".join(f"  {name}:\n{sync}" for name in SYNCS))
    return project


def test_three_syncs_of_one_duckdb_file_run_at_once_from_three_processes(
        project: Project) -> None:
    """Used to fail with `Could not set lock on file ... warehouse.duckdb`. Each is a first run
    on a new state store too, so they also migrate it at once (`table runs already exists`).

    The test holds the warehouse open read-only meanwhile, as a second reader (a BI tool, the
    dashboard) would: a run that opened it for writing could not start at all.
    """
    with duckdb.connect(str(project.warehouse), read_only=True):
        runs = [subprocess.Popen(
            [sys.executable, "-m", "syncline", "run", name, "--json", "--project",
             str(project.root)], env=project.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for name in SYNCS]
        results = [(run.communicate(timeout=240), run.returncode) for run in runs]
    for (out, err), code in results:
        assert code == 0, err
        summary = orjson.loads(out)
        assert (summary["status"], summary["accepted"]) == ("succeeded_with_rejections", USERS - 2)
    assert len(sandbox_profiles(project)) == USERS - 2
    again = project.run_json("users_b")
    assert (again["planned"]["new"], again["planned"]["unchanged"]) == (2, USERS - 2)
