"""REST API for connections (sources and destinations) and for browsing a source.

Secrets are accepted on the way in and never sent back: answers show them masked. Every
body is validated by the same pydantic models as ``syncline.yml``; a bad field is a 422 naming
``body.config.<field>`` and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncline.errors import ConfigError
from syncline.server.api.models import (
    ColumnsAnswer,
    ConnectionAnswer,
    ConnectionsAnswer,
    ConnectionTestAnswer,
    Done,
    SchemasAnswer,
    TablesAnswer,
    error_responses,
)
from syncline.server.auth.deps import AdminUser, CurrentUser, DbSession, EditorUser
from syncline.server.checks import browse_columns, browse_schemas, browse_tables, test_connection
from syncline.server.errors import (
    BadRequestError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from syncline.server.project.connections import (
    get_connection,
    references_of,
    save_connection,
    secrets_of,
    view,
)
from syncline.server.project.definitions import (
    check_name,
    connection_config,
    list_syncs,
    raw_connection_config,
    split_config,
    sync_config,
    validate_connection,
)
from syncline.server.project.models import Connection
from syncline.server.project.references import REFERENCES_KEY, resolve_references
from syncline.server.project.secrets import SecretBox
from syncline.server.settings import source_fence

__all__ = ["remove_connection", "router", "syncs_using"]

router = APIRouter(prefix="/api", tags=["connections"])

Kind = Literal["source", "destination"]


class ConnectionIn(BaseModel):
    """Body of ``POST /api/connections``: a name, and the config as ``syncline.yml`` has it."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: str = Field(min_length=1, max_length=100)
    config: dict[str, Any]
    """E.g. ``{"type": "clevertap", "account_id": "...", "passcode": "...", "region": "eu1"}``."""


class ConnectionUpdate(BaseModel):
    """Body of ``PUT /api/connections/{kind}/{name}``: the config; omitted secrets are kept."""

    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]


def box_of(request: Request) -> SecretBox:
    """The app's secret box."""
    box: SecretBox = request.app.state.secret_box
    return box


def project_root(request: Request) -> Path:
    """The project folder relative paths are resolved against (the server's folder without
    a run manager)."""
    jobs = getattr(request.app.state, "jobs", None)
    root: Path = jobs.root if jobs is not None else Path.cwd()
    return root


def saved(session: Session, kind: Kind, name: str) -> Connection:
    """The saved connection, or a 404 that says how to list them."""
    row = get_connection(session, kind, name)
    if row is None:
        raise NotFoundError(f"no {kind} `{name}`; GET /api/connections lists them")
    return row


ROUTING = ("endpoint", "region", "account_id", "host", "port", "user", "base_url")
"""Settings that say where a connection's secrets are sent: change one, re-enter the secrets."""


def _secrets_stay_home(
    config: dict[str, Any], saved_config: dict[str, Any], saved_secrets: dict[str, str]
) -> None:
    """A saved secret never follows a changed destination (as GitHub and Census ask again).

    Otherwise whoever may edit a connection could point its endpoint or host at a server of
    theirs, press Test, and receive the saved passcode or password.
    """
    moved = [k for k in ROUTING if k in config and config[k] != saved_config.get(k)]
    kept = [k for k in saved_secrets if k not in config]
    if moved and kept:
        changed = ", ".join(f"`{k}`" for k in moved)
        raise InvalidInputError([
            {"field": f"body.config.{k}",
             "reason": f"enter `{k}` again: {changed} changed, and a saved secret is never sent "
                       "to a new destination"}
            for k in kept
        ])


def store_connection(
    session: Session, box: SecretBox, kind: Kind, name: str, config: dict[str, Any],
    root: Path | None = None,
) -> Connection:
    """Validate ``config`` (saved secrets filling omitted ones) and save it; the caller commits.

    With the project ``root``, a source's paths must be inside the fence
    (``syncline.server.settings.source_fence``): a 422 on save rather than a refusal at its
    first use.
    """
    if REFERENCES_KEY in config:  # a plugin's config keeps unknown keys: not this one
        raise InvalidInputError([{"field": f"body.config.{REFERENCES_KEY}",
                                  "reason": "a reserved key; references come from "
                                            "`syncline apply` only"}])
    existing = get_connection(session, kind, name)
    merged = dict(config)
    refs: dict[str, str] = {}
    if existing is not None and config.get("type", existing.type) == existing.type:
        saved_config = raw_connection_config(box, existing)
        for key, value in saved_config.items():
            merged.setdefault(key, value)
        _secrets_stay_home(config, saved_config, secrets_of(box, existing))
        # a reference left as it was stays one; a value typed over it replaces it
        refs = {k: t for k, t in references_of(existing).items() if merged.get(k) == t}
    try:
        resolved = resolve_references(f"{kind} `{name}`", refs)
    except ConfigError as exc:
        raise InvalidInputError([{"field": f"body.config.{k}", "reason": str(exc)}
                                 for k in refs]) from None
    model = validate_connection(kind, {**merged, **resolved})
    if kind == "source" and root is not None:
        try:
            source_fence(root).check(name, model)
        except ConfigError as exc:
            raise InvalidInputError([{"field": "body.config.path", "reason": str(exc)}]) from None
    type_, settings, secrets = split_config(model)
    return save_connection(session, box, kind=kind, name=name, type=type_,
                           settings=settings, secrets=secrets, references=refs)


@router.get("/connections", response_model=ConnectionsAnswer)
def list_connections(
    request: Request, user: CurrentUser, session: DbSession, kind: Kind | None = None
) -> dict[str, Any]:
    """Every saved source and destination (secrets masked)."""
    query = select(Connection).order_by(Connection.kind, Connection.name)
    if kind is not None:
        query = query.where(Connection.kind == kind)
    box = box_of(request)
    return {"ok": True, "connections": [view(box, row) for row in session.scalars(query)]}


