"""The lease renews itself from its own thread, and knows when another run has taken it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from syncline.errors import RunLockedError
from syncline.store import StateStore

# Holders on another host: the store cannot check their process, only the lease's expiry.
A, B = "host-a:1", "host-b:1"


def test_a_kept_alive_lease_outlives_its_ttl(state_url: str) -> None:
    one, two = StateStore(state_url), StateStore(state_url)
    with one.lease("users", holder=A, ttl_s=0.6) as lease:
        lease.keep_alive()
        time.sleep(1.5)  # two and a half TTLs without any renewal from the run itself
        with pytest.raises(RunLockedError, match="already running"):
            two.lease("users", holder=B)
        assert not lease.lost.is_set()
    with two.lease("users", holder=B):  # released on exit: free at once
        pass
    one.close()
    two.close()


def test_a_lease_taken_over_is_lost_and_its_release_leaves_the_new_holder(state_url: str) -> None:
    one, two = StateStore(state_url), StateStore(state_url)
    lease = one.lease("users", holder=A, ttl_s=0.3)
    run = one.start_run("users")
    assert lease.renew(run)
    time.sleep(0.4)  # expired and not renewed: a second run may take the sync over
    taken = two.lease("users", holder=B, ttl_s=60)
    assert not lease.renew()
    assert lease.lost.is_set()
    assert lease.lost_reason is not None
    assert "stopped sending" in lease.lost_reason and B in lease.lost_reason
    lease.release()  # must not free the lease the second run holds now
    with pytest.raises(RunLockedError):
        one.lease("users", holder="host-c:1")
    taken.release()
    one.close()
    two.close()


def test_two_holders_in_one_process_are_told_apart(state_url: str) -> None:
    """Server threads share ``host:pid``: the acquisition time still fences their leases."""
    store = StateStore(state_url)
    first = store.lease("users", holder=A, ttl_s=0.2)
    time.sleep(0.3)
    second = store.lease("users", holder=A, ttl_s=60)
    assert not first.renew()
    first.release()
    assert second.renew()
    with pytest.raises(RunLockedError):
        store.lease("users", holder=B)
    second.release()
    store.close()


def test_a_lease_not_renewable_for_its_ttl_is_lost(tmp_path: Path) -> None:
    """The state store gone (here: a database server that refuses connections) for a TTL: the
    lease may have been taken by a run that can still reach it, so the run must stop."""
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    lease = store.lease("users", holder=A, ttl_s=0.3)
    store.engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert lease.renew()  # one failed renewal within the TTL is not a loss yet
    time.sleep(0.35)
    assert not lease.renew()
    assert lease.lost.is_set() and lease.lost_reason is not None
    assert "could not be renewed" in lease.lost_reason
    store.engine.dispose()


def test_a_run_finished_with_its_lease_frees_the_sync_in_the_same_commit(state_url: str) -> None:
    one, two = StateStore(state_url), StateStore(state_url)
    lease = one.lease("users", holder=A, ttl_s=60)
    run = one.start_run("users")
    assert lease.renew(run)
    lease.keep_alive(every_s=0.01)
    one.finish_run(run, "succeeded", release=lease, sent=2, accepted=2)
    assert (two.run(run).status, two.run(run).accepted) == ("succeeded", 2)
    assert two.lease_of("users") is None
    again = two.lease("users", holder=A, ttl_s=60)  # the next run, in the same process
    time.sleep(0.05)  # the stopped heartbeat renews nothing
    lease.release()  # the `with` exit after finish_run: leaves the next run's lease alone
    assert two.lease_of("users") == A and again.renew()
    again.release()
    one.close()
    two.close()


def test_a_run_that_lost_its_lease_finishes_without_freeing_the_new_holder(
    state_url: str,
) -> None:
    one, two = StateStore(state_url), StateStore(state_url)
    lease = one.lease("users", holder=A, ttl_s=0.3)
    run = one.start_run("users")
    assert lease.renew(run)
    time.sleep(0.4)
    taken = two.lease("users", holder=B, ttl_s=60)
    one.finish_run(run, "failed", error="lost its lease", release=lease)
    assert two.run(run).error == "lost its lease"
    with pytest.raises(RunLockedError):
        one.lease("users", holder="host-c:1")
    taken.release()
    one.close()
    two.close()
