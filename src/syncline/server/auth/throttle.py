"""Slow down password guessing, per client address, without letting anyone lock a user out.

Two counts of failed sign-ins within a sliding window (15 minutes):

* per client address and user name (``max_failures``, 5): guessing one user's password from one
  address waits. Keyed by the address too, so someone who types a user's name wrongly on
  purpose locks out only their own address, not the user;
* per client address across names (``max_per_address``, 20): spraying a common password over
  30 user names from one address waits too.

The failures live in the state store (table ``sign_in_failures``, one row per failure and key),
not in the process: several ``syncline serve`` behind a load balancer share one state store, and
with counts per process an attacker would get a fresh allowance from each of them, and another
after every restart. Keys are SHA-256 digests of address and name, so the table holds no user
names and an endless user name cannot outgrow an index entry. Rows older than the window are
deleted with each reservation of their key, and every row past the window at most once a
minute per process (``prune_every_s``), so the table holds about one window's failures,
whatever names are tried.

**Reserve, then count.** Checking the count and then recording a failure would be two steps:
guesses sent at once (threads of one server, or several servers on one store) would all read
"4 failures" before any of them recorded its own, and all have their password checked (20 of
20 did, in ``tests/server/test_throttle.py``). So an attempt records itself first (``reserve``:
its rows, committed), then counts the rows of its keys in the window, its own included, and has
its password checked only if neither count exceeds its limit: the "increment, then compare" of
rate limiters, on a sliding log of rows instead of a counter. The attempts that pass are ordered
by their commits: the k-th one counts after its commit, so it sees the k-1 that passed before it
(their rows stay: as failures, or gone with a success, which resets the pair anyway) and
itself, and at most ``limit`` pass. That needs only reads that see what was committed before
they started: SQLite, and PostgreSQL at READ COMMITTED (its default) or stronger; InnoDB's
REPEATABLE READ would do too (its snapshot starts at the count, after our commit), though
MariaDB/MySQL are not state stores Syncline supports. No lock is held across the password check,
and nothing is database-specific. An ``INSERT ... ON CONFLICT`` counter per key would be atomic
too, but a fixed window, and dialect-specific.

The price: attempts in flight count each other, so at most ``limit`` pass, not always that
many. Several racing for the last slots may all be refused although some would have fitted (of
20 wrong passwords sent at once to two apps on PostgreSQL, 0 to 5 got checked in four runs);
they are told to wait (a minute, as the page rounds up) and may simply try again.

A refused attempt deletes its rows again, so that only password checks count: refusals do not
grow the table with every request of a blocked client, the wait ends when the ``limit``-th
newest *failure* leaves the window (not pushed back by each refused retry, which behind a
shared proxy address would keep every user of it out for as long as anyone kept trying), and
the failures counted are exactly the passwords checked. A client already blocked is refused
before anything is written (``wait_s`` first); only attempts racing for the last slots write
and delete. A right password deletes the pair's rows and its own row of the address, not the
address's other failures: one account of the attacker's must not reset their spraying.

The clock is the wall clock (seconds since the epoch), shared by every process, unlike a
monotonic one: servers whose clocks disagree by a few seconds shift the window by as much.

Behind a proxy every client has the proxy's address unless uvicorn trusts its forwarded headers
(``--forwarded-allow-ips``); SECURITY.md says so.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from syncline.store import tables as t
from syncline.store.leases import as_utc

__all__ = ["Reservation", "SignInThrottle"]

log = logging.getLogger(__name__)

_failures = t.sign_in_failures


@dataclass(frozen=True)
class Reservation:
    """One sign-in attempt's place in the allowance: ``allowed`` to have its password checked,
    or refused, to wait ``wait_s`` seconds (0 when the attempts that crowded it out were in
    flight, not failures)."""

    allowed: bool
    wait_s: float
    pair: str
    address: str
    token: str


class SignInThrottle:
    """Counts failed sign-ins per (address, user name) and per address in a sliding window,
    in the state store that ``sessions`` opens (thread- and process-safe: see the module)."""

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
        return self._wait_s(_pair(address, username), _addr(address), self._clock())

    def reserve(self, username: str, address: str = "") -> Reservation:
        """Take a password check for ``username`` from ``address`` out of the allowance, or
        be refused. A reservation allowed stays counted as a failure unless ``succeeded``
        takes it back (so a server that dies during the check counts it too)."""
        now = self._clock()
        pair, addr = _pair(address, username), _addr(address)
        token = secrets.token_hex(16)
        wait_s = self._wait_s(pair, addr, now)
        if wait_s > 0:  # blocked already: refused without a write
            return Reservation(False, wait_s, pair, addr, token)
        since = _at(now - self.window_s)
        with self._sessions() as db, db.begin():  # with the keys' rows past the window gone
            db.execute(sa.delete(_failures).where(_failures.c.key.in_((pair, addr)),
                                                  _failures.c.at <= since))
            db.execute(sa.insert(_failures), [{"key": key, "at": _at(now), "attempt": token}
                                              for key in (pair, addr)])
        counts = sa.select(*(
            sa.select(sa.func.count()).select_from(_failures)
            .where(_failures.c.key == key, _failures.c.at > since).scalar_subquery()
            for key in (pair, addr)))
        with self._sessions() as db:  # a new transaction: it sees our committed rows
            on_pair, on_address = db.execute(counts).one()
        self._prune(now)
        if on_pair <= self.max_failures and on_address <= self.max_per_address:
            return Reservation(True, 0.0, pair, addr, token)
        self._take_back(token, (pair, addr))
        return Reservation(False, self._wait_s(pair, addr, now), pair, addr, token)

    def succeeded(self, reservation: Reservation) -> None:
        """Forget the failures of a user who signed in from their address (not the address's
        own count: one account of the attacker's must not reset their spraying), and the
        reservation's row of the address."""
        with self._sessions() as db, db.begin():
            db.execute(sa.delete(_failures).where(
                (_failures.c.key == reservation.pair)
                | ((_failures.c.key == reservation.address)
                   & (_failures.c.attempt == reservation.token))))

    def _take_back(self, token: str, keys: tuple[str, str]) -> None:
        """Delete a refused reservation's rows (looked up by key: the index)."""
        with self._sessions() as db, db.begin():
            db.execute(sa.delete(_failures).where(_failures.c.key.in_(keys),
                                                  _failures.c.attempt == token))

    def _wait_s(self, pair: str, addr: str, now: float) -> float:
        with self._sessions() as db:
            return max(self._wait(db, pair, self.max_failures, now),
                       self._wait(db, addr, self.max_per_address, now))

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
        no later attempt of their own to prune them."""
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
