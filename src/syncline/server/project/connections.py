"""Source and destination definitions saved from the dashboard or API, secrets sealed.

A connection is split on the way in: plain settings (account id, region, path) are stored as
JSON, secret fields (passcode, password, key) are sealed together with ``SecretBox``. On the way
out, ``view`` gives what a page or API answer may show (secrets masked), and only ``secrets_of``,
called by the engine when it connects, opens the sealed part.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncline.errors import ConfigError
from syncline.server.project.models import Connection, utcnow
from syncline.server.project.secrets import SecretBox, mask

__all__ = ["ConnectionKind", "get_connection", "save_connection", "secrets_of", "view"]

ConnectionKind = Literal["source", "destination"]


def get_connection(session: Session, kind: ConnectionKind, name: str) -> Connection | None:
    """The saved connection of this kind and name, if any."""
    query = select(Connection).where(Connection.kind == kind, Connection.name == name)
    return session.scalar(query)


def save_connection(
    session: Session,
    box: SecretBox,
    *,
    kind: ConnectionKind,
    name: str,
    type: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> Connection:
    """Create or update a connection; the caller commits.

    A secret left out (or given as an empty string) keeps its saved value, so a form that never
    shows secrets back can be submitted without retyping them.

    Raises:
        ConfigError: a field is both a setting and a secret.
    """
    clash = sorted(set(settings) & set(secrets))
    if clash:
        raise ConfigError(
            f"{kind} `{name}`: {', '.join(clash)} given both as a setting and as a secret; "
            f"give each field once"
        )
    row = get_connection(session, kind, name)
    if row is None:
        row = Connection(kind=kind, name=name, type=type)
        session.add(row)
        kept: dict[str, str] = {}
    else:
        kept = _open(box, row)
    kept.update({key: value for key, value in secrets.items() if value})
    row.type = type
    row.settings = json.dumps(settings, sort_keys=True)
    row.sealed_secrets = box.seal(json.dumps(kept, sort_keys=True)) if kept else None
    row.updated_at = utcnow()
    session.flush()
    return row


def secrets_of(box: SecretBox, row: Connection) -> dict[str, str]:
    """The connection's secrets in clear, for connecting only (never for display or logs)."""
    return _open(box, row)


def view(box: SecretBox, row: Connection) -> dict[str, Any]:
    """What pages and API answers show: settings, and each secret masked."""
    return {
        "kind": row.kind,
        "name": row.name,
        "type": row.type,
        "settings": json.loads(row.settings),
        "secrets": {key: mask(value) for key, value in _open(box, row).items()},
        "updated_at": row.updated_at.isoformat(),
    }


def _open(box: SecretBox, row: Connection) -> dict[str, str]:
    if row.sealed_secrets is None:
        return {}
    opened: dict[str, str] = json.loads(
        box.open(row.sealed_secrets, what=f"the secrets of {row.kind} `{row.name}`")
    )
    return opened
