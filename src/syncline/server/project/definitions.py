"""The project as the server keeps it: connections and syncs in the store, one pydantic model.

The dashboard and the API edit definitions in the store's tables; runs need a ``Project`` (the
same pydantic model ``syncline.yml`` loads into), so ``stored_project`` builds one and the CLI's
``Runner`` runs it unchanged. ``apply_project`` (yml → store) and ``export_project`` (store →
yml, secrets as ``${ENV}`` references) move definitions between the two homes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncline.config.models import (
    DestinationConfig,
    Project,
    SourceConfig,
    SyncConfig,
)
from syncline.errors import ConfigError
from syncline.server.errors import FieldError, InvalidInputError
from syncline.server.project.connections import (
    ConnectionKind,
    get_connection,
    references_of,
    save_connection,
    secrets_of,
    settings_of,
)
from syncline.server.project.models import Connection, SyncDefinition
from syncline.server.project.references import resolve_references
from syncline.server.project.secrets import SecretBox

__all__ = [
    "apply_project",
    "connection_config",
    "export_project",
    "field_errors",
    "get_sync",
    "list_syncs",
    "raw_connection_config",
    "save_sync",
    "split_config",
    "stored_project",
    "sync_config",
    "validate_connection",
]

_SOURCE: TypeAdapter[Any] = TypeAdapter(SourceConfig)
_DESTINATION: TypeAdapter[Any] = TypeAdapter(DestinationConfig)


def field_errors(exc: ValidationError, prefix: str = "body") -> list[FieldError]:
    """Pydantic's errors as the API's ``{field, reason}`` list."""
    return [
        FieldError(
            field=".".join([prefix, *(str(part) for part in err["loc"])]),
            reason=str(err["msg"]).removeprefix("Value error, "),
        )
        for err in exc.errors()
    ]


def validate_connection(
    kind: ConnectionKind, data: dict[str, Any], prefix: str = "body.config"
) -> BaseModel:
    """The connection's config model (``DuckDBSourceConfig``, ``CleverTapDestinationConfig``).

    Raises:
        InvalidInputError: a field is missing, unknown or invalid (422 with field and reason).
    """
    adapter = _SOURCE if kind == "source" else _DESTINATION
    try:
        model: BaseModel = adapter.validate_python(data)
    except ValidationError as exc:
        raise InvalidInputError(field_errors(exc, prefix)) from None
    return model


def split_config(model: BaseModel) -> tuple[str, dict[str, Any], dict[str, str]]:
    """``(type, settings, secrets)``: secret fields are those the model types ``SecretStr``."""
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    plain = model.model_dump(mode="json", by_alias=True)  # nested models (a files source's tables)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name == "type":
            continue
        if isinstance(value, SecretStr):
            secrets[name] = value.get_secret_value()
        elif value is not None:  # nested models (a source's `dbt:`) as JSON-ready dicts
            settings[name] = model.model_dump(mode="json", include={name},
                                              exclude_none=True)[name]
    # a plugin's own keys (config/plugins.py): we cannot tell its secrets from its settings, so
    # every text value is sealed like a secret (never shown, exported as ${ENV}); others are kept
    for name, value in (model.model_extra or {}).items():
        if isinstance(value, str):
            secrets[name] = value
        elif value is not None:
            settings[name] = plain.get(name, value)
    return str(model.model_dump()["type"]), settings, secrets


def connection_config(box: SecretBox, row: Connection) -> dict[str, Any]:
    """A saved connection as the config dict to connect with: secrets in clear, and each
    ``${VAR}`` reference read from the environment now.

    Raises:
        ConfigError: a referenced variable is not set.
    """
    resolved = resolve_references(f"{row.kind} `{row.name}`", references_of(row))
    return {**raw_connection_config(box, row), **resolved}


def raw_connection_config(box: SecretBox, row: Connection) -> dict[str, Any]:
    """A saved connection as ``syncline.yml`` would hold it: references as ``${VAR}`` text."""
    return {"type": row.type, **settings_of(row), **secrets_of(box, row), **references_of(row)}


def sync_config(row: SyncDefinition) -> SyncConfig:
    """A saved sync as its pydantic model."""
    return SyncConfig.model_validate(json.loads(row.body))


def get_sync(session: Session, name: str) -> SyncDefinition | None:
    """The saved sync called ``name``, if any."""
    return session.scalar(select(SyncDefinition).where(SyncDefinition.name == name))


def list_syncs(session: Session) -> list[SyncDefinition]:
    """Every saved sync, by name."""
    return list(session.scalars(select(SyncDefinition).order_by(SyncDefinition.name)))


def save_sync(session: Session, name: str, sync: SyncConfig) -> SyncDefinition:
    """Create or replace the sync ``name`` (its paused flag is kept); the caller commits.

    Raises:
        InvalidInputError: the source or destination it names is not saved.
    """
    problems: list[FieldError] = []
    for kind in ("source", "destination"):
        ref = getattr(sync, kind)
        if get_connection(session, kind, ref) is None:
            problems.append(FieldError(
                field=f"body.config.{kind}",
                reason=f"no {kind} `{ref}`; create it first (Connections page, or "
                       f"POST /api/connections)",
            ))
    if problems:
        raise InvalidInputError(problems)
    body = json.dumps(sync.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    row = get_sync(session, name)
    if row is None:
        row = SyncDefinition(name=name, body=body)
        session.add(row)
    row.body = body
    session.flush()
    return row


def stored_project(session: Session, box: SecretBox) -> Project:
    """The saved definitions as one ``Project``, ready for the ``Runner``.

    Raises:
        ConfigError: the saved definitions do not form a valid project (e.g. an edited
            connection no longer validates); the message names the part.
    """
    data: dict[str, Any] = {"sources": {}, "destinations": {}, "syncs": {}}
    for row in session.scalars(select(Connection).order_by(Connection.name)):
        data[f"{row.kind}s"][row.name] = connection_config(box, row)
    for sync in list_syncs(session):
        data["syncs"][sync.name] = json.loads(sync.body)
    try:
        return Project.model_validate(data)
    except ValidationError as exc:
        lines = "; ".join(f"{e['field']}: {e['reason']}" for e in field_errors(exc, "project"))
        raise ConfigError(f"the saved definitions are not a valid project: {lines}") from None


def apply_project(
    session: Session, box: SecretBox, project: Project,
    references: dict[tuple[str, str], dict[str, str]] | None = None,
) -> dict[str, int]:
    """Save every definition of ``project`` (yml → store), replacing same-named ones.

    Definitions only in the store are kept: apply adds and updates, it never deletes.
    ``references`` maps ``(kind, name)`` to the fields written as ``${VAR}`` in the file
    (``references.references_in``): those are saved as references, not as today's values.
    Returns how many sources, destinations and syncs were saved. The caller commits.
    """
    for kind, configs in (("source", project.sources), ("destination", project.destinations)):
        for name, config in configs.items():
            type_, settings, secrets = split_config(config)
            refs = (references or {}).get((kind, name), {})
            save_connection(session, box, kind=kind, name=name, type=type_,  # type: ignore[arg-type]
                            settings=settings, secrets=secrets, references=refs)
    for name, sync in project.syncs.items():
        save_sync(session, name, sync)
    return {
        "sources": len(project.sources),
        "destinations": len(project.destinations),
        "syncs": len(project.syncs),
    }


def env_name(kind: str, name: str, field: str) -> str:
    """The environment variable ``export`` names for a secret, e.g. ``SYNCLINE_CT_PASSCODE``."""
    raw = f"SYNCLINE_{name}_{field}".upper()
    return re.sub(r"[^A-Z0-9_]", "_", raw)


def export_project(session: Session, box: SecretBox) -> tuple[dict[str, Any], dict[str, str]]:
    """The saved definitions as ``syncline.yml`` data, and the secrets it references by name.

    Secrets never go into the file: each becomes ``${SYNCLINE_<NAME>_<FIELD>}``; the second
    value maps those variable names to the secrets, for the caller to hand over as it sees fit.
    A field saved as a reference (by ``apply``) is written back as the same ``${VAR}``.
    """
    data: dict[str, Any] = {"version": 1, "sources": {}, "destinations": {}, "syncs": {}}
    env: dict[str, str] = {}
    for row in session.scalars(select(Connection).order_by(Connection.kind, Connection.name)):
        entry: dict[str, Any] = {"type": row.type, **settings_of(row)}
        for field, value in sorted(secrets_of(box, row).items()):
            var = env_name(row.kind, row.name, field)
            entry[field] = f"${{{var}}}"
            env[var] = value
        entry.update(references_of(row))
        data[f"{row.kind}s"][row.name] = entry
    for sync in list_syncs(session):
        data["syncs"][sync.name] = json.loads(sync.body)
    for key in ("sources", "destinations", "syncs"):
        if not data[key]:
            del data[key]
    return data, env


def check_name(name: str, field: str = "body.name") -> None:
    """Names are used in URLs, table names and file names: keep them plain.

    Raises:
        InvalidInputError: the name has other characters than letters, digits, ``_``, ``-``.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,99}", name):
        raise InvalidInputError([FieldError(
            field=field,
            reason=f"`{name}` is not a valid name: start with a letter, then letters, digits, "
                   f"`_` or `-` (at most 100)",
        )])
