"""The REST client the orchestrator integrations share, against a real ``syncline serve``;
and the integrations staying out of Syncline's own imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncline.errors import ConfigError, RunFailedError
from syncline.integrations.client import RunCheck, SynclineClient
from tests.integrations.serve import SRC, serving


def test_trigger_wait_and_judge(tmp_path: Path) -> None:
    with serving(tmp_path) as server, SynclineClient(server.url, server.token) as client:
        run = client.wait(client.trigger("users"), poll_s=0.1, timeout_s=60)
        assert (run["status"], run["accepted"], run["rejected"]) == (
            "succeeded_with_rejections", 11, 1)
        assert RunCheck().verdict(run) is None
        assert RunCheck(max_rejected=1).verdict(run) is None
        assert "rejected 1 rows, more than max_rejected=0" in str(
            RunCheck(max_rejected=0).verdict(run))
        assert "(8.3%), more than max_rejected_percent=5" in str(
            RunCheck(max_rejected_percent=5).verdict(run))

        failed = client.wait(client.trigger("refused"), poll_s=0.1, timeout_s=60)
        assert "sync `refused` failed" in str(RunCheck().verdict(failed))

        with pytest.raises(RunFailedError, match="404"):
            client.trigger("no_such_sync")
        with SynclineClient(server.url, "wrong-token") as bad, pytest.raises(
                ConfigError, match="refused the token"):
            bad.trigger("users")


def test_syncline_never_imports_the_orchestrators() -> None:
    code = ("import sys, syncline.cli.main, syncline.server.app, syncline.integrations.client; "
            "print(sorted(m for m in ('dagster', 'airflow') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
