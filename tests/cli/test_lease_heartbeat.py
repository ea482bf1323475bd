"""A run keeps its lease while an upload blocks longer than the lease's TTL, and a run whose
lease was taken over stops sending and says so.

The sandbox holds each upload for longer than the TTL (latency fault); the runs are real runs
(``Runner``) in threads of the test, against a SQLite state store file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from syncline.config.load import load_project
from syncline.engine.runner import Runner
from syncline.engine.summary import RunSummary
from syncline.errors import RunLockedError
from syncline.store import StateStore
from syncline.store import tables as t
from tests.cli.budget_project import write_project

TTL_S = 0.6
OTHER = "other-host:1"  # a run on another machine: only the lease's expiry can free the sync


class BackgroundRun:
    """``Runner.run`` of one sync in a thread; ``result()`` joins it."""

    def __init__(self, runner: Runner, sync: str) -> None:
        self.summary: RunSummary | None = None
        self._thread = threading.Thread(target=self._run, args=(runner, sync), daemon=True)
        self._thread.start()

    def _run(self, runner: Runner, sync: str) -> None:
        self.summary = runner.run(sync)

    def result(self) -> RunSummary:
        self._thread.join(timeout=120)
        assert self.summary is not None
        return self.summary


@pytest.fixture
def setup(tmp_path: Path, sandbox_account: dict[str, Any],
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runner, StateStore, Any]]:
    env = write_project(tmp_path, sandbox_account, rows=60, syncs=["people"], batch_size=20,
                        in_flight=1)
    loaded = load_project(tmp_path, env=env)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    sandbox = sandbox_account["server"]
    sandbox.set_faults(sandbox_account["account_id"], latency_ms=2_500)  # > 4 TTLs per upload
    yield Runner(loaded, store, lease_ttl_s=TTL_S), store, sandbox
    store.close()


def _wait_for_upload(sandbox: Any, account: str) -> None:
    deadline = time.monotonic() + 60
    while sandbox.upload_attempts(account) < 1:
        assert time.monotonic() < deadline, "the run never started uploading"
        time.sleep(0.02)


def test_a_blocked_upload_does_not_let_a_second_run_take_over(
    setup: tuple[Runner, StateStore, Any], sandbox_account: dict[str, Any]
) -> None:
    runner, store, sandbox = setup
    run = BackgroundRun(runner, "people")
    _wait_for_upload(sandbox, sandbox_account["account_id"])
    time.sleep(3 * TTL_S)  # the first upload is still blocked; the lease would have expired
    with pytest.raises(RunLockedError, match="already running"):
        store.lease("people", holder=OTHER)
    summary = run.result()
    assert (summary.status, summary.accepted, summary.error) == ("succeeded", 60, None)


def test_a_run_whose_lease_was_taken_stops_sending_and_says_so(
    setup: tuple[Runner, StateStore, Any], sandbox_account: dict[str, Any]
) -> None:
    runner, store, sandbox = setup
    account = sandbox_account["account_id"]
    run = BackgroundRun(runner, "people")
    _wait_for_upload(sandbox, account)
    # What a second run does to a lease it finds expired (e.g. the first machine was suspended
    # past the TTL): it writes itself in as the holder.
    with store.engine.begin() as conn:
        conn.execute(sa.update(t.leases).where(t.leases.c.sync == "people")
                     .values(holder=OTHER, acquired_at=datetime.now(UTC)))
    sent_before = sandbox.upload_attempts(account)
    summary = run.result()
    assert summary.status == "failed"
    assert summary.error is not None and "stopped sending" in summary.error
    assert OTHER in summary.error
    assert sandbox.upload_attempts(account) == sent_before  # no upload started after the loss
    # only the upload already under way when the lease was lost was sent; the batch waiting
    # for a slot was never sent and the rest never built: not_sent, planned again next run
    assert (summary.sent, summary.accepted, summary.failed) == (20, 20, 0)
    assert summary.not_sent == summary.new + summary.changed - 20 and summary.adds_up
    assert store.run(summary.run_id or 0).error == summary.error
    with store.engine.connect() as conn:  # the new holder's lease is left alone
        assert conn.execute(sa.select(t.leases.c.holder)).scalar_one() == OTHER
