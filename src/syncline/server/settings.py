"""What ``create_app`` needs: the secret key, a way to open store sessions, where to listen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from syncline.server.project.secrets import secret_key_from_env

__all__ = ["ServerSettings"]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one server process.

    ``host`` is loopback by default: exposing the dashboard is a decision (``--host 0.0.0.0``
    behind a TLS proxy, with ``https_only=True`` so the session cookie is never sent in clear).
    """

    secret_key: str
    """Seals stored secrets and signs session cookies (``SYNCLINE_SECRET_KEY``)."""
    session_factory: Callable[[], Session]
    """Opens a state-store session, e.g. a ``sqlalchemy.orm.sessionmaker``."""
    host: str = LOOPBACK
    port: int = 8787
    https_only: bool = False
    """Mark the session cookie ``Secure`` (set it when served over HTTPS)."""
    session_max_age_s: int = 14 * 24 * 3600
    title: str = "Syncline"

    @classmethod
    def from_env(
        cls,
        session_factory: Callable[[], Session],
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> ServerSettings:
        """Settings with the key from ``SYNCLINE_SECRET_KEY`` (ConfigError if missing)."""
        settings = cls(secret_key=secret_key_from_env(environ), session_factory=session_factory)
        return replace(settings, **overrides)
