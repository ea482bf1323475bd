"""The audit log: who created, changed, ran or deleted what, and when.

One row per change that succeeded, written by the API and dashboard (``syncline.server.app``
records every successful POST/PUT/DELETE with the signed-in user or token that made it) and by
the CLI's user and token commands. Never a secret: targets are names, details are short.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncline.server.project.models import AuditEntry

__all__ = ["entries", "record"]


def record(db: Session, actor: str, action: str, target: str, detail: str | None = None) -> None:
    """Add an entry; the caller commits (with the change it records)."""
    db.add(AuditEntry(actor=actor[:200], action=action[:32], target=target[:200],
                      detail=None if detail is None else detail[:1000]))


def entries(db: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries first, as the API and the page show them."""
    rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return [{"at": row.at.isoformat(), "actor": row.actor, "action": row.action,
             "target": row.target, "detail": row.detail} for row in rows]
