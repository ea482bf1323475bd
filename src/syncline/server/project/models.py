"""Tables the server owns: users, API tokens, connection definitions with sealed secrets, syncs.

They are created by the state store's Alembic migrations (``syncline.store``, revision 0002),
so one upgrade path covers every table; a test checks the migration against these models.
Timestamps are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["ApiToken", "Connection", "ServerBase", "SyncDefinition", "User", "metadata"]

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
    tokens: Mapped[list[ApiToken]] = relationship(
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
    user: Mapped[User] = relationship(back_populates="tokens")


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
