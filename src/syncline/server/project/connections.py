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
from syncline.server.project.references import REFERENCES_KEY
from syncline.server.project.secrets import SecretBox, mask

__all__ = [
    "ConnectionKind",
    "get_connection",
    "references_of",
    "save_connection",
    "secrets_of",
    "settings_of",
    "view",
]

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
    references: dict[str, str] | None = None,
) -> Connection:
    """Create or update a connection; the caller commits.

    A secret left out (or given as an empty string) keeps its saved value, so a form that never
    shows secrets back can be submitted without retyping them. ``references`` (``{field:
    "${VAR}"}``, see ``references.py``) replace the saved ones; their fields are stored as the
    reference only, never as the value they had when saved.

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
    refs = dict(references or {})
    kept = {key: value for key, value in kept.items() if key not in refs}
    stored = {key: value for key, value in settings.items() if key not in refs}
    if refs:
        stored[REFERENCES_KEY] = refs
    row.type = type
    row.settings = json.dumps(stored, sort_keys=True)
    row.sealed_secrets = box.seal(json.dumps(kept, sort_keys=True)) if kept else None
    row.updated_at = utcnow()
    session.flush()
    return row


def secrets_of(box: SecretBox, row: Connection) -> dict[str, str]:
    """The connection's secrets in clear, for connecting only (never for display or logs)."""
    return _open(box, row)


def settings_of(row: Connection) -> dict[str, Any]:
    """The connection's plain settings (its references apart)."""
    settings: dict[str, Any] = json.loads(row.settings)
    settings.pop(REFERENCES_KEY, None)
    return settings


def references_of(row: Connection) -> dict[str, str]:
    """The fields kept as ``${VAR}`` references: ``{field: "${VAR}"}``."""
    refs: dict[str, str] = json.loads(row.settings).get(REFERENCES_KEY, {})
    return refs


def view(box: SecretBox, row: Connection) -> dict[str, Any]:
    """What pages and API answers show: settings, each secret masked, and the references
    (names of variables, not their values)."""
    return {
        "kind": row.kind,
        "name": row.name,
        "type": row.type,
        "settings": settings_of(row),
        "secrets": {key: mask(value) for key, value in _open(box, row).items()},
        "references": references_of(row),
        "updated_at": row.updated_at.isoformat(),
    }


def _open(box: SecretBox, row: Connection) -> dict[str, str]:
    if row.sealed_secrets is None:
        return {}
    opened: dict[str, str] = json.loads(
        box.open(row.sealed_secrets, what=f"the secrets of {row.kind} `{row.name}`")
    )
    return opened
