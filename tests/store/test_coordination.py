"""Leadership, fired due runs and cancel requests shared by several processes' state stores."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from syncline.store import Coordination, StateStore


def _open(url: str) -> tuple[StateStore, Coordination]:
    store = StateStore(url)
    return store, Coordination(store.engine)


def test_one_leader_at_a_time_and_a_takeover_once_it_stops_renewing(state_url: str) -> None:
    store_a, a = _open(state_url)
    store_b, b = _open(state_url)  # a second process: its own engine
    try:
        assert a.hold("scheduler", "host:1", ttl_s=60)
        assert not b.hold("scheduler", "host:2", ttl_s=60)
        assert a.hold("scheduler", "host:1", ttl_s=0.2)  # renewing works, shortened here
        assert b.leader("scheduler") == "host:1"
        time.sleep(0.3)  # host:1 stopped renewing: its lease expires
        assert b.leader("scheduler") is None
        assert b.hold("scheduler", "host:2", ttl_s=60)
        assert not a.hold("scheduler", "host:1", ttl_s=60)  # the old leader cannot come back
        b.resign("scheduler", "host:2")
        assert a.hold("scheduler", "host:1", ttl_s=60)  # a clean exit hands over at once
    finally:
        store_a.close()
        store_b.close()


def test_a_due_run_is_claimed_once_whoever_claims_it(state_url: str) -> None:
    store_a, a = _open(state_url)
    store_b, b = _open(state_url)
    due = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    try:
        assert a.claim_fire("users", due, "host:1")
        assert not b.claim_fire("users", due, "host:2")
        assert not a.claim_fire("users", due, "host:1")
        assert b.claim_fire("users", due + timedelta(minutes=1), "host:2")
        assert b.claim_fire("orders", due, "host:2")
        assert a.last_fire("users") == due + timedelta(minutes=1)
        assert a.last_fire("nope") is None
        assert [(f.sync, f.due_at) for f in a.fires("users")] == [
            ("users", due), ("users", due + timedelta(minutes=1))]
        assert a.start_fire("users", due, "worker:1")  # a worker takes the queued run
        assert not b.start_fire("users", due, "worker:2")  # a second delivery of it is dropped
        a.fire_ran_as("users", due, 7)
        first = a.fires("users")[0]
        assert (first.holder, first.started_by, first.run_id) == ("host:1", "worker:1", 7)
    finally:
        store_a.close()
        store_b.close()


def test_a_cancel_request_is_seen_by_another_process_and_tasks_find_their_run(
    state_url: str,
) -> None:
    store_a, a = _open(state_url)
    store_b, b = _open(state_url)
    try:
        run_id = store_a.start_run("users")
        assert not b.cancel_requested(run_id)
        assert b.run_of_task("task-1") is None
        store_a.update_run(run_id, task_id="task-1")
        assert b.run_of_task("task-1") == run_id
        assert b.request_cancel(run_id)
        assert a.cancel_requested(run_id)
        store_a.finish_run(run_id, "cancelled")
        assert not b.request_cancel(run_id)  # nothing to cancel once it ended
    finally:
        store_a.close()
        store_b.close()


def test_lease_of_names_the_live_holder_only(state_url: str) -> None:
    store = StateStore(state_url)
    try:
        assert store.lease_of("users") is None
        with store.lease("users", holder="elsewhere:1", ttl_s=60):
            assert store.lease_of("users") == "elsewhere:1"
        assert store.lease_of("users") is None
    finally:
        store.close()