@router.post("/connections", status_code=status.HTTP_201_CREATED,
             response_model=ConnectionAnswer, responses=error_responses(409))
def create_connection(
    request: Request, body: ConnectionIn, user: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Save a new source or destination (409 if the name is taken)."""
    check_name(body.name)
    if get_connection(session, body.kind, body.name) is not None:
        raise ConflictError(
            f"a {body.kind} `{body.name}` already exists; PUT /api/connections/{body.kind}/"
            f"{body.name} changes it"
        )
    row = store_connection(session, box_of(request), body.kind, body.name, body.config,
                           project_root(request))
    session.commit()
    return {"ok": True, "connection": view(box_of(request), row)}


@router.get("/connections/{kind}/{name}", response_model=ConnectionAnswer,
            responses=error_responses(404))
def get_one(
    request: Request, kind: Kind, name: str, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """One connection (secrets masked)."""
    return {"ok": True, "connection": view(box_of(request), saved(session, kind, name))}


@router.put("/connections/{kind}/{name}", response_model=ConnectionAnswer,
            responses=error_responses(404))
def update_connection(
    request: Request, kind: Kind, name: str, body: ConnectionUpdate, user: AdminUser,
    session: DbSession,
) -> dict[str, Any]:
    """Change a connection; secrets left out keep their saved values."""
    saved(session, kind, name)
    row = store_connection(session, box_of(request), kind, name, body.config,
                           project_root(request))
    session.commit()
    return {"ok": True, "connection": view(box_of(request), row)}


@router.delete("/connections/{kind}/{name}", response_model=Done,
               responses=error_responses(404, 409))
def delete_connection(
    kind: Kind, name: str, user: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Delete a connection no sync uses (409 names the syncs that do)."""
    remove_connection(session, kind, name)
    session.commit()
    return {"ok": True}


def syncs_using(session: Session, kind: Kind, name: str) -> list[str]:
    """The syncs that read from (source) or send to (destination) this connection."""
    return [s.name for s in list_syncs(session) if getattr(sync_config(s), kind) == name]


def remove_connection(session: Session, kind: Kind, name: str) -> None:
    """Delete a saved connection; the caller commits. The API and the dashboard both use it,
    so neither can leave a sync pointing at nothing.

    Raises:
        NotFoundError: no such connection.
        ConflictError: syncs use it (the message names them).
    """
    row = saved(session, kind, name)
    users = syncs_using(session, kind, name)
    if users:
        raise ConflictError(
            f"{kind} `{name}` is used by sync(s) {', '.join(users)}; delete or change them first"
        )
    session.delete(row)


@router.post("/connections/{kind}/{name}/test", response_model=ConnectionTestAnswer,
             responses=error_responses(404))
def test_saved(
    request: Request, kind: Kind, name: str, user: AdminUser, session: DbSession
) -> dict[str, Any]:
    """Test a saved connection: ``ok`` false with the reason when it does not work."""
    config = connection_config(box_of(request), saved(session, kind, name))
    return test_connection(kind, name, config, project_root(request))


@router.get("/sources/{name}/schemas", response_model=SchemasAnswer,
            responses=error_responses(400, 404))
def schemas(
    request: Request, name: str, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The schemas of a source."""
    config = connection_config(box_of(request), saved(session, "source", name))
    return {"ok": True, "schemas": browse_schemas(name, config, project_root(request))}


@router.get("/sources/{name}/schemas/{schema}/tables", response_model=TablesAnswer,
            responses=error_responses(400, 404))
def tables(
    request: Request, name: str, schema: str, user: CurrentUser, session: DbSession
) -> dict[str, Any]:
    """The tables of one schema of a source."""
    config = connection_config(box_of(request), saved(session, "source", name))
    return {"ok": True, "tables": browse_tables(name, config, project_root(request), schema)}


@router.get("/sources/{name}/columns", response_model=ColumnsAnswer,
            responses=error_responses(400, 404))
def columns(
    request: Request,
    name: str,
    user: CurrentUser,
    session: DbSession,
    table: Annotated[str | None, Query(description="schema.table")] = None,
    query: Annotated[
        str | None, Query(description="refused: send a query with POST", deprecated=True)
    ] = None,
) -> dict[str, Any]:
    """The columns (name, type) of a table of a source; a query is sent with POST.

    A GET never runs a model query: an address can be followed by anyone's browser or
    proxy logs, and SQL in it reads as if it were harmless.
    """
    if query is not None:
        raise BadRequestError(f"a query is not run from a GET; send it as JSON to "
                              f"POST /api/sources/{name}/columns: {{\"query\": \"SELECT …\"}}")
    config = connection_config(box_of(request), saved(session, "source", name))
    found = browse_columns(name, config, project_root(request), table=table, query=None)
    return {"ok": True, "columns": found}


class ColumnsBody(BaseModel):
    """A table or a query (one SELECT) whose columns to describe."""

    model_config = ConfigDict(extra="forbid")
    table: str | None = Field(default=None, description="schema.table")
    query: str | None = Field(default=None, description="one SELECT (or WITH … SELECT)")


@router.post("/sources/{name}/columns", response_model=ColumnsAnswer,
             responses=error_responses(400, 404))
def query_columns(
    request: Request, name: str, body: ColumnsBody, user: EditorUser, session: DbSession
) -> dict[str, Any]:
    """The columns (name, type) of a table or a query of a source (the query must be one
    read-only SELECT; it runs on a read-only connection)."""
    config = connection_config(box_of(request), saved(session, "source", name))
    found = browse_columns(name, config, project_root(request), table=body.table,
                           query=body.query)
    return {"ok": True, "columns": found}
