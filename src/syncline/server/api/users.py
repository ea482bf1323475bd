"""REST API for users (admins only): list, add, change role or password, remove.

The same functions as ``syncline user …``: a password change or a removal ends the user's
sessions, and a removal revokes their API tokens with them. Passwords are never sent back.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from syncline.errors import ConfigError
from syncline.server.api.models import Done, UserAnswer, UsersAnswer, error_responses
from syncline.server.auth.deps import AdminUser, DbSession
from syncline.server.auth.security import create_user, delete_user, get_user, set_password
from syncline.server.errors import ConflictError, InvalidInputError, NotFoundError
from syncline.server.project.models import User

__all__ = ["router"]

router = APIRouter(prefix="/api")

Role = Literal["viewer", "editor", "admin"]


class UserIn(BaseModel):
    """Body of ``POST /api/users``."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)
    role: Role = "viewer"


class UserUpdate(BaseModel):
    """Body of ``PUT /api/users/{username}``: a new role, a new password, or both."""

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1000)


def _view(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role,
            "created_at": user.created_at.isoformat()}


def _found(session: DbSession, username: str) -> User:
    try:
        return get_user(session, username)
    except ConfigError as exc:
        raise NotFoundError(str(exc)) from None


@router.get("/users", response_model=UsersAnswer)
def list_users(user: AdminUser, session: DbSession) -> dict[str, Any]:
    """Every user and their role."""
    return {"ok": True, "users": [_view(u) for u in session.scalars(
        select(User).order_by(User.username))]}


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserAnswer,
             responses=error_responses(409))
def add_user(body: UserIn, user: AdminUser, session: DbSession) -> dict[str, Any]:
    """Add a user (default role: viewer, the least)."""
    if session.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise ConflictError(f"user `{body.username}` already exists")
    try:
        added = create_user(session, body.username, body.password, body.role)
    except ConfigError as exc:
        raise InvalidInputError([{"field": "body", "reason": str(exc)}]) from None
    session.commit()
    return {"ok": True, "user": _view(added)}


@router.put("/users/{username}", response_model=UserAnswer, responses=error_responses(404))
def change_user(
    username: str, body: UserUpdate, user: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Change a user's role and/or password (a new password ends their sessions)."""
    changed = _found(session, username)
    if body.role is not None:
        changed.role = body.role
    if body.password is not None:
        try:
            set_password(session, username, body.password)
        except ConfigError as exc:
            raise InvalidInputError([{"field": "body.password", "reason": str(exc)}]) from None
    session.commit()
    return {"ok": True, "user": _view(changed)}


@router.delete("/users/{username}", response_model=Done, responses=error_responses(404))
def remove_user(username: str, user: AdminUser, session: DbSession) -> dict[str, Any]:
    """Remove a user: their sessions and API tokens end with them."""
    _found(session, username)
    delete_user(session, username)
    session.commit()
    return {"ok": True}
