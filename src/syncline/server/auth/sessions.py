"""Dashboard sign-in sessions the server can end: a row per sign-in, found by the cookie.

The session cookie is signed (Starlette's ``SessionMiddleware``), but a signed cookie alone
cannot be taken back: one copied before sign-out would work until it expires. So the cookie
carries a random session id, and the ``syncline_sessions`` table its SHA-256; a request is
signed in only while that row exists and has been used within the idle time.

* sign-out deletes the row; a password change and deleting a user delete all the user's rows;
* a session unused for ``idle_s`` (default 12 hours, ``ServerSettings.session_idle_s``) or older
  than ``max_age_s`` (the cookie's 14 days) ends, whatever the cookie says.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syncline.server.project.models import SignInSession, User, utcnow

__all__ = ["end_all_sessions", "end_session", "session_user", "start_session"]

_TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written at most this often: not one store write per page."""


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(db: Session, user: User) -> str:
    """A new session for ``user``: its id goes in the cookie, its digest in the table."""
    session_id = secrets.token_urlsafe(32)
    db.add(SignInSession(user=user, token_hash=_digest(session_id)))
    db.flush()
    return session_id


def session_user(db: Session, session_id: str, *, idle_s: int, max_age_s: int,
                 now: datetime | None = None) -> User | None:
    """The user of a live session, else None (an expired session's row is deleted)."""
    row = db.scalar(select(SignInSession).where(SignInSession.token_hash == _digest(session_id)))
    if row is None:
        return None
    now = now or utcnow()
    if now - row.last_seen_at > timedelta(seconds=idle_s) or (
            now - row.created_at > timedelta(seconds=max_age_s)):
        db.delete(row)
        db.commit()
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        db.commit()
    return row.user


def end_session(db: Session, session_id: str) -> None:
    """Sign-out: this session ends, on every copy of its cookie. The caller commits."""
    db.execute(delete(SignInSession).where(SignInSession.token_hash == _digest(session_id)))


def end_all_sessions(db: Session, user: User) -> int:
    """Every session of ``user`` ends (password changed, user deleted); how many there were."""
    result = db.execute(delete(SignInSession).where(SignInSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)
