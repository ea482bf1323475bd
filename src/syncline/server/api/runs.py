"""REST API for runs: trigger (answers at once with the run id), list, one run with its counts
and live progress, its rejected records (JSON or CSV), cancel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, status
from fastapi import Path as FastApiPath
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from syncline.errors import ConfigError, RunLockedError, SynclineError
from syncline.server.api.models import (
    CancelAnswer,
    RejectionsAnswer,
    RunAnswer,
    RunsAnswer,
    TriggerAnswer,
    error_responses,
)
from syncline.server.api.syncs import jobs_of, saved_sync
from syncline.server.auth.deps import CurrentUser, DbSession, EditorUser
from syncline.server.errors import BadRequestError, ConflictError, NotFoundError
from syncline.server.jobs import RunManager
from syncline.store import RejectedRow

__all__ = [
    "rejection_csv_lines", "rejections_csv", "router", "run_view", "start_run",
]

router = APIRouter(prefix="/api", tags=["runs"])


class RunIn(BaseModel):
    """Body of ``POST /api/syncs/{name}/runs`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    full: bool = False
    """Full resync: send every row again, not only the new and changed ones."""
    resend_events: bool = False
    """Required with ``full`` on an event sync: every event is sent again (duplicates)."""


def start_run(jobs: RunManager, name: str, *, full: bool = False, trigger: str = "api",
              resend_events: bool = False) -> int:
    """Start a run; 409 if one is going, 400 with the reason if it cannot start."""
    try:
        return jobs.trigger(name, full=full, trigger=trigger, resend_events=resend_events)
    except RunLockedError as exc:
        raise ConflictError(
            f"sync `{name}` is already running; wait for that run or cancel it ({exc})"
        ) from exc
    except ConfigError as exc:
        raise BadRequestError(f"sync `{name}` cannot run: {exc}") from exc


def run_view(jobs: RunManager, run_id: int) -> dict[str, Any]:
    """One run's record, with live progress while this server runs it."""
    try:
        record = jobs.store.run(run_id)
    except SynclineError as exc:
        raise NotFoundError(f"no run {run_id}; GET /api/runs lists them") from exc
    data: dict[str, Any] = orjson.loads(orjson.dumps(record.to_dict(), default=str))
    live = jobs.live(run_id)
    data["progress"] = live.progress() if live is not None else None
    return data


def rejection_rows(
    jobs: RunManager, run_id: int, code: str | None, limit: int | None, *,
    column: str | None = None, key: str | None = None, offset: int = 0,
) -> list[dict[str, Any]]:
    """A run's rejected records, as dicts: one page of those matching the filters."""
    run_view(jobs, run_id)  # the 404 for an unknown run
    return [
        {"sync_key": r.sync_key, "code": r.code, "message": r.message, "column": r.column,
         "record": r.record}
        for r in jobs.store.rejections(run_id, code=code, column=column, key=key,
                                       offset=offset, limit=limit)
    ]


def spreadsheet_safe(value: object) -> str:
    """A cell a spreadsheet shows as text, never runs: one starting with ``=``, ``+``, ``-``,
    ``@`` (or a tab or carriage return) gets a leading ``'`` (OWASP, "CSV Injection").

    The records come from the source, so a value such as ``=HYPERLINK(...)`` is data someone
    else wrote; opened in Excel or Sheets it would otherwise be a formula.
    """
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_CSV_HEADER = ["sync_key", "code", "column", "reason", "record"]


def _csv_cells(key: object, code: object, column: object, message: object,
               record: object) -> list[str]:
    text = "" if record is None else orjson.dumps(record, default=str).decode()
    return [spreadsheet_safe(c) for c in (key, code, column or "", message, text)]


def rejections_csv(rows: list[dict[str, Any]]) -> str:
    """Rejected records as CSV (the record itself as JSON in the last column), every cell
    safe to open in a spreadsheet (``spreadsheet_safe``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_HEADER)
    for row in rows:
        writer.writerow(_csv_cells(row["sync_key"], row["code"], row["column"], row["message"],
                                   row["record"]))
    return out.getvalue()


def rejection_csv_lines(rows: Iterable[RejectedRow]) -> Iterator[str]:
    """The same CSV as `rejections_csv`, a line at a time, for a response that streams every
    rejection of a run however many there are."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_HEADER)
    for row in rows:
        writer.writerow(_csv_cells(row.sync_key, row.code, row.column, row.message, row.record))
        if out.tell() > 64_000:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


@router.post("/syncs/{name}/runs", status_code=status.HTTP_202_ACCEPTED,
             response_model=TriggerAnswer, responses=error_responses(400, 404, 409, 503))
def trigger(
    request: Request, name: str, user: EditorUser, session: DbSession,
    body: RunIn | None = None,
) -> dict[str, Any]:
    """Start a run in the background; poll ``GET /api/runs/{run_id}``."""
    saved_sync(session, name)
    run_id = start_run(jobs_of(request), name, full=body.full if body else False,
                       resend_events=body.resend_events if body else False)
    return {"ok": True, "run_id": run_id, "url": f"/api/runs/{run_id}"}


RunId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1, description="a run id")]
"""A run id as the store can hold it (a bigger one is a 422, not a database overflow)."""


@router.get("/runs", response_model=RunsAnswer, responses=error_responses(503))
def list_runs(
    request: Request,
    user: CurrentUser,
    sync: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Recent runs, newest first (of one sync with ``?sync=``)."""
    records = jobs_of(request).store.runs(sync, limit=limit)
    runs = [orjson.loads(orjson.dumps(r.to_dict(), default=str)) for r in records]
    return {"ok": True, "runs": runs}


@router.get("/runs/{run_id}", response_model=RunAnswer, responses=error_responses(404, 503))
def get_run(request: Request, run_id: RunId, user: CurrentUser) -> dict[str, Any]:
    """One run: status, counts and, while it runs, progress."""
    return {"ok": True, "run": run_view(jobs_of(request), run_id)}


@router.get(
    "/runs/{run_id}/rejections", response_model=RejectionsAnswer,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "JSON, or with `?format=csv` the page as CSV"},
               **error_responses(404, 503)},
)
def get_rejections(
    request: Request,
    run_id: RunId,
    user: CurrentUser,
    code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    column: str | None = None,
    key: str | None = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Any:
    """The run's rejected records (code, reason, key, column, record); ``?format=csv``.
    Filtered by ``code``, ``column`` and ``key`` (a substring), a page at a time (``offset``,
    ``limit``); ``total`` is how many match, ``summary`` the run's counts by code and column."""
    jobs = jobs_of(request)
    rows = rejection_rows(jobs, run_id, code, limit, column=column, key=key, offset=offset)
    if format == "csv":
        return Response(
            rejections_csv(rows), media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="run-{run_id}-rejected.csv"'},
        )
    total = jobs.store.count_rejections(run_id, code=code, column=column, key=key)
    summary = [{"code": g.code, "column": g.column, "count": g.count}
               for g in jobs.store.rejection_summary(run_id)]
    return {"ok": True, "total": total, "summary": summary, "rejections": rows}


@router.post("/runs/{run_id}/cancel", response_model=CancelAnswer,
             responses=error_responses(404, 409, 503))
def cancel(request: Request, run_id: RunId, user: EditorUser) -> dict[str, Any]:
    """Ask a running run to stop (it ends as ``cancelled`` after its batch in flight)."""
    jobs = jobs_of(request)
    run_view(jobs, run_id)
    if not jobs.cancel(run_id):
        raise ConflictError(f"run {run_id} is not running in this server; nothing to cancel")
    return {"ok": True, "run_id": run_id, "cancelling": True}
