"""Dashboard pages for connections: the list, "+ New Destination" (CleverTap: account id,
passcode, region) and "+ New Source" (every source type, ``source_forms.py``), each saved,
tested on the spot, then finished;
and deleting one, after a confirmation page, refused while syncs use it (the API's rule,
``remove_connection``).

Saving comes before testing, as in Census: the test then runs on exactly what was saved, and
the passcode never has to be put back into the page to be tested again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from syncline.config.models import CLEVERTAP_REGIONS
from syncline.errors import ConfigError
from syncline.server.api.connections import (
    project_root,
    remove_connection,
    saved,
    store_connection,
    syncs_using,
)
from syncline.server.auth.deps import DbSession
from syncline.server.checks import test_connection
from syncline.server.errors import ConflictError, InvalidInputError, NotFoundError
from syncline.server.pages.dashboard import box, new_router, page, require_user
from syncline.server.pages.source_forms import (
    SourceForm,
    config_from_form,
    form_for,
    location,
    offered,
    values_of,
)
from syncline.server.project.connections import (
    ConnectionKind,
    get_connection,
    settings_of,
    view,
)
from syncline.server.project.definitions import check_name, connection_config
from syncline.server.project.models import Connection

__all__ = ["router"]

router = new_router()

_FIELDS: dict[str, list[str]] = {
    "destination": ["account_id", "passcode", "region", "endpoint"],
}


def _kind(kind: str) -> ConnectionKind:
    if kind not in ("source", "destination"):
        raise NotFoundError(f"no connection kind `{kind}`: use source or destination")
    return kind  # type: ignore[return-value]


def _config_of(kind: ConnectionKind, form: dict[str, str],
               saved: dict[str, Any] | None) -> dict[str, Any]:
    """A connection config from form fields (empty secrets left out, so saved ones stay)."""
    if kind == "destination":
        config: dict[str, Any] = {"type": "clevertap"}
        for name in _FIELDS["destination"]:
            if form.get(name, "").strip():
                config[name] = form[name].strip()
        return config
    return config_from_form(_source_form(form.get("type", "")), form, saved)


def _source_form(type_: str) -> SourceForm:
    found = form_for(type_)
    if found is None:
        raise NotFoundError(f"no dashboard form for source type `{type_}`; define it in "
                            "syncline.yml and run `syncline apply`")
    return found


def _form_context(kind: ConnectionKind, type_: str | None) -> dict[str, Any]:
    """What connection_form.html needs besides values: the source form, or the regions."""
    if kind == "destination":
        return {"kind": kind, "regions": CLEVERTAP_REGIONS}
    return {"kind": kind, "form": _source_form(type_ or "duckdb"), "offered": offered(),
            "references": {}}


@router.get("/connections")
def connections(request: Request, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    rows = session.scalars(select(Connection).order_by(Connection.kind, Connection.name))
    views = [view(box(request), row) for row in rows]
    for shown in views:
        found = form_for(shown["type"])
        shown["label"] = found.label if found is not None else shown["type"]
        shown["where"] = location(shown["type"], shown["settings"], shown["references"],
                                  shown["secrets"])
    return page(request, user, "connections.html", section="connections",
                notice=request.session.pop("notice", None),
                sources=[v for v in views if v["kind"] == "source"],
                destinations=[v for v in views if v["kind"] == "destination"])


@router.get("/connections/new/{kind}")
def new_connection(
    request: Request, kind: str, session: DbSession, type: str | None = None
) -> Response:
    """A new destination, or a new source of ``type`` (DuckDB until another is picked)."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    return page(request, user, "connection_form.html", section="connections",
                values={"region": "eu1"}, editing=False, **_form_context(_kind(kind), type))


@router.get("/connections/{kind}/{name}")
def edit_connection(request: Request, kind: str, name: str, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    row = get_connection(session, _kind(kind), name)
    if row is None:
        raise NotFoundError(f"no {kind} `{name}`; the Connections page lists them")
    return page(request, user, "connection_form.html", section="connections", editing=True,
                **_saved_context(request, row))


def _saved_context(request: Request, row: Connection) -> dict[str, Any]:
    """The form of a saved connection, of its own type, with its values and masked secrets."""
    shown = view(box(request), row)
    if row.kind == "source" and form_for(row.type) is None:  # a plugin's: no form to edit it
        return {"kind": "source", "form": None, "values": {"name": row.name, "type": row.type},
                "plugin_settings": shown["settings"], "saved_secrets": shown["secrets"],
                "references": shown["references"]}
    context = _form_context(row.kind, row.type)  # type: ignore[arg-type]
    if row.kind == "source":
        values = values_of(context["form"], shown["settings"], shown["references"])
    else:
        values = dict(shown["settings"])
    return {**context, "values": {"name": row.name, "type": row.type, **values},
            "saved_secrets": shown["secrets"], "references": shown["references"]}


@router.post("/connections/save/{kind}")
async def save(
    request: Request, kind: str, session: DbSession, name: Annotated[str, Form()],
    editing: Annotated[bool, Form()] = False,
) -> Response:
    """Save, then test: the page shows the outcome and a Finish button."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    ck = _kind(kind)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    context: dict[str, Any] = {"section": "connections", "editing": editing,
                               **_form_context(ck, form.get("type"))}
    secret_fields = context["form"].secrets if ck == "source" else ("passcode",)
    values = {k: v for k, v in form.items() if k not in (*secret_fields, "csrf_token")}
    existing = get_connection(session, ck, name.strip())
    try:
        check_name(name.strip(), field="name")
        if not editing and existing is not None:
            raise InvalidInputError([{"field": "name", "reason": f"a {ck} `{name}` exists; "
                                      "pick another name or edit it from the list"}])
        saved_settings = settings_of(existing) if existing is not None else None
        row = store_connection(session, box(request), ck, name.strip(),
                               _config_of(ck, form, saved_settings), project_root(request))
        session.commit()
    except InvalidInputError as exc:
        session.rollback()
        saved_secrets = view(box(request), existing)["secrets"] if existing else {}
        return page(request, user, "connection_form.html", status_code=422, errors=exc.errors,
                    values=values, saved_secrets=saved_secrets, **context)
    try:
        result = test_connection(ck, row.name, connection_config(box(request), row),
                                 project_root(request))
    except ConfigError as exc:  # a `${VAR}` reference whose variable is not set
        result = {"ok": False, "error": str(exc)}
    return page(request, user, "connection_form.html", test=result,
                **{**context, "editing": True, **_saved_context(request, row)})


@router.get("/connections/{kind}/{name}/delete")
def confirm_delete(request: Request, kind: str, name: str, session: DbSession) -> Response:
    """The confirmation step: what would be deleted, or which syncs stop it."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    ck = _kind(kind)
    row = saved(session, ck, name)
    return page(request, user, "connection_delete.html", section="connections",
                connection=view(box(request), row), used_by=syncs_using(session, ck, name))


@router.post("/connections/{kind}/{name}/delete")
def delete(request: Request, kind: str, name: str, session: DbSession) -> Response:
    """Delete, as ``DELETE /api/connections/{kind}/{name}`` does; back to the list."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    ck = _kind(kind)
    try:
        remove_connection(session, ck, name)
    except ConflictError as exc:
        row = saved(session, ck, name)
        return page(request, user, "connection_delete.html", status_code=409,
                    section="connections", connection=view(box(request), row),
                    used_by=syncs_using(session, ck, name), error=str(exc))
    session.commit()
    request.session["notice"] = f"Deleted {ck} `{name}`."
    return RedirectResponse("/connections", status_code=303)
