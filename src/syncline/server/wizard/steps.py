"""The "+ Create a new Sync" wizard: model → destination and object → sync key → field
mappings → confirm, then the preview page (first records as CleverTap gets them) and the trigger.

Every step is a form POSTed with the session's CSRF token, carrying the answers so far as
hidden fields, so nothing half-made is stored. Steps are POSTs because they touch the source:
a GET (a link from another site rides on the SameSite=Lax session cookie) must never run a
model query, so ``GET /syncs/new`` only shows the first step, without opening the source (the
model step's *Preview rows* is a POST too). Each POST re-checks every earlier step against the
source (the model is readable, mapped columns exist and can be sent, an event's identity and
name mapped) and reopens the first step that no longer holds, with each problem shown next to
the field it is about. A sync key with nulls or duplicates is not a problem but a warning
(``looks.py``): the key step is shown again once with counts and examples, and *Continue* goes
on with it. A schedule typed on the last step is not saved with the sync: the preview opens
with it filled in, and it starts only when the user confirms it there.

The same wizard edits a saved sync (``edit.py``); its answers, and what they keep of
the saved definition, are in ``answers.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from syncline.config.models import SyncConfig
from syncline.errors import SynclineError
from syncline.server.api.connections import project_root
from syncline.server.api.syncs import check_schedule, reload_schedules
from syncline.server.auth.deps import DbSession
from syncline.server.checks import check_sync, opened_source
from syncline.server.errors import ApiError, BadRequestError, FieldError, InvalidInputError
from syncline.server.pages.dashboard import box, new_router, page, require_user
from syncline.server.project.connections import get_connection
from syncline.server.project.definitions import (
    check_name,
    connection_config,
    field_errors,
    get_sync,
)
from syncline.server.project.definitions import save_sync as store_sync
from syncline.server.project.models import Connection, User
from syncline.server.wizard.answers import STANDARD_FIELDS, STEPS, Wizard
from syncline.server.wizard.looks import first_rows, key_warnings, user_like_column
from syncline.sources.base import Column, Source

__all__ = ["SAVE", "STANDARD_FIELDS", "first_failing", "render", "router", "source_problems",
           "wanted_step"]

router = new_router()

SAVE = "save"
"""The ``step`` the last step's button sends: save, rather than show a step."""



def _source(session: Session, name: str) -> Connection | None:
    return get_connection(session, "source", name) if name else None


def _check_model(request: Request, session: Session, w: Wizard) -> None:
    row = _source(session, w.state.get("source", ""))
    if row is None:
        w.fail("Pick a source (add one on the Connections page first).", "source")
        return
    if not any(w.state.get(k) for k in ("table", "query", "dbt")):
        w.fail("Pick a table." if w.state.get("model_kind") != "dbt" else "Pick a dbt model.",
               "table")
        return
    what = ("The query" if w.state.get("query") else f"dbt model `{w.state['dbt']}`"
            if w.state.get("dbt") else f"Table `{w.state.get('table')}`")
    try:
        config = connection_config(box(request), row)
        with opened_source(row.name, config, project_root(request)) as source:
            sql = _model_sql(request, w, config, source)
            w.columns = [{"name": c.name, "type": c.type} for c in source.columns(sql)]
            if w.state.get("preview") == "rows":
                w.rows = first_rows(source, sql)
    except (ApiError, SynclineError, ValidationError) as exc:
        w.fail(f"{what} cannot be read: {exc}", "table")


def _check_destination(session: Session, w: Wizard) -> None:
    if get_connection(session, "destination", w.state.get("destination", "")) is None:
        w.fail("Pick a destination (add one on the Connections page first).", "destination")
    if w.state.get("object") not in ("profile", "event"):
        w.fail("Pick the object to sync: Profile or Event.", "object")


def _check_key(request: Request, session: Session, w: Wizard) -> None:
    names = {c["name"] for c in w.columns}
    key = w.state.get("sync_key", "")
    if key not in names:
        w.fail("Pick the sync key: the column that identifies a row.", "sync_key")
        return
    if w.state.get("object") == "event":
        if w.state.get("identity_column", "") not in names:
            w.fail("An event sync needs the column naming the user (identity).",
                   "identity_column")
        if bool(w.state.get("event_name")) == bool(w.state.get("event_name_column")):
            w.fail("Give the event name, or the column holding it (one of the two).",
                   "event_name")
    row = _source(session, w.state["source"])
    assert row is not None
    try:
        config = connection_config(box(request), row)
        with opened_source(row.name, config, project_root(request)) as source:
            sql = _model_sql(request, w, config, source)
            for warning in key_warnings(source, sql, key):
                w.warn(warning, "sync_key")
    except (BadRequestError, SynclineError) as exc:
        w.fail(str(exc))


