"""Which of several schedulers fires: the one holding the leadership lease in the state store.

``syncline serve`` with a broker, and ``syncline scheduler``, may run as many copies as an
operator likes (on several machines). Each copy's scheduler asks ``leads()`` before every round:
it takes or renews the ``scheduler`` lease (a few seconds long) and fires only while it holds
it. When the leader dies its lease expires and another copy takes over within
``ttl_s + renew_every_s`` seconds. It resumes every schedule from the newest due instant any
scheduler fired (``last_fire``), and records each due run it fires with ``claim``, a unique row
per (sync, due instant), so no due run fires twice even if two schedulers briefly both believe
they lead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from syncline.store import Coordination

__all__ = ["Leader", "StoreLeadership"]

log = logging.getLogger(__name__)

ROLE = "scheduler"


class Leader(Protocol):
    """What a ``Scheduler`` shared with others asks before firing."""

    renew_every_s: float

    def leads(self) -> bool:
        """Take or renew leadership; whether this scheduler may fire now."""
        ...

    def claim(self, sync: str, due: datetime) -> bool:
        """Record the firing of ``sync``'s run due at ``due``; False if it was fired already."""
        ...

    def last_fire(self, sync: str) -> datetime | None:
        """The newest due instant of ``sync`` any scheduler fired."""
        ...

    def resign(self) -> None:
        """Give leadership up (clean shutdown)."""
        ...


class StoreLeadership:
    """A ``Leader`` backed by the state store's ``leadership`` and ``schedule_fires`` tables.

    Args:
        coordination: the state store's coordination tables.
        holder: who this scheduler is (``host:pid``), shown as the leader.
        ttl_s: how long a lease lasts without renewal: how long a dead leader's schedules wait
            at most, before another scheduler takes over (plus one renewal period).
    """

    def __init__(self, coordination: Coordination, holder: str, ttl_s: float = 5.0,
                 on_takeover: Callable[[], None] | None = None,
                 while_leading: Callable[[], None] | None = None) -> None:
        self.coordination, self.holder, self.ttl_s = coordination, holder, ttl_s
        self.on_takeover = on_takeover
        """Called when this scheduler becomes the leader (the server re-queues due runs the
        previous leader recorded but may have died before queueing)."""
        self.while_leading = while_leading
        """Called on every tick that finds this scheduler leading (the server looks for due
        runs a killed worker took and never ran)."""
        self.renew_every_s = ttl_s / 4
        self._leading = False

    def leads(self) -> bool:
        asked = time.monotonic()
        try:
            leading = self.coordination.hold(ROLE, self.holder, self.ttl_s)
        except Exception:  # the store is unreachable: we cannot know we still lead, so we don't
            log.exception("could not renew the scheduler leadership")
            leading = False
        if leading and time.monotonic() - asked > self.ttl_s / 2:
            leading = False  # the answer came so late the lease may already be someone else's
        if leading != self._leading:
            log.info("%s %s the scheduler leadership", self.holder,
                     "took" if leading else "lost")
            self._leading = leading
            if leading and self.on_takeover is not None:
                try:
                    self.on_takeover()
                except Exception:
                    log.exception("taking over the scheduler leadership: the hand-over failed")
        if leading and self.while_leading is not None:
            try:
                self.while_leading()
            except Exception:
                log.exception("the leading scheduler's upkeep failed")
        return leading

    def claim(self, sync: str, due: datetime) -> bool:
        return self.coordination.claim_fire(sync, due, self.holder)

    def last_fire(self, sync: str) -> datetime | None:
        return self.coordination.last_fire(sync)

    def resign(self) -> None:
        if self._leading:
            self.coordination.resign(ROLE, self.holder)
            self._leading = False
