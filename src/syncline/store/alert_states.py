"""Which alert conditions are open, kept in the state store.

An alert is sent when its condition opens and a recovery notice when it clears; in between,
nothing, however many runs see the same condition. The open set lives in the state store, not
in memory, so CLI runs, server runs and several workers share it: the insert that opens a
condition and the delete that clears it are each one statement, and only the process whose
statement changed a row sends the notice, so no alert goes out twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from syncline.store import tables as t

__all__ = ["AlertStates", "OpenCondition"]


@dataclass(frozen=True)
class OpenCondition:
    """A condition that fired and has not cleared yet."""

    alert: str
    sync: str
    condition: str
    opened_at: datetime
    run_id: int | None
    detail: str | None


class AlertStates:
    """Open/clear alert conditions on a state store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def open(self, alert: str, sync: str, condition: str, *, run_id: int | None,
             detail: str) -> bool:
        """Mark the condition open; True only for the caller that opened it (so it alerts)."""
        row = {"alert": alert, "sync": sync, "condition": condition,
               "opened_at": datetime.now(UTC), "run_id": run_id, "detail": detail}
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(t.alert_states).values(**row))
        except sa.exc.IntegrityError:
            return False
        return True

    def clear(self, alert: str, sync: str, condition: str) -> OpenCondition | None:
        """Clear the condition; the cleared one for the caller that cleared it (it recovers)."""
        where = ((t.alert_states.c.alert == alert) & (t.alert_states.c.sync == sync)
                 & (t.alert_states.c.condition == condition))
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.alert_states).where(where)).first()
            if row is None:
                return None
            if conn.execute(sa.delete(t.alert_states).where(where)).rowcount != 1:
                return None
        opened = row.opened_at if row.opened_at.tzinfo else row.opened_at.replace(tzinfo=UTC)
        return OpenCondition(row.alert, row.sync, row.condition, opened, row.run_id, row.detail)

    def opened(self, sync: str | None = None) -> list[OpenCondition]:
        """Every open condition (of one sync), oldest first."""
        query = sa.select(t.alert_states).order_by(t.alert_states.c.opened_at)
        if sync is not None:
            query = query.where(t.alert_states.c.sync == sync)
        with self.engine.connect() as conn:
            return [OpenCondition(r.alert, r.sync, r.condition,
                                  r.opened_at if r.opened_at.tzinfo
                                  else r.opened_at.replace(tzinfo=UTC), r.run_id, r.detail)
                    for r in conn.execute(query)]
