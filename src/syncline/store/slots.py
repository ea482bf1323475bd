"""The upload budget of one destination account, shared by every run through the state store.

CleverTap answers 429 beyond 15 concurrent uploads per account (documented for Upload Events
and Upload User Profiles); ``in_flight`` bounds one run only, so two runs to one account (server
threads, CLI processes, machines sharing a PostgreSQL state store) could exceed it. Each run
therefore holds numbered slots, rows ``(account, slot)`` with ``slot`` in ``0..capacity-1``: the
primary key lets no two holders have one slot, so however many processes deliver, at most
``capacity`` uploads are in flight. That events and profiles share one pool of 15 is our choice
(CleverTap does not say; one pool is the safe reading).

A run takes up to its ``in_flight`` slots when it starts sending and keeps them until it is
done (one write per run, not per upload), renewing them from a heartbeat thread. Slots whose
expiry passed, or whose holder is a process of this machine that no longer exists (SIGKILL),
are free for the taking, so a dead holder's slots come back within seconds.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from syncline.store import tables as t
from syncline.store.heartbeat import Heartbeat
from syncline.store.leases import as_utc as _utc
from syncline.store.leases import holder_alive as _holder_alive
from syncline.store.leases import utc_now as _now
from syncline.store.store import StateStore

__all__ = ["UploadSlots"]

log = logging.getLogger("syncline.store.slots")

_FIRST_WAIT_S = 0.05
_MAX_WAIT_S = 1.0


class UploadSlots:
    """The slots one run holds on the upload budget ``account`` (thread-safe)."""

    def __init__(self, store: StateStore, account: str, *, holder: str, capacity: int,
                 ttl_s: float = 10.0) -> None:
        self.store, self.account, self.holder = store, account, holder
        self.capacity, self.ttl_s = capacity, ttl_s
        self.token = uuid.uuid4().hex
        self._want = 0
        self._held = 0
        self._lock = threading.Lock()
        self._heartbeat: Heartbeat | None = None

    @property
    def held(self) -> int:
        """How many slots this run holds now (uploads it may have in flight)."""
        return self._held

    def acquire(self, want: int, *, stop: Callable[[], bool] = lambda: False) -> int:
        """Hold up to ``want`` slots, waiting (polling with backoff) until at least one is ours.

        Returns how many are held; 0 only if ``stop()`` turned true while waiting. Slots that
        other runs free later are taken by ``renew`` (see ``keep_alive``), up to ``want``.
        """
        self._want = max(self._want, min(want, self.capacity))
        wait_s = _FIRST_WAIT_S
        while not self.take() and not stop():
            time.sleep(random.uniform(wait_s / 2, wait_s))
            wait_s = min(_MAX_WAIT_S, wait_s * 2)
        return self._held

    def keep_alive(self) -> None:
        """Renew (and top up) the slots from a daemon thread every third of the TTL."""
        if self._heartbeat is None:
            name = f"syncline-slots-{self.account}"
            self._heartbeat = Heartbeat(self.ttl_s / 3, self.renew, name).start()

    def take(self) -> int:
        """One attempt, without waiting, to hold ``want`` slots; returns how many are held."""
        with self._lock:
            if self._held >= self._want:
                return self._held
            try:
                self._held = self._take()
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                # another process took a slot we saw free, or held the SQLite write lock
                # beyond its busy timeout: try again later
                log.debug("upload slots of %s: %s", self.account, exc)
            return self._held

    def _take(self) -> int:
        now = _now()
        slots = t.upload_slots
        with self.store.engine.begin() as conn:
            rows = conn.execute(sa.select(slots).where(slots.c.account == self.account)).all()
            mine = sum(1 for r in rows if r.token == self.token)
            free = set(range(self.capacity)) - {r.slot for r in rows}
            for r in rows:
                expires = _utc(r.expires_at)
                stale = expires is None or expires <= now or not _holder_alive(r.holder)
                if r.token != self.token and stale and r.slot < self.capacity:
                    gone = conn.execute(sa.delete(slots).where(
                        slots.c.account == self.account, slots.c.slot == r.slot,
                        slots.c.token == r.token))
                    if gone.rowcount == 1:
                        free.add(r.slot)
            picked = sorted(free)[: max(0, self._want - mine)]
            if picked:
                expires_at = now + timedelta(seconds=self.ttl_s)
                conn.execute(sa.insert(slots), [
                    {"account": self.account, "slot": s, "holder": self.holder,
                     "token": self.token, "expires_at": expires_at} for s in picked])
        return mine + len(picked)

    def renew(self) -> int:
        """Push the expiry of our slots forward, then take freed ones up to ``want``.

        A slot that expired and was taken by another run is no longer counted: ``held`` only
        ever counts rows that are ours.
        """
        slots = t.upload_slots
        try:
            with self._lock, self.store.engine.begin() as conn:
                renewed = conn.execute(
                    sa.update(slots).where(slots.c.token == self.token)
                    .values(expires_at=_now() + timedelta(seconds=self.ttl_s)))
                self._held = renewed.rowcount
        except sa.exc.SQLAlchemyError as exc:
            log.warning("upload slots of %s: could not renew (%s)", self.account, exc)
            return self._held
        return self.take()

    def release(self) -> None:
        """Stop renewing and free every slot we hold, for the next run to take at once."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        with self._lock:
            self._want = 0
            if self._held:
                with self.store.engine.begin() as conn:
                    conn.execute(sa.delete(t.upload_slots)
                                 .where(t.upload_slots.c.token == self.token))
            self._held = 0
