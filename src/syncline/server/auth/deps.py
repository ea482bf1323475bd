"""FastAPI dependencies: a store session per request, token auth for the API, the signed-in
user and CSRF checks for the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from syncline.server.auth.security import CSRF_FIELD, check_csrf, user_for_token
from syncline.server.errors import UnauthorizedError
from syncline.server.project.models import User
from syncline.server.settings import ServerSettings

__all__ = [
    "SESSION_USER_KEY",
    "CurrentUser",
    "DbSession",
    "db_session",
    "require_token",
    "signed_in_user",
    "verify_csrf",
]

SESSION_USER_KEY = "user_id"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def settings_of(request: Request) -> ServerSettings:
    """The settings ``create_app`` was given."""
    settings: ServerSettings = request.app.state.settings
    return settings


def db_session(request: Request) -> Iterator[Session]:
    """One store session per request; endpoints that write commit themselves."""
    with settings_of(request).session_factory() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


def require_token(request: Request, session: DbSession) -> User:
    """The API caller, from ``Authorization: Bearer <token>``; 401 without a valid one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "this endpoint needs an API token: send `Authorization: Bearer <token>`; create a "
            "token on the dashboard's home page"
        )
    user = user_for_token(session, token.strip())
    if user is None:
        raise UnauthorizedError(
            "the API token is not valid or was revoked; create a new one on the dashboard"
        )
    session.commit()  # keeps last_used_at
    return user


CurrentUser = Annotated[User, Depends(require_token)]


def signed_in_user(request: Request, session: Session) -> User | None:
    """The dashboard user of this sign-in session, if any."""
    user_id = request.session.get(SESSION_USER_KEY)
    if not isinstance(user_id, int):
        return None
    return session.get(User, user_id)


async def verify_csrf(request: Request) -> None:
    """Every dashboard form POST carries the session's CSRF token (403 otherwise)."""
    if request.method in _UNSAFE_METHODS:
        form = await request.form()
        submitted = form.get(CSRF_FIELD)
        check_csrf(request.session, submitted if isinstance(submitted, str) else None)
