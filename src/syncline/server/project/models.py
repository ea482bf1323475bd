"""Tables the server owns: users, API tokens, connection definitions with sealed secrets, syncs.

They are created by the state store's Alembic migrations (``syncline.store``, revisions 0002
and 0006: sessions, roles, audit log),
so one upgrade path covers every table; a test checks the migration against these models.
Timestamps are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ROLES",
    "ApiToken",
    "AuditEntry",
    "Connection",
    "ServerBase",
    "SignInSession",
    "SyncDefinition",
    "User",
    "metadata",
]

ROLES = ("viewer", "editor", "admin")
"""Roles, each allowed what the one before is and more (``syncline.server.auth.roles``)."""

metadata = MetaData()


def utcnow() -> datetime:
    """Now, aware, UTC (the only clock the tables use)."""
    return datetime.now(UTC)


class _UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and gives aware datetimes back (SQLite forgets the zone otherwise)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class ServerBase(DeclarativeBase):
    """Declarative base bound to the server's own ``metadata``."""

    metadata = metadata


class User(ServerBase):
    """Someone who can sign in to the dashboard (created with ``syncline user add``)."""

    __tablename__ = "syncline_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    """``viewer``, ``editor`` or ``admin`` (see ``ROLES``)."""
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[SignInSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class ApiToken(ServerBase):
    """An API token: only its SHA-256 is kept; the token itself is shown once, at creation."""

    __tablename__ = "syncline_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("syncline_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """First characters of the token, so a person can tell tokens apart in lists."""
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(_UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(_UTCDateTime(), default=None)
    role: Mapped[str | None] = mapped_column(String(16), default=None)
    """The token's own role, never more than its user's; None acts with the user's role."""
    user: Mapped[User] = relationship(back_populates="tokens")


class SignInSession(ServerBase):
    """A dashboard sign-in: the cookie holds a random id, the table its SHA-256.

    Deleting the row ends the session whatever cookie a browser (or a thief) still holds:
    sign-out deletes it, a password change or a deleted user deletes all of the user's.
    """

    __tablename__ = "syncline_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("syncline_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    user: Mapped[User] = relationship(back_populates="sessions")


class AuditEntry(ServerBase):
    """Who created, changed, ran or deleted what, and when (never a secret)."""

    __tablename__ = "syncline_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    """``user grace``, or ``token airflow (user grace)``, or ``cli``."""
    action: Mapped[str] = mapped_column(String(32))
    """``created``, ``changed``, ``deleted``, ``ran``, ``signed_in``..."""
    target: Mapped[str] = mapped_column(String(200))
    """What was acted on: ``sync users``, ``source wh``, ``user ada``, ``token airflow``."""
    detail: Mapped[str | None] = mapped_column(Text, default=None)


class Connection(ServerBase):
    """A source or destination defined from the dashboard or API.

    ``settings`` holds the non-secret fields as JSON; ``sealed_secrets`` the secret ones as one
    JSON object encrypted with ``syncline.server.project.secrets.SecretBox``.
    """

    __tablename__ = "syncline_connections"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``source`` or ``destination``."""
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    """Plugin type, e.g. ``duckdb`` or ``clevertap``."""
    settings: Mapped[str] = mapped_column(Text, default="{}")
    sealed_secrets: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow, onupdate=utcnow)


class SyncDefinition(ServerBase):
    """A sync defined from the dashboard or API (or by ``syncline apply``).

    ``body`` is the sync as ``syncline.yml`` writes it (a ``SyncConfig`` in JSON), so the
    server's runs go through the same pydantic model and the same ``Runner`` as the CLI's.
    """

    __tablename__ = "syncline_syncs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    """A paused sync is not started by its schedule (a manual run still works)."""
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(_UTCDateTime(), default=utcnow, onupdate=utcnow)
