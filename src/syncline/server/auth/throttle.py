"""Slow down password guessing, per client address, without letting anyone lock a user out.

Two counts of failed sign-ins within a sliding window (15 minutes):

* per client address and user name (``max_failures``, 5): guessing one user's password from one
  address waits. Keyed by the address too, so someone who types a user's name wrongly on
  purpose locks out only their own address, not the user;
* per client address across names (``max_per_address``, 20): spraying a common password over
  30 user names from one address waits too.

The failures live in the state store (table ``sign_in_failures``, one row per failure), not in
the process: several ``syncline serve`` behind a load balancer share one state store, and with
counts per process an attacker would get a fresh allowance from each of them, and another after
every restart. Keys are SHA-256 digests of address and name, so the table holds no user names
and an endless user name cannot outgrow an index entry. Rows older than the window are deleted
with each failure of their key, and every row past the window at most once a minute per process
(``prune_every_s``), so the table holds about one window's failures, whatever names are tried.

The clock is the wall clock (seconds since the epoch), shared by every process, unlike a
monotonic one: servers whose clocks disagree by a few seconds shift the window by as much.

Behind a proxy every client has the proxy's address unless uvicorn trusts its forwarded headers
(``--forwarded-allow-ips``); SECURITY.md says so.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from syncline.store import tables as t
from syncline.store.leases import as_utc

__all__ = ["SignInThrottle"]

log = logging.getLogger(__name__)

_failures = t.sign_in_failures


class SignInThrottle:
    """Counts failed sign-ins per (address, user name) and per address in a sliding window,
    in the state store that ``sessions`` opens (thread- and process-safe)."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        max_failures: int = 5,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.time,
        max_per_address: int = 20,
        prune_every_s: float = 60.0,
    ) -> None:
        self.max_failures = max_failures
        self.max_per_address = max_per_address
        self.window_s = window_s
        self.prune_every_s = prune_every_s
        self._sessions = sessions
        self._clock = clock
        self._pruned_at: float | None = None
        self._lock = threading.Lock()

    def wait_s(self, username: str, address: str = "") -> float:
        """Seconds before ``username`` may try again from ``address`` (0: now)."""
        now = self._clock()
        with self._sessions() as db:
            return max(self._wait(db, _pair(address, username), self.max_failures, now),
                       self._wait(db, _addr(address), self.max_per_address, now))

    def failed(self, username: str, address: str = "") -> None:
        """Note a failed sign-in (and forget this key's failures that left the window)."""
        now = self._clock()
        keys = [_pair(address, username), _addr(address)]
        with self._sessions() as db, db.begin():
            db.execute(sa.delete(_failures).where(_failures.c.key.in_(keys),
                                                  _failures.c.at <= _at(now - self.window_s)))
            db.execute(sa.insert(_failures), [{"key": key, "at": _at(now)} for key in keys])
        self._prune(now)

    def succeeded(self, username: str, address: str = "") -> None:
        """Forget the failures of a user who signed in from ``address`` (not the address's
        own count: one account of the attacker's must not reset their spraying)."""
        with self._sessions() as db, db.begin():
            db.execute(sa.delete(_failures).where(_failures.c.key == _pair(address, username)))

    def _wait(self, db: Session, key: str, limit: int, now: float) -> float:
        """How long until fewer than ``limit`` failures of ``key`` are in the window: until
        the ``limit``-th newest leaves it."""
        query = (sa.select(_failures.c.at)
                 .where(_failures.c.key == key, _failures.c.at > _at(now - self.window_s))
                 .order_by(_failures.c.at.desc()).offset(max(0, limit - 1)).limit(1))
        at = as_utc(db.execute(query).scalar_one_or_none())
        if at is None:
            return 0.0
        return max(0.0, at.timestamp() + self.window_s - now)

    def _prune(self, now: float) -> None:
        """Delete every failure past the window, at most once per ``prune_every_s`` in this
        process: keys tried once and never again (random user names, passing addresses) have
        no later failure of their own to prune them."""
        with self._lock:
            if self._pruned_at is not None and now - self._pruned_at < self.prune_every_s:
                return
            self._pruned_at = now
        try:
            with self._sessions() as db, db.begin():
                db.execute(sa.delete(_failures)
                           .where(_failures.c.at <= _at(now - self.window_s)))
        except sa.exc.DBAPIError as exc:  # housekeeping: the next prune retries
            log.warning("could not prune old sign-in failures: %s", exc)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _pair(address: str, username: str) -> str:
    return _digest(f"{address}\0{username.lower()}")


def _addr(address: str) -> str:
    return _digest(f"{address}\0")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
