"""FastAPI dependencies: a store session per request, token auth for the API, the signed-in
user and CSRF checks for the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from syncline.server.auth.security import CSRF_FIELD, check_csrf, token_for, token_role
from syncline.server.auth.sessions import session_user
from syncline.server.errors import ForbiddenError, UnauthorizedError
from syncline.server.project.models import ROLES, User
from syncline.server.settings import ServerSettings

__all__ = [
    "SESSION_KEY",
    "AdminUser",
    "CurrentUser",
    "DbSession",
    "EditorUser",
    "RoleCheck",
    "allows",
    "db_session",
    "require_token",
    "signed_in_user",
    "verify_csrf",
]

SESSION_KEY = "sid"
"""The cookie's key holding the sign-in session's id (``syncline.server.auth.sessions``)."""
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
    row = token_for(session, token.strip())
    if row is None:
        raise UnauthorizedError(
            "the API token is not valid or was revoked; create a new one on the dashboard"
        )
    session.commit()  # keeps last_used_at
    request.state.role = token_role(row)
    request.state.actor = f"token {row.name} (user {row.user.username})"
    return row.user


CurrentUser = Annotated[User, Depends(require_token)]


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (viewer < editor < admin)."""
    return ROLES.index(role) >= ROLES.index(needed)


class RoleCheck:
    """The dependency that lets an API caller through only with role ``needed`` or more
    (a class, not a closure, so ``/openapi.json`` can tell which routes may answer 403)."""

    def __init__(self, needed: str) -> None:
        self.needed = needed

    def __call__(self, request: Request, user: CurrentUser) -> User:
        needed = self.needed
        role = getattr(request.state, "role", user.role)
        if not allows(role, needed):
            raise ForbiddenError(
                f"this needs the `{needed}` role; this token acts as `{role}` (an admin can "
                f"create a token with more: `syncline token create NAME --role {needed}`)")
        return user


EditorUser = Annotated[User, Depends(RoleCheck("editor"))]
"""An API caller allowed to change syncs and models and to run them."""
AdminUser = Annotated[User, Depends(RoleCheck("admin"))]
"""An API caller allowed to manage connections (and their secrets), users and tokens."""


def signed_in_user(request: Request, session: Session) -> User | None:
    """The dashboard user of this sign-in session, while the server still holds it."""
    session_id = request.session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        return None
    settings = settings_of(request)
    user = session_user(session, session_id, idle_s=settings.session_idle_s,
                        max_age_s=settings.session_max_age_s)
    if user is None:
        request.session.clear()
        return None
    request.state.role = user.role
    request.state.actor = f"user {user.username}"
    return user


async def verify_csrf(request: Request) -> None:
    """Every dashboard form POST carries the session's CSRF token (403 otherwise)."""
    if request.method in _UNSAFE_METHODS:
        form = await request.form()
        submitted = form.get(CSRF_FIELD)
        check_csrf(request.session, submitted if isinstance(submitted, str) else None)
