"""The Dagster integration with the real Dagster (in a venv of its own) against a real
``syncline serve``: a sync as an asset after its dbt model, failing on a failed run or on too
many rejected rows."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integrations.serve import SRC, serving
from tests.integrations.venvs import cached_venv

pytestmark = pytest.mark.venv

HERE = Path(__file__).resolve().parent


def test_assets_run_syncs_and_fail_on_failed_runs_and_rejections(tmp_path: Path) -> None:
    python = cached_venv(["dagster>=1.7", "httpx>=0.27"])
    with serving(tmp_path) as server:
        done = subprocess.run(
            [str(python), str(HERE / "dagster_job.py"), server.url, server.token],
            env={**os.environ, "PYTHONPATH": str(SRC), "DAGSTER_HOME": str(tmp_path)},
            capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    ok, too_many_rejected, failed = (json.loads(line) for line in done.stdout.splitlines())

    assert ok["success"] and ok["keys"] == ["crm/users"] and ok["deps"] == ["users_enriched"]
    assert ok["metadata"]["status"] == "succeeded_with_rejections"
    assert (ok["metadata"]["accepted"], ok["metadata"]["rejected"]) == (11, 1)
    assert ok["metadata"]["run_url"].endswith(f"/runs/{ok['metadata']['run_id']}")

    assert not too_many_rejected["success"]
    assert "rejected 1 rows (100.0%), more than max_rejected_percent=5" in (
        too_many_rejected["failure"])

    assert not failed["success"]
    assert "sync `refused` failed" in failed["failure"] and "401" in failed["failure"]
