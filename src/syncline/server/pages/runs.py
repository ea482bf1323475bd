"""Dashboard pages for one run: live progress (``run.js`` polls ``status.json``), then its
counts and rejected records (code, reason, key, column), filterable by code, as CSV too."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from syncline.engine.synclog_place import SyncLogPlace, sync_log_place
from syncline.errors import SynclineError
from syncline.server.api.runs import RunId, rejection_rows, rejections_csv, run_view
from syncline.server.auth.deps import DbSession
from syncline.server.errors import UnavailableError
from syncline.server.jobs import RunManager
from syncline.server.pages.dashboard import jobs, new_router, page, require_user

__all__ = ["router"]

router = new_router()

_SHOWN = 500


def _manager(request: Request) -> RunManager:
    manager = jobs(request)
    if manager is None:
        raise UnavailableError("this server has no state store for runs; use `syncline serve`")
    return manager


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: RunId, session: DbSession, code: str = "") -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    manager = _manager(request)
    run = run_view(manager, run_id)
    every = rejection_rows(manager, run_id, None, 10_000)
    codes = sorted({str(r["code"]) for r in every})
    rows = [r for r in every if not code or str(r["code"]) == code][:_SHOWN]
    for row in rows:
        row["record_json"] = (
            "" if row["record"] is None
            else orjson.dumps(row["record"], option=orjson.OPT_INDENT_2, default=str).decode()
        )
    dropped = manager.store.dropped_fields(run_id, limit=_SHOWN)  # drop_field's warnings
    return page(request, user, "run.html", section="syncs", run=run, rows=rows, codes=codes,
                code=code, total=len(every), shown=_SHOWN, dropped=dropped,
                sync_log=_sync_log(manager, str(run["sync"]), run_id))


def _sync_log(manager: RunManager, sync: str, run_id: int) -> SyncLogPlace | None:
    """Where this run's sync log rows are, when the sync keeps one (read from its definition:
    the page connects to nothing)."""
    try:
        return sync_log_place(manager.project(), sync, run_id)
    except SynclineError:  # definitions that no longer validate: the rest of the page stands
        return None


@router.get("/runs/{run_id}/status.json")
def run_status(request: Request, run_id: RunId, session: DbSession) -> Response:
    """What the run page polls (the API's run answer, for a signed-in session)."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return JSONResponse({"ok": False, "error": "sign in again"}, status_code=401)
    data: dict[str, Any] = run_view(_manager(request), run_id)
    return JSONResponse({"ok": True, "run": data})


@router.get("/runs/{run_id}/rejections.csv")
def run_rejections_csv(
    request: Request, run_id: RunId, session: DbSession, code: str = ""
) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    rows = rejection_rows(_manager(request), run_id, code or None, None)
    return Response(
        rejections_csv(rows), media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}-rejected.csv"'},
    )


@router.post("/runs/{run_id}/cancel")
def cancel_run(request: Request, run_id: RunId, session: DbSession) -> Response:
    """Ask the run to stop; the page then shows it ending as cancelled."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    _manager(request).cancel(run_id)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)
