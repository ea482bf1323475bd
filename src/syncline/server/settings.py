"""What ``create_app`` needs: the secret key, a way to open store sessions, where to listen."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from syncline.server.project.secrets import secret_key_from_env
from syncline.sources.paths import SourcePaths

__all__ = ["ServerSettings", "source_fence"]

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
    """A sign-in ends after this long, however active (the cookie's lifetime too)."""
    forwarded_allow_ips: str | None = None
    """Proxies whose ``X-Forwarded-For`` gives the client's address (e.g. ``127.0.0.1``);
    None: the connection's own address (behind a proxy, every client shares the proxy's)."""
    session_idle_s: int = 12 * 3600
    """A sign-in unused for this long ends (checked on the server, not by the cookie)."""
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


def source_fence(root: Path, environ: Mapping[str, str] | None = None) -> SourcePaths:
    """Where sources defined on the server may read files (``syncline.sources.paths``).

    The project folder, plus the folders in ``SYNCLINE_SOURCE_DIRS`` (``os.pathsep``-separated);
    never ``.syncline/`` nor the state store's file (``SYNCLINE_STATE_URL`` may put it elsewhere).
    """
    from sqlalchemy.engine import make_url

    from syncline.config.load import state_url

    env = os.environ if environ is None else environ
    allowed = [Path(p) for p in env.get("SYNCLINE_SOURCE_DIRS", "").split(os.pathsep) if p]
    private = [root / ".syncline"]
    url = make_url(state_url(root, env))
    if url.drivername.startswith("sqlite") and url.database:
        state = Path(url.database)
        private += [state, *(state.with_name(state.name + s) for s in ("-wal", "-shm", "-journal"))]
    return SourcePaths(root, tuple(allowed), tuple(private))
