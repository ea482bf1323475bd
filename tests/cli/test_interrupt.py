"""Ctrl+C, SIGTERM and crashes during an event run (issue #11, items 4, 5 and 6).

Real processes and real signals against the sandbox. A first SIGINT/SIGTERM stops the run
cleanly: no new batch, the uploads in flight get a bounded time to answer, what was accepted is
committed, only unanswered batches are in doubt, the summary is printed, exit 130. A second
signal stops at once, like a crash: the next run closes the dead run's account from the
snapshot (status failed) and reports what it did with the in-doubt keys. In every case the
counts of every recorded run add up.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.test_event_sync import EventProject

EVENTS = 3_000
BATCH = 100
IN_FLIGHT = 4  # the event sync's in_flight in tests/cli/test_event_sync.py


@pytest.fixture
def events(tmp_path: Path, sandbox_account: dict[str, Any]) -> EventProject:
    project = EventProject.create(tmp_path, sandbox_account, users=40)
    project.create_orders(EVENTS)
    project.configure_events(batch_size=BATCH)
    return project


def _start(project: EventProject, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncline", "run", "orders", "--project", str(project.root),
         "--json"],
        env={**project.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_for_uploads(project: EventProject, proc: subprocess.Popen[bytes], n: int, *,
                      arrived: bool = False) -> None:
    """Until the sandbox has answered (or, ``arrived``, received) ``n`` uploads."""
    account = project.account["account_id"]
    count = project.sandbox.upload_attempts if arrived else project.sandbox.upload_count
    deadline = time.monotonic() + 120
    while count(account) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got that far"
        time.sleep(0.01)


def _history(project: EventProject) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = project.cli_json("runs", "orders")
    return runs


def assert_every_run_adds_up(project: EventProject) -> None:
    """new + changed = accepted + rejected + failed + in_doubt + not_sent, for every status."""
    for run in _history(project):
        planned = run["planned_new"] + run["planned_changed"]
        outcomes = (run["accepted"] + run["rejected"] + run["failed"] + run["in_doubt"]
                    + run["not_sent"])
        assert planned == outcomes, run


def _no_duplicate_and_all_there(project: EventProject) -> None:
    counts = project.order_counts()
    assert set(counts) == set(range(1, EVENTS + 1))
    assert set(counts.values()) == {1}


def test_ctrl_c_lets_uploads_in_flight_answer_and_commits_them(events: EventProject) -> None:
    events.set_faults(latency_ms=300)
    proc = _start(events)
    _wait_for_uploads(events, proc, 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = orjson.loads(out)
    assert (summary["status"], summary["error"]) == ("cancelled", "cancelled by a user")
    assert summary["in_doubt"] == 0  # every upload in flight answered within the grace time
    assert summary["accepted"] == len(events.events())  # what CleverTap holds is committed
    assert summary["not_sent"] == EVENTS - summary["accepted"] > 0
    assert b"stopping: no new batch" in err
    events.set_faults()
    after = events.run_json("orders")
    assert (after["in_doubt_skipped"], after["sent"]) == (0, summary["not_sent"])
    _no_duplicate_and_all_there(events)
    assert [r["status"] for r in _history(events)] == ["succeeded", "cancelled"]
    assert_every_run_adds_up(events)


def test_sigterm_gives_up_on_unanswered_uploads_after_the_grace_time(
    events: EventProject,
) -> None:
    events.set_faults(latency_ms=4000)
    proc = _start(events, SYNCLINE_STOP_GRACE_S="0.2")
    _wait_for_uploads(events, proc, IN_FLIGHT, arrived=True)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = orjson.loads(out)
    assert summary["status"] == "cancelled"
    assert (summary["accepted"], summary["in_doubt"]) == (0, IN_FLIGHT * BATCH)
    assert summary["not_sent"] == EVENTS - IN_FLIGHT * BATCH
    assert len(summary["in_doubt_keys"]) == IN_FLIGHT * BATCH
    listed = events.cli_json("in-doubt", "orders")
    assert {r["reason"] for r in listed} == {"no answer before the run stopped"}
    events.set_faults()
    time.sleep(4.5)  # let the sandbox finish the uploads it was holding
    after = events.run_json("orders")  # default policy: the unanswered events are skipped
    assert (after["in_doubt_skipped"], after["in_doubt"]) == (IN_FLIGHT * BATCH, 0)
    assert after["sent"] == EVENTS - IN_FLIGHT * BATCH
    counts = events.order_counts()
    assert set(counts.values()) == {1}  # never sent twice
    missing = set(range(1, EVENTS + 1)) - set(counts)
    assert {str(k) for k in missing} <= {str(k) for k in summary["in_doubt_keys"]}
    assert_every_run_adds_up(events)


def test_a_second_ctrl_c_stops_at_once_and_the_next_run_closes_the_account(
    events: EventProject,
) -> None:
    events.set_faults(latency_ms=4000)
    proc = _start(events)  # default grace: 15 s, longer than the uploads take
    _wait_for_uploads(events, proc, IN_FLIGHT, arrived=True)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out == b""  # no summary: it stopped at once
    assert b"stopped at once" in err
    assert _history(events)[0]["status"] == "running"
    events.set_faults()
    recovery = events.run_json("orders")
    crashed = _history(events)[1]
    assert (crashed["status"], crashed["error"]) == ("failed", "the process running it stopped")
    assert (crashed["accepted"], crashed["in_doubt"]) == (0, IN_FLIGHT * BATCH)
    assert crashed["not_sent"] == EVENTS - IN_FLIGHT * BATCH
    assert (recovery["in_doubt_skipped"], recovery["in_doubt"]) == (IN_FLIGHT * BATCH, 0)
    assert_every_run_adds_up(events)


def test_a_killed_run_is_finalised_with_its_real_counts(events: EventProject) -> None:
    """After SIGKILL the recovery run no longer prints `in doubt 0` above a list of keys: the
    dead run's row gets its accepted and in-doubt counts, the recovery run says it skipped."""
    events.set_faults(latency_ms=300)
    proc = _start(events)
    _wait_for_uploads(events, proc, 6)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    events.set_faults()
    recovery = events.run_json("orders")
    crashed = _history(events)[1]
    assert (crashed["status"], crashed["error"]) == ("failed", "the process running it stopped")
    assert crashed["accepted"] >= 6 * BATCH - IN_FLIGHT * BATCH  # commits lag answers a little
    assert crashed["in_doubt"] > 0
    assert recovery["in_doubt_skipped"] == crashed["in_doubt"]
    assert recovery["in_doubt"] == 0 and recovery["in_doubt_keys"] == []
    assert recovery["sent"] == EVENTS - crashed["accepted"] - crashed["in_doubt"]
    counts = events.order_counts()
    assert set(counts.values()) == {1}
    assert_every_run_adds_up(events)
    table = events.cli_with_env({**events.env, "COLUMNS": "200"}, "runs", "orders").stdout
    assert f"{crashed['in_doubt']:,} in doubt skipped" in table
