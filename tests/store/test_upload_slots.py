"""Upload slots: one budget of uploads in flight per account, across stores and processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from syncline.store import StateStore, UploadSlots
from syncline.store import tables as t

ACCOUNT = "clevertap:ACC-1"


def _slots(store: StateStore, holder: str = "host-a:1", ttl_s: float = 10.0) -> UploadSlots:
    return UploadSlots(store, ACCOUNT, holder=holder, capacity=15, ttl_s=ttl_s)


def test_runs_share_one_budget_and_take_freed_slots(state_url: str) -> None:
    one, two = StateStore(state_url), StateStore(state_url)
    a, b = _slots(one), _slots(two, "host-b:1")
    assert a.acquire(10) == 10
    assert b.acquire(10) == 5  # the five left, not ten: 15 in flight at most
    assert b.take() == 5
    other = UploadSlots(two, "clevertap:ACC-2", holder="host-b:1", capacity=15)
    assert other.acquire(15) == 15  # another account has its own budget
    a.release()
    assert b.renew() == 10  # the heartbeat tops up to what the run wants
    b.release()
    other.release()
    with one.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.upload_slots)).scalar() == 0
    one.close()
    two.close()


def test_acquire_waits_for_a_slot_rather_than_failing(state_url: str) -> None:
    store = StateStore(state_url)
    full, waiting = _slots(store), _slots(store, "host-b:1")
    full.acquire(15)
    assert waiting.acquire(3, stop=lambda: True) == 0  # gives up only when told to stop
    polls = 0

    def stop() -> bool:
        nonlocal polls
        polls += 1
        if polls == 3:
            full.release()
        return False

    assert waiting.acquire(3, stop=stop) == 3
    assert polls >= 3
    waiting.release()
    store.close()


def test_expired_slots_of_another_host_are_taken(state_url: str) -> None:
    store = StateStore(state_url)
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(t.upload_slots), [
            {"account": ACCOUNT, "slot": s, "holder": "gone-host:7", "token": "old",
             "expires_at": now - timedelta(seconds=1)} for s in range(10)] + [
            {"account": ACCOUNT, "slot": s, "holder": "live-host:7", "token": "live",
             "expires_at": now + timedelta(seconds=60)} for s in range(10, 15)])  # fmt: skip
    mine = _slots(store)
    assert mine.acquire(15) == 10  # the live holder's five stay its own
    mine.release()
    store.close()


def test_a_lapsed_holder_counts_only_the_slots_still_its_own(state_url: str) -> None:
    store = StateStore(state_url)
    slow, other = _slots(store, "host-a:1", ttl_s=0.2), _slots(store, "host-b:1")
    assert slow.acquire(15) == 15  # and not kept alive: it stops renewing (a stalled process)
    time.sleep(0.3)
    assert other.acquire(10) == 10
    assert slow.renew() == 5  # the ten another run took are not counted as held any more
    store.close()


_HOLDER = """
import os, socket, sys, time
from syncline.store import StateStore, UploadSlots
store = StateStore(sys.argv[1])
holder = f"{socket.gethostname()}:{os.getpid()}"  # as runs name themselves
slots = UploadSlots(store, sys.argv[2], holder=holder, capacity=15, ttl_s=600)
print(slots.acquire(15), flush=True)
time.sleep(600)
"""


def test_slots_of_a_killed_holder_come_back_at_once(state_url: str) -> None:
    """SIGKILL leaves the rows behind (their TTL is 10 min here); the dead pid frees them."""
    store = StateStore(state_url)
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, state_url, ACCOUNT],
                            stdout=subprocess.PIPE, text=True)
    mine = _slots(store, f"{socket.gethostname()}:{os.getpid()}")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "15"
        assert mine.acquire(15, stop=lambda: True) == 0  # its holder lives: nothing for us
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert mine.acquire(15, stop=lambda: True) == 15  # one attempt, no wait: all came back
    mine.release()
    store.close()
