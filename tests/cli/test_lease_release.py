"""Once a run's final status can be seen, its sync's lock is free: whoever polls the status (the
scheduler, an orchestrator, a test) may start the next run at once.

Real runs (``Runner``, in a thread of the test) against the sandbox, on a SQLite file and on
the local PostgreSQL as the state store; another ``StateStore`` (another process, as far as the
store can tell) polls the run and takes the lock the moment the status is final. The run's
progress hook takes a moment at the end, as a slow alert channel does: work a run still does
after its status is final must not hold the sync.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from syncline.config.load import load_project
from syncline.engine.runner import Runner
from syncline.engine.summary import NullProgress, RunSummary
from syncline.errors import RunLockedError
from syncline.store import StateStore
from syncline.store.statuses import RUNNING
from tests.cli.budget_project import write_project

OTHER = "other-host:1"  # another machine: only a released (or expired) lease frees the sync
RUNS = 6


class _SlowEnd(NullProgress):
    """What a run does after its status is final takes a while (here: its progress hook)."""

    def finish(self, summary: RunSummary) -> None:
        time.sleep(0.1)


def _final_run(store: StateStore, after: int) -> int:
    """Poll as a client does: the id of the newest run once its status is final."""
    deadline = time.monotonic() + 60
    while True:
        runs = store.runs("people", limit=1)
        if runs and runs[0].id > after and runs[0].status != RUNNING:
            return runs[0].id
        assert time.monotonic() < deadline, f"no finished run after run {after}: {runs}"
        time.sleep(0.002)


def test_a_run_seen_finished_has_released_its_sync(
    tmp_path: Path, sandbox_account: dict[str, Any], state_url: str
) -> None:
    env = write_project(tmp_path, sandbox_account, rows=20, syncs=["people"], batch_size=10,
                        in_flight=1)
    runner_store, poller = StateStore(state_url), StateStore(state_url)
    runner = Runner(load_project(tmp_path, env=env), runner_store, progress=_SlowEnd())
    last = 0
    try:
        for _ in range(RUNS):
            run = threading.Thread(target=runner.run, args=("people",), daemon=True)
            run.start()
            last = _final_run(poller, last)
            try:  # at once, as the scheduler starting the next run would
                poller.lease("people", holder=OTHER).release()
            except RunLockedError as exc:
                pytest.fail(f"run {last} is {poller.run(last).status} but still holds the "
                            f"sync: {exc}")
            finally:
                run.join(timeout=60)
        assert [r.status for r in poller.runs("people", limit=RUNS)] == ["succeeded"] * RUNS
    finally:
        runner_store.close()
        poller.close()
