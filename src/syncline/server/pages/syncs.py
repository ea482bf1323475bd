"""Dashboard pages for syncs: the list, one sync's page (definition, schedule, chart of its last
runs, run history), its preview (the first records as CleverTap would receive them), and the
actions Run Sync Now, set schedule, pause, resume and delete."""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from syncline.errors import SynclineError
from syncline.server.api.runs import start_run
from syncline.server.api.syncs import check_schedule, plan_of, reload_schedules, saved_sync
from syncline.server.auth.deps import DbSession
from syncline.server.errors import ApiError
from syncline.server.jobs import RunManager
from syncline.server.pages.charts import runs_chart
from syncline.server.pages.dashboard import jobs, new_router, page, require_user
from syncline.server.project.definitions import list_syncs, save_sync, sync_config
from syncline.server.project.models import SyncDefinition, User

__all__ = ["recent_runs", "router"]

router = new_router()


def recent_runs(manager: RunManager | None, sync: str | None, limit: int) -> list[dict[str, Any]]:
    """Runs as plain dicts (newest first); none without a run manager."""
    if manager is None:
        return []
    try:
        records = manager.store.runs(sync, limit=limit)
    except SynclineError:
        return []
    runs: list[dict[str, Any]] = [
        orjson.loads(orjson.dumps(r.to_dict(), default=str)) for r in records
    ]
    return runs


def _sync_page(request: Request, user: User, row: SyncDefinition, **extra: Any) -> Response:
    manager = jobs(request)
    runs = recent_runs(manager, row.name, 30)
    next_due = None
    if manager is not None:
        for entry in manager.scheduler.syncs():
            if entry.name == row.name:
                next_due = entry.next_due.isoformat(timespec="seconds")
    return page(
        request, user, "sync.html", section="syncs", sync=row, config=json.loads(row.body),
        runs=runs, chart=Markup(runs_chart(list(reversed(runs)))), next_due=next_due, **extra,
    )


def signed_in_sync(
    request: Request, session: Session, name: str
) -> tuple[User, SyncDefinition] | Response:
    """The signed-in user and the saved sync ``name``, or the response that sends them away."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    return user, saved_sync(session, name)


@router.get("/syncs")
def syncs(request: Request, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    last: dict[str, dict[str, Any]] = {}
    for run in recent_runs(jobs(request), None, 200):
        last.setdefault(str(run.get("sync")), run)
    rows = [(row, json.loads(row.body)) for row in list_syncs(session)]
    return page(request, user, "syncs.html", section="syncs", syncs=rows, last=last)


@router.get("/syncs/{name}")
def sync_page(request: Request, name: str, session: DbSession) -> Response:
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    return _sync_page(request, *found)


@router.get("/syncs/{name}/preview")
def preview_page(request: Request, name: str, session: DbSession) -> Response:
    """The wizard's confirm step, before the model is read: a GET runs no query, so the
    records are one POST (with the CSRF token) away."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    user, row = found
    return page(request, user, "preview.html", section="syncs", sync=row,
                config=json.loads(row.body), plan=None, records=[], error=None, asked=False)


@router.post("/syncs/{name}/preview")
def preview(request: Request, name: str, session: DbSession) -> Response:
    """What the first run would send, before anything is sent (reads the model)."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    user, row = found
    manager = jobs(request)
    plan: dict[str, Any] | None = None
    error = None
    if manager is None:
        error = "this server has no state store for runs; start it with `syncline serve`"
    else:
        try:
            plan = plan_of(manager, name, 5)
        except ApiError as exc:
            error = str(exc)
    records = [orjson.dumps(r, option=orjson.OPT_INDENT_2, default=str).decode()
               for r in (plan or {}).get("preview", [])]
    return page(request, user, "preview.html", section="syncs", sync=row,
                config=json.loads(row.body), plan=plan, records=records, error=error, asked=True)


@router.post("/syncs/{name}/run")
def run_now(
    request: Request, name: str, session: DbSession,
    full: Annotated[bool, Form()] = False,
    resend_events: Annotated[bool, Form()] = False,
) -> Response:
    """Run now; a full resync of an event sync needs its own confirmation (duplicates)."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    user, row = found
    manager = jobs(request)
    try:
        if manager is None:
            raise SynclineError("this server has no state store for runs; use `syncline serve`")
        run_id = start_run(manager, name, trigger="manual", full=full,
                           resend_events=resend_events)
    except SynclineError as exc:
        return _sync_page(request, user, row, error=str(exc))
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/syncs/{name}/schedule")
def set_schedule(
    request: Request, name: str, session: DbSession,
    schedule: Annotated[str, Form()] = "",
) -> Response:
    """Set or clear the schedule (``every 15m`` or a cron expression)."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    user, row = found
    sync = sync_config(row).model_copy(update={"schedule": schedule.strip() or None})
    try:
        check_schedule(sync)
    except ApiError as exc:
        return _sync_page(request, user, row, error=str(exc))
    save_sync(session, name, sync)
    session.commit()
    reload_schedules(request)
    return RedirectResponse(f"/syncs/{name}", status_code=303)


@router.post("/syncs/{name}/{action}")
def sync_action(request: Request, name: str, action: str, session: DbSession) -> Response:
    """Pause or resume the schedule, or delete the sync (its past runs stay recorded)."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    _, row = found
    if action == "delete":
        session.delete(row)
        session.commit()
        reload_schedules(request)
        return RedirectResponse("/syncs", status_code=303)
    if action in ("pause", "resume"):
        row.paused = action == "pause"
        session.commit()
        reload_schedules(request)
    return RedirectResponse(f"/syncs/{name}", status_code=303)
