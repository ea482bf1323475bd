"""The REST API under ``/api``: health (open, for load balancers) and token-authenticated routes.

Answers are JSON objects with ``"ok": true``; errors use ``syncline.server.errors.error_body``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi import Path as FastApiPath
from pydantic import BaseModel, ConfigDict, Field

from syncline import __version__
from syncline.server.api.models import (
    AuditAnswer,
    Done,
    HealthAnswer,
    MeAnswer,
    NewTokenAnswer,
    TokensAnswer,
    error_responses,
)
from syncline.server.auth.deps import AdminUser, CurrentUser, DbSession, allows
from syncline.server.auth.security import create_token, revoke_token, token_role
from syncline.server.errors import ForbiddenError, NotFoundError
from syncline.server.project.audit import entries
from syncline.server.project.models import ApiToken

__all__ = ["router"]

router = APIRouter(prefix="/api")


class TokenCreate(BaseModel):
    """Body of ``POST /api/tokens``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    """What the token is for, e.g. ``airflow``."""
    role: Literal["viewer", "editor", "admin"] | None = None
    """What it may do; never more than the caller (None: as much as the caller)."""


def token_view(row: ApiToken) -> dict[str, Any]:
    """A token as the API shows it: never the token itself, only its first characters."""
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": _iso(row.created_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked": row.revoked_at is not None,
        "role": token_role(row),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@router.get("/health", response_model=HealthAnswer)
def health() -> dict[str, Any]:
    """Liveness, without authentication."""
    return {"ok": True, "status": "ok", "version": __version__}


@router.get("/me", response_model=MeAnswer)
def me(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Who the token belongs to, and the role it acts with."""
    return {"ok": True, "user": {"id": user.id, "username": user.username,
                                 "role": request.state.role}}


@router.get("/tokens", response_model=TokensAnswer)
def list_tokens(user: CurrentUser) -> dict[str, Any]:
    """The caller's tokens (their secrets are never shown again)."""
    return {"ok": True, "tokens": [token_view(row) for row in user.tokens]}


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=NewTokenAnswer,
             responses=error_responses(403))
def add_token(
    request: Request, body: TokenCreate, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """A new token for the caller; ``token`` in this answer is the only time it is shown."""
    caller: str = request.state.role
    role = body.role or caller
    if not allows(caller, role):
        raise ForbiddenError(f"this token acts as `{caller}`; it cannot make a `{role}` token")
    row, token = create_token(session, user, body.name, role)
    session.commit()
    return {"ok": True, "token": token, "details": token_view(row)}


@router.get("/audit", response_model=AuditAnswer)
def audit_log(
    user: AdminUser, session: DbSession, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    """Who created, changed, ran or deleted what, newest first (admins only)."""
    return {"ok": True, "entries": entries(session, limit)}


@router.delete("/tokens/{token_id}", response_model=Done, responses=error_responses(404))
def delete_token(
    token_id: Annotated[int, FastApiPath(ge=1, le=2**63 - 1)], user: CurrentUser,
    session: DbSession,
) -> dict[str, Any]:
    """Revoke one of the caller's tokens."""
    if not revoke_token(session, user, token_id):
        raise NotFoundError(f"you have no API token with id {token_id}; GET /api/tokens lists them")
    session.commit()
    return {"ok": True}