def _model_sql(request: Request, w: Wizard, config: dict[str, Any], source: Source) -> str:
    """The SQL reading the answered model; a dbt model is the relation dbt built it into,
    from the source's manifest, as a run resolves it (``config/dbt.py``)."""
    from syncline.config.dbt import resolve_model
    from syncline.sources.registry import model_sql

    model = resolve_model(w.model(), config, project_root(request), sync=None,
                          source=w.state.get("source", ""))
    return model_sql(model, source)


def dbt_models(request: Request, session: Session, source: str) -> tuple[list[str], str] | None:
    """The dbt models of ``source``'s manifest and why there are none (a manifest not built
    yet), or None when the source has no ``dbt:`` section (the page then offers no dbt kind).
    Reads only the manifest file, never the source."""
    from syncline.config.dbt import DbtManifest, dbt_config_of

    row = _source(session, source)
    if row is None:
        return None
    config = connection_config(box(request), row)
    try:
        dbt = dbt_config_of(config)
        if dbt is None:
            return None
        manifest = DbtManifest.load(dbt, project_root(request), source=source)
    except (SynclineError, ValidationError) as exc:
        return [], str(exc)
    return sorted({node.name for node in manifest.models()}), ""


def _check_mappings(w: Wizard) -> None:
    names = {c["name"] for c in w.columns}
    if w.state.get("mode") not in ("all", "columns"):
        w.fail("Choose to sync all columns or specific ones.", "mappings")
    elif w.state["mode"] == "columns":
        if not w.cols:
            w.fail("Tick at least one column to map (or choose to sync all columns).",
                   "mappings")
        for c in w.cols:
            if c not in names:
                w.fail(f"Column `{c}` is not in the table.", "mappings")
    if w.errors:
        return
    try:
        sync = w.sync()
    except ValidationError:
        return  # the confirm step places each reason beside its field
    from syncline.engine.mapping import resolve_mapping

    columns = [Column(c["name"], c["type"]) for c in w.columns]
    try:  # a column that cannot be sent is found here, not at the first run
        resolved = resolve_mapping(w.state.get("name") or "new sync", sync, columns)
    except SynclineError as exc:
        w.fail(str(exc), "mappings")
        return
    for warning in resolved.warnings:
        w.warn(warning, "mappings")


def cannot_send(type_name: str, event: bool) -> str | None:
    """Why a column of this type cannot be mapped as it is (None: it can)."""
    from syncline.engine.column_types import column_kind

    kind = column_kind(type_name)
    if kind == "unsupported":
        return "cannot be sent: cast it in the model's SQL or leave it out"
    if kind == "array" and event:
        return "an array: multi-value properties exist on profiles only"
    if kind == "json":
        return "JSON: mapped, it is sent as a multi-value (arrays) or as text (type string)"
    return None


def source_problems(request: Request, session: Session, sync: SyncConfig) -> list[FieldError]:
    """``sync`` checked against its source, as the API checks it, except that a key with nulls
    or duplicates was a warning at the key step, not a refusal."""
    row = _source(session, sync.source)
    if row is None:
        return [FieldError(field="body.config.source", reason=f"no source `{sync.source}`")]
    return check_sync(sync, connection_config(box(request), row), project_root(request),
                      keys=False)


def first_failing(request: Request, session: Session, w: Wizard, upto: str) -> str:
    """The step to show: ``upto``, or the first earlier one whose answers do not hold."""
    checks = {
        "model": lambda: _check_model(request, session, w),
        "destination": lambda: _check_destination(session, w),
        "key": lambda: _check_key(request, session, w),
        "mappings": lambda: _check_mappings(w),
    }
    for step in STEPS[: STEPS.index(upto)]:
        checks[step]()
        if w.errors:
            return step
        if step == "key" and w.notices.get("sync_key") and not w.key_warned():
            return step  # shown once, with counts and examples; Continue again goes on
    if (upto in ("key", "mappings") and not w.columns) or w.state.get("preview") == "rows":
        _check_model(request, session, w)  # the columns to pick from, or *Preview rows*
    return upto


