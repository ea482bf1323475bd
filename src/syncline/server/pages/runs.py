"""Dashboard pages for one run: live progress (``run.js`` polls ``status.json``), then its
counts and its rejections counted by code and column; the rejections page lists the rejected
records (key, code, column, reason, record) a page at a time, filtered by code, column and key
in the store's SQL, and streams every match as CSV."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from syncline.engine.synclog_place import SyncLogPlace, sync_log_place
from syncline.errors import SynclineError
from syncline.server.api.runs import RunId, rejection_csv_lines, run_view
from syncline.server.auth.deps import DbSession
from syncline.server.errors import UnavailableError
from syncline.server.jobs import RunManager
from syncline.server.pages.dashboard import jobs, new_router, page, require_user

__all__ = ["router"]

router = new_router()

_SHOWN = 500
_PAGE = 100
"""Rejected records per page of the rejections page."""


def _manager(request: Request) -> RunManager:
    manager = jobs(request)
    if manager is None:
        raise UnavailableError("this server has no state store for runs; use `syncline serve`")
    return manager


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: RunId, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    manager = _manager(request)
    run = run_view(manager, run_id)
    summary = manager.store.rejection_summary(run_id)
    dropped = manager.store.dropped_fields(run_id, limit=_SHOWN)  # drop_field's warnings
    return page(request, user, "run.html", section="syncs", run=run, summary=summary,
                total=sum(g.count for g in summary), shown=_SHOWN, dropped=dropped,
                sync_log=_sync_log(manager, str(run["sync"]), run_id))


def _sync_log(manager: RunManager, sync: str, run_id: int) -> SyncLogPlace | None:
    """Where this run's sync log rows are, when the sync keeps one (read from its definition:
    the page connects to nothing)."""
    try:
        return sync_log_place(manager.project(), sync, run_id)
    except SynclineError:  # definitions that no longer validate: the rest of the page stands
        return None


@router.get("/runs/{run_id}/rejections")
def rejections_page(
    request: Request, run_id: RunId, session: DbSession, code: str = "", column: str = "",
    key: str = "", page_no: Annotated[int, Query(alias="page", ge=1, le=10**9)] = 1,
) -> Response:
    """One page of a run's rejected records, filtered; the summary above counts them all."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    manager = _manager(request)
    run = run_view(manager, run_id)
    store = manager.store
    summary = store.rejection_summary(run_id)
    matching = store.count_rejections(run_id, code=code, column=column, key=key)
    pages = max(1, -(-matching // _PAGE))
    rows = store.rejections(run_id, code=code, column=column, key=key,
                            offset=(min(page_no, pages) - 1) * _PAGE, limit=_PAGE)
    shown = [{"sync_key": r.sync_key, "code": r.code, "column": r.column, "message": r.message,
              "record_json": "" if r.record is None else orjson.dumps(
                  r.record, option=orjson.OPT_INDENT_2, default=str).decode()}
             for r in rows]
    filters = {k: v for k, v in (("code", code), ("column", column), ("key", key)) if v}
    return page(
        request, user, "rejections.html", section="syncs", run=run, summary=summary,
        total=sum(g.count for g in summary), rows=shown, matching=matching,
        page_no=min(page_no, pages), pages=pages, first=(min(page_no, pages) - 1) * _PAGE,
        code=code, column=column, key=key, query=urlencode(filters),
        codes=sorted({g.code for g in summary}),
        columns=sorted({g.column for g in summary if g.column}),
    )


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
    request: Request, run_id: RunId, session: DbSession, code: str = "", column: str = "",
    key: str = "",
) -> Response:
    """Every rejected record matching the filters (not only a page), streamed from the store."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    manager = _manager(request)
    run_view(manager, run_id)  # the 404 for an unknown run
    rows = manager.store.iter_rejections(run_id, code=code, column=column, key=key)
    return StreamingResponse(
        rejection_csv_lines(rows), media_type="text/csv",
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
