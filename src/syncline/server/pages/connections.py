"""Dashboard pages for connections: the list, "+ New Destination" (CleverTap: account id,
passcode, region) and "+ New Source" (DuckDB), each saved, tested on the spot, then finished;
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
from syncline.server.project.connections import ConnectionKind, get_connection, view
from syncline.server.project.definitions import check_name, connection_config
from syncline.server.project.models import Connection

__all__ = ["router"]

router = new_router()

_FIELDS: dict[str, list[str]] = {
    "destination": ["account_id", "passcode", "region", "endpoint"],
    "source": ["path", "read_only"],
}


def _kind(kind: str) -> ConnectionKind:
    if kind not in ("source", "destination"):
        raise NotFoundError(f"no connection kind `{kind}`: use source or destination")
    return kind  # type: ignore[return-value]


def _config_of(kind: ConnectionKind, form: dict[str, str]) -> dict[str, Any]:
    """A connection config from form fields (empty ones left out, so saved secrets stay)."""
    if kind == "destination":
        config: dict[str, Any] = {"type": "clevertap"}
        for name in _FIELDS["destination"]:
            if form.get(name, "").strip():
                config[name] = form[name].strip()
        return config
    return {"type": "duckdb", "path": form.get("path", "").strip(),
            "read_only": form.get("read_only") == "on"}


@router.get("/connections")
def connections(request: Request, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    rows = session.scalars(select(Connection).order_by(Connection.kind, Connection.name))
    views = [view(box(request), row) for row in rows]
    return page(request, user, "connections.html", section="connections",
                notice=request.session.pop("notice", None),
                sources=[v for v in views if v["kind"] == "source"],
                destinations=[v for v in views if v["kind"] == "destination"])


@router.get("/connections/new/{kind}")
def new_connection(request: Request, kind: str, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    return page(request, user, "connection_form.html", section="connections", kind=_kind(kind),
                values={"region": "eu1"}, regions=CLEVERTAP_REGIONS, editing=False)


@router.get("/connections/{kind}/{name}")
def edit_connection(request: Request, kind: str, name: str, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    row = get_connection(session, _kind(kind), name)
    if row is None:
        raise NotFoundError(f"no {kind} `{name}`; the Connections page lists them")
    shown = view(box(request), row)
    values = {"name": name, **shown["settings"]}
    return page(request, user, "connection_form.html", section="connections", kind=row.kind,
                values=values, regions=CLEVERTAP_REGIONS, editing=True,
                saved_secrets=shown["secrets"])


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
    values = {k: v for k, v in form.items() if k not in ("passcode", "csrf_token")}
    context: dict[str, Any] = {"section": "connections", "kind": ck, "values": values,
               "regions": CLEVERTAP_REGIONS, "editing": editing}
    try:
        check_name(name.strip(), field="name")
        if not editing and get_connection(session, ck, name.strip()) is not None:
            raise InvalidInputError([{"field": "name", "reason": f"a {ck} `{name}` exists; "
                                      "pick another name or edit it from the list"}])
        row = store_connection(session, box(request), ck, name.strip(), _config_of(ck, form),
                               project_root(request))
        session.commit()
    except InvalidInputError as exc:
        return page(request, user, "connection_form.html", status_code=422,
                    errors=exc.errors, **context)
    result = test_connection(ck, row.name, connection_config(box(request), row),
                             project_root(request))
    shown = view(box(request), row)
    return page(request, user, "connection_form.html", test=result, saved_secrets=shown["secrets"],
                **{**context, "editing": True, "values": {"name": row.name, **shown["settings"]}})


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