def render(request: Request, session: Session, user: User, w: Wizard, step: str,
           status_code: int = 200, *, touch_source: bool = True, **extra: Any) -> Response:
    """The wizard at ``step``; ``extra`` adds to the page (the edit's changes and notes).

    ``touch_source=False`` (a GET) lists no tables: only the answer already given is shown.
    """
    context: dict[str, Any] = {
        "section": "syncs", "step": step, "steps": STEPS, "w": w, "state": w.state,
        "carry": w.carry(step), **extra,
    }
    if step == "model":
        context["sources"] = _names(session, "source")
        context["dbt_models"] = dbt_models(request, session, w.state.get("source", ""))
        if touch_source:
            context["tables"] = _tables(request, session, w) if w.state.get("source") else []
        else:
            context["tables"] = [w.state["table"]] if w.state.get("table") else []
    elif step == "destination":
        context["destinations"] = _names(session, "destination")
    elif step == "key" and w.state.get("object") == "event" and not w.state.get("identity_column"):
        names = [c["name"] for c in w.columns]  # a default: the user, not the event's key
        w.state["identity_column"] = user_like_column(names, w.state.get("sync_key")) or ""
    elif step == "mappings":
        context["standard"] = {c["name"]: STANDARD_FIELDS.get(c["name"].lower())
                               for c in w.columns}
        event = w.state.get("object") == "event"
        context["flags"] = {c["name"]: cannot_send(c["type"], event) for c in w.columns}
    elif step == "confirm":
        try:
            context["summary"] = w.sync().model_dump(mode="json", by_alias=True,
                                                     exclude_defaults=True)
        except ValidationError as exc:
            w.fail_all(field_errors(exc, "sync"))
    return page(request, user, "wizard.html", status_code=status_code, **context)


def _names(session: Session, kind: str) -> list[str]:
    from sqlalchemy import select

    query = select(Connection.name).where(Connection.kind == kind).order_by(Connection.name)
    return list(session.scalars(query))


def _tables(request: Request, session: Session, w: Wizard) -> list[str]:
    row = _source(session, w.state["source"])
    if row is None:
        return []
    try:
        with opened_source(row.name, connection_config(box(request), row),
                           project_root(request)) as source:
            return [f"{schema}.{table}" for schema in source.schemas()
                    for table in source.tables(schema)]
    except BadRequestError as exc:
        w.fail(str(exc), "source")
        return []


@router.get("/syncs/new")
def wizard(request: Request, session: DbSession) -> Response:
    """The first step, from nothing: a GET neither opens the source nor runs anything."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    return render(request, session, user, Wizard({}, [], {}), "model", touch_source=False)


def wanted_step(w: Wizard) -> str | None:
    """The step a POST asks to see, or None when it asks to save (the last step's button)."""
    wanted = w.state.get("step", SAVE)
    return None if wanted == SAVE else (wanted if wanted in STEPS else "model")


@router.post("/syncs/new")
async def create(request: Request, session: DbSession) -> Response:
    """Show the step asked for (checked against the source), or save the sync and open its
    preview."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    w = Wizard.from_request(await request.form())
    wanted = wanted_step(w)
    if wanted is not None:
        step = first_failing(request, session, w, wanted)
        return render(request, session, user, w, step, 422 if w.errors else 200)
    step = first_failing(request, session, w, "confirm")
    if step != "confirm":
        return render(request, session, user, w, step, 422)
    name = w.state.get("name", "")
    try:
        check_name(name, field="name")
        if get_sync(session, name) is not None:
            raise InvalidInputError([{"field": "name", "reason": f"a sync `{name}` already "
                                      "exists; pick another name"}])
        sync = w.sync()
        check_schedule(sync)
        problems = source_problems(request, session, sync)
        if problems:
            raise InvalidInputError(problems)
        # a schedule starts only once the user has seen the preview and confirms it there
        store_sync(session, name, sync.model_copy(update={"schedule": None}))
        session.commit()
        reload_schedules(request)
    except ValidationError as exc:
        w.fail_all(field_errors(exc, "sync"))
    except InvalidInputError as exc:
        w.fail_all(exc.errors)
    except ApiError as exc:
        w.fail(str(exc))
    if w.errors:
        return render(request, session, user, w, w.error_step(), 422)
    query = f"?{urlencode({'schedule': sync.schedule})}" if sync.schedule else ""
    return RedirectResponse(f"/syncs/{name}/preview{query}", status_code=303)
