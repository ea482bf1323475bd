"""The Airflow operator and trigger with the real Airflow (in a venv of its own) against a real
``syncline serve``: polling and deferred waits, failing on a failed run or on too many
rejected rows, the server read from an Airflow connection."""

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


@pytest.mark.parametrize("airflow", ["apache-airflow>=2.9", "apache-airflow>=2.9,<3"],
                         ids=["latest", "airflow2"])
def test_operator_runs_syncs_and_fails_on_failed_runs_and_rejections(tmp_path: Path,
                                                                     airflow: str) -> None:
    python = cached_venv([airflow, "httpx>=0.27"])
    with serving(tmp_path) as server:
        connection = json.dumps({"conn_type": "http", "host": server.url,
                                 "password": server.token})
        done = subprocess.run(
            [str(python), str(HERE / "airflow_job.py"), server.url, server.token],
            env={**os.environ, "PYTHONPATH": str(SRC), "AIRFLOW_HOME": str(tmp_path),
                 "AIRFLOW_CONN_SYNCLINE_DEFAULT": connection},
            capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    cases = {c["task"]: c for c in (json.loads(line.removeprefix("RESULT "))
                                    for line in done.stdout.splitlines()
                                    if line.startswith("RESULT "))}  # Airflow logs there too

    # first run: 11 accepted, the bad phone rejected; a full resync sends all 12 again
    done = "succeeded_with_rejections"
    assert cases["polling"] == {"task": "polling", "status": done, "accepted": 11,
                                "rejected": 1}
    assert cases["deferred"] == {"task": "deferred", "deferred": True, "status": done,
                                 "accepted": 11, "rejected": 1}
    assert cases["too_many_rejected"]["deferred"]
    assert "rejected 1 rows (100.0%), more than max_rejected_percent=5" in (
        cases["too_many_rejected"]["failed"])
    for task in ("failed_run", "failed_run_deferred"):
        assert "sync `refused` failed" in cases[task]["failed"], cases[task]
    assert cases["failed_run_deferred"]["deferred"]
    assert cases["by_connection"]["status"] == done
