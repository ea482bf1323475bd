"""The lock of one sync: a row in the state store, renewed from its own thread while held.

One run of a sync at a time, across processes and machines sharing a state store. A holder is
``host:pid``; a holder on this host whose process is gone is taken over at once (it cannot renew),
one on another host only when its lease expires.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from syncline.store import tables as t
from syncline.store.heartbeat import Heartbeat

if TYPE_CHECKING:
    from syncline.store.store import StateStore

__all__ = ["Lease", "as_utc", "holder_alive", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite drops the zone; every timestamp we store is UTC, so put it back."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Lease:
    """A time-limited lock on one sync; renewed from its own thread while held, released on exit.

    The lease row is ours while its holder and ``acquired_at`` are the ones we wrote: a run that
    took over an expired lease wrote new ones, so our renewals and release then touch nothing, and
    ``lost`` tells the run to stop sending (two runs of one sync would send the same rows).
    """

    def __init__(self, store: StateStore, sync: str, holder: str, ttl_s: float,
                 acquired_at: datetime | None = None,
                 taken_over: int | None = None) -> None:
        self.store, self.sync, self.holder, self.ttl_s = store, sync, holder, ttl_s
        self.acquired_at = acquired_at
        self.taken_over = taken_over
        """The run whose process stopped holding this lock (marked failed; the runner, which
        can read the snapshot, finishes its counts with ``finish_crashed``)."""
        self.lost = threading.Event()
        """Set once the lease is no longer ours (taken over, or not renewable for ``ttl_s``)."""
        self.lost_reason: str | None = None
        self._run_id: int | None = None
        self._renewed = time.monotonic()
        self._heartbeat: Heartbeat | None = None
        self._released = False

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _mine(self) -> sa.ColumnElement[bool]:
        mine = (t.leases.c.sync == self.sync) & (t.leases.c.holder == self.holder)
        if self.acquired_at is not None:
            mine = mine & (t.leases.c.acquired_at == self.acquired_at)
        return mine

    def keep_alive(self, every_s: float | None = None) -> None:
        """Renew the lease from a daemon thread (every third of its TTL) until it is released."""
        if self._heartbeat is None:
            every = every_s if every_s is not None else self.ttl_s / 3
            self._heartbeat = Heartbeat(every, self.renew, f"syncline-lease-{self.sync}").start()

    def renew(self, run_id: int | None = None) -> bool:
        """Push the expiry forward (and record the run holding it); False once the lease is lost."""
        if self.lost.is_set():
            return False
        if run_id is not None:
            self._run_id = run_id
        values: dict[str, Any] = {"expires_at": utc_now() + timedelta(seconds=self.ttl_s)}
        if self._run_id is not None:
            values["run_id"] = self._run_id
        try:
            with self.store.engine.begin() as conn:
                renewed = conn.execute(sa.update(t.leases).where(self._mine()).values(**values))
                holder = None if renewed.rowcount == 1 else conn.execute(
                    sa.select(t.leases.c.holder, t.leases.c.run_id)
                    .where(t.leases.c.sync == self.sync)).first()
        except sa.exc.SQLAlchemyError as exc:
            silent_s = time.monotonic() - self._renewed
            if silent_s >= self.ttl_s:
                self._lose(f"its lease could not be renewed for {silent_s:.0f} s ({exc}), so "
                           "another run may have taken the sync over")
            return not self.lost.is_set()
        if renewed.rowcount != 1:
            who = ("nobody (the lease was removed)" if holder is None
                   else f"{'a run' if holder.run_id is None else f'run {holder.run_id}'} of "
                        f"{holder.holder}")
            self._lose(f"its lease was taken over by {who}, after it had not been renewed for "
                       f"{time.monotonic() - self._renewed:.0f} s")
            return False
        self._renewed = time.monotonic()
        return True

    def _lose(self, why: str) -> None:
        self.lost_reason = (
            f"sync `{self.sync}`: this run stopped sending because {why}. Rows it did not "
            "deliver are sent by the next run; check that the state store is reachable and "
            "that the machine is not suspended for longer than the lease TTL.")
        self.lost.set()

    def release(self) -> None:
        """Stop renewing and give the lock up so the next run can start at once."""
        if not self._released:
            with self.releasing():
                pass

    @contextmanager
    def releasing(self) -> Iterator[sa.Connection]:
        """A transaction that gives the lock up when it commits, with whatever the caller wrote
        in it: ``finish_run`` closes a run this way, so its final status and the end of its
        lock become visible together (a client that sees the status can start the next run).

        Only our own row is deleted: a run that lost its lease leaves the new holder's alone.
        The row is deleted last, after the caller's writes, in the order a takeover writes
        the same rows (the run, then the lease), so two such transactions cannot deadlock.
        Once committed, ``release`` does nothing, so a later ``with`` exit cannot delete the
        lease of a run that started meanwhile in this process (same holder).
        """
        if self._heartbeat is not None:
            self._heartbeat.stop()
        with self.store.engine.begin() as conn:
            yield conn
            conn.execute(sa.delete(t.leases).where(self._mine()))
        self._released = True


def holder_alive(holder: str) -> bool:
    """Whether a lease holder (``host:pid``) may still be running.

    A holder on this host whose process is gone (killed, crashed) cannot renew its lease, so
    waiting for the lease to expire would only delay the next run; on another host we cannot
    tell, and trust the expiry.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
