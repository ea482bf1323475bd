"""Crash tests: a run killed with SIGKILL while batches are in flight loses and duplicates nothing
that it does not report.

For events, after each kill the next run reports the keys that were in flight (in doubt). With the
default policy (skip) no event is ever sent twice and every missing event is in doubt; with
``--resend-in-doubt`` no event is missing and every duplicated one is in doubt. For profiles the
sandbox ends equal to the source.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import Project, sandbox_profiles
from tests.cli.test_event_sync import EventProject

EVENTS = 20_000
BATCH = 500
KILLS = 3

# Under pytest-xdist the three run one after another on one worker: each keeps a CPU busy for
# minutes, and side by side on 2 cores they would each outlast the timeout.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("crash"), pytest.mark.timeout(600)]


def _start(project: Project, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncline", "run", *args, "--project", str(project.root), "--json"],
        env=project.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _kill_while_in_flight(project: Project, proc: subprocess.Popen[bytes],
                          rng: random.Random) -> None:
    """SIGKILL once the sandbox has seen a random number of uploads (so batches are in flight)."""
    account = project.account["account_id"]
    start = project.sandbox.upload_count(account)
    target = start + rng.randint(2, 8)
    deadline = time.monotonic() + 60
    while project.sandbox.upload_count(account) < target and time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.2))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _crash_then_finish(project: Project, sync: str, *flags: str,
                       status: str = "succeeded") -> set[str]:
    """Kill ``sync`` KILLS times mid-run, then run it to completion; return the in-doubt keys."""
    rng = random.Random(20261129)
    killed = 0
    for _ in range(KILLS):
        proc = _start(project, sync, *flags)
        _kill_while_in_flight(project, proc, rng)
        killed += proc.returncode == -signal.SIGKILL
    assert killed >= 2, "the runs finished before they could be killed: slow the sandbox down"
    summary = project.run_json(sync, *flags)
    assert summary["status"] == status, summary
    reported = project.cli_json("in-doubt", sync)
    return {row["sync_key"] for row in reported}


@pytest.fixture
def crash_project(tmp_path: Path, sandbox_account: dict[str, Any]) -> EventProject:
    project = EventProject.create(tmp_path, sandbox_account, users=40)
    project.create_orders(EVENTS)
    project.set_faults(latency_ms=300)
    return project


def test_killed_event_runs_never_duplicate_and_report_what_is_missing(
    crash_project: EventProject,
) -> None:
    crash_project.configure_events(batch_size=BATCH)
    in_doubt = _crash_then_finish(crash_project, "orders")
    counts = crash_project.order_counts()
    duplicated = {str(k) for k, n in counts.items() if n > 1}
    missing = {str(k) for k in range(1, EVENTS + 1)} - {str(k) for k in counts}
    assert duplicated == set()
    assert missing <= in_doubt
    assert len(in_doubt) <= KILLS * 4 * BATCH  # at most the batches that were in flight


def test_killed_event_runs_resent_in_doubt_miss_nothing(crash_project: EventProject) -> None:
    crash_project.configure_events(batch_size=BATCH)
    in_doubt = _crash_then_finish(crash_project, "orders", "--resend-in-doubt")
    counts = crash_project.order_counts()
    duplicated = {str(k) for k, n in counts.items() if n > 1}
    assert set(counts) == set(range(1, EVENTS + 1))
    assert duplicated <= in_doubt


def test_killed_profile_runs_end_equal_to_the_source(tmp_path: Path,
                                                     sandbox_account: dict[str, Any]) -> None:
    project = Project.create(tmp_path, sandbox_account, users=8_000)
    text = project.config_path.read_text().replace("batch_size: 1000", f"batch_size: {BATCH // 2}")
    project.config_path.write_text(text)
    project.set_faults(latency_ms=300)
    _crash_then_finish(project, "users", status="succeeded_with_rejections")  # users 2 and 4
    profiles = sandbox_profiles(project)
    assert set(profiles) == {str(i) for i in range(1, 8_001)} - {"2", "4"}
    assert all(profiles[str(i)]["plan"] == project.plan_of(i) for i in (1, 999, 8_000))
