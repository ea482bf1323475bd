"""REST API for syncs: create (checked against the source), update, delete, pause, resume, and
a plan with a preview of the first records as CleverTap would receive them."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from syncline.config.models import SyncConfig
from syncline.errors import RunLockedError, SynclineError
from syncline.server.api.connections import box_of, project_root
from syncline.server.api.models import (
    Done,
    PlanAnswer,
    SyncAnswer,
    SyncsAnswer,
    error_responses,
)
from syncline.server.auth.deps import CurrentUser, DbSession, EditorUser
from syncline.server.checks import check_sync
from syncline.server.errors import (
    BadRequestError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from syncline.server.jobs import RunManager
from syncline.server.project.connections import get_connection
from syncline.server.project.definitions import (
    check_name,
    connection_config,
    field_errors,
    get_sync,
    list_syncs,
    save_sync,
)
from syncline.server.project.models import SyncDefinition

__all__ = ["check_schedule", "jobs_of", "parse_sync", "router", "sync_view", "validate_and_save"]

router = APIRouter(prefix="/api", tags=["syncs"])


class SyncIn(BaseModel):
    """Body of ``POST /api/syncs``: a name and the sync as ``syncline.yml`` writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    config: dict[str, Any]
    check: bool = True
    """Check the sync against its source (model, key unique and non-null, columns)."""


class SyncUpdate(BaseModel):
    """Body of ``PUT /api/syncs/{name}``."""

    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any]
    check: bool = True


def jobs_of(request: Request) -> RunManager:
    """The app's run manager (503 when the server was started without one)."""
    jobs: RunManager | None = getattr(request.app.state, "jobs", None)
    if jobs is None:
        raise UnavailableError(
            "this server has no state store for runs; start it with `syncline serve`"
        )
    return jobs


def parse_sync(config: dict[str, Any], prefix: str = "body.config") -> SyncConfig:
    """The sync's pydantic model, or a 422 naming each bad field."""
    try:
        return SyncConfig.model_validate(config)
    except ValidationError as exc:
        raise InvalidInputError(field_errors(exc, prefix)) from None


def sync_view(row: SyncDefinition) -> dict[str, Any]:
    """A sync as answers show it."""
    config = json.loads(row.body)
    return {
        "name": row.name,
        "config": config,
        "paused": row.paused,
        "schedule": config.get("schedule"),
        "updated_at": row.updated_at.isoformat(),
    }


def validate_and_save(
    request: Request, session: Session, name: str, sync: SyncConfig, *, check: bool
) -> SyncDefinition:
    """Check ``sync`` against its source (when asked), save it, reload schedules; commits."""
    row = save_sync(session, name, sync)
    if check:
        source = get_connection(session, "source", sync.source)
        assert source is not None  # save_sync checked it
        problems = check_sync(sync, connection_config(box_of(request), source),
                              project_root(request))
        if problems:
            session.rollback()
            raise InvalidInputError(problems)
    session.commit()
    reload_schedules(request)
    return row


def reload_schedules(request: Request) -> None:
    """Tell the scheduler about changed syncs (a 422 if a schedule does not parse)."""
    jobs: RunManager | None = getattr(request.app.state, "jobs", None)
    if jobs is not None:
        jobs.load_schedules()


def saved_sync(session: Session, name: str) -> SyncDefinition:
    """The saved sync, or a 404 that says how to list them."""
    row = get_sync(session, name)
    if row is None:
        raise NotFoundError(f"no sync `{name}`; GET /api/syncs lists them")
    return row


@router.get("/syncs", response_model=SyncsAnswer)
def list_all(user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Every sync."""
    return {"ok": True, "syncs": [sync_view(row) for row in list_syncs(session)]}


@router.post("/syncs", status_code=status.HTTP_201_CREATED, response_model=SyncAnswer,
             responses=error_responses(409))
def create(request: Request, body: SyncIn, user: EditorUser, session: DbSession) -> dict[str, Any]:
    """Create a sync (409 if the name is taken; 422 if it does not fit its source)."""
    check_name(body.name)
    if get_sync(session, body.name) is not None:
        raise ConflictError(f"a sync `{body.name}` already exists; PUT /api/syncs/{body.name}")
    sync = parse_sync(body.config)
    check_schedule(sync)
    row = validate_and_save(request, session, body.name, sync, check=body.check)
    return {"ok": True, "sync": sync_view(row)}


@router.get("/syncs/{name}", response_model=SyncAnswer, responses=error_responses(404))
def get_one(name: str, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """One sync."""
    return {"ok": True, "sync": sync_view(saved_sync(session, name))}


@router.put("/syncs/{name}", response_model=SyncAnswer, responses=error_responses(404))
def update(
    request: Request, name: str, body: SyncUpdate, user: EditorUser, session: DbSession
) -> dict[str, Any]:
    """Replace a sync's definition (its runs and snapshot stay)."""
    saved_sync(session, name)
    sync = parse_sync(body.config)
    check_schedule(sync)
    row = validate_and_save(request, session, name, sync, check=body.check)
    return {"ok": True, "sync": sync_view(row)}


@router.delete("/syncs/{name}", response_model=Done, responses=error_responses(404))
def delete(request: Request, name: str, user: EditorUser, session: DbSession) -> dict[str, Any]:
    """Delete a sync definition (its past runs stay in the state store)."""
    session.delete(saved_sync(session, name))
    session.commit()
    reload_schedules(request)
    return {"ok": True}


@router.post("/syncs/{name}/pause", response_model=SyncAnswer, responses=error_responses(404))
def pause(request: Request, name: str, user: EditorUser, session: DbSession) -> dict[str, Any]:
    """Stop the schedule from starting runs (manual runs still work)."""
    return _set_paused(request, session, name, paused=True)


@router.post("/syncs/{name}/resume", response_model=SyncAnswer,
             responses=error_responses(404))
def resume(request: Request, name: str, user: EditorUser, session: DbSession) -> dict[str, Any]:
    """Let the schedule start runs again, from its next due instant."""
    return _set_paused(request, session, name, paused=False)


@router.post("/syncs/{name}/plan", response_model=PlanAnswer,
             responses=error_responses(400, 404, 409, 503))
def plan(
    request: Request, name: str, user: EditorUser, session: DbSession,
    preview: Annotated[int, Query(ge=0, le=100)] = 5,
) -> dict[str, Any]:
    """Dry run: counts of what a run would send and the first records, as CleverTap gets them."""
    saved_sync(session, name)
    return {"ok": True, "plan": plan_of(jobs_of(request), name, preview)}


def plan_of(jobs: RunManager, name: str, preview: int) -> dict[str, Any]:
    """``Runner.plan`` on the stored project (a 400 with the reason when it cannot plan)."""
    from syncline.config.load import LoadedProject
    from syncline.engine.runner import Runner

    loaded = LoadedProject(root=jobs.root, path=jobs.root / "syncline.yml",
                           project=jobs.project())
    try:
        summary = Runner(loaded, jobs.store).plan(name, preview=preview)
    except RunLockedError as exc:
        raise ConflictError(f"sync `{name}` is running now; plan it when the run ends") from exc
    except SynclineError as exc:
        raise BadRequestError(f"sync `{name}`: cannot plan: {exc}") from exc
    data: dict[str, Any] = summary.to_dict()
    return data


def _set_paused(request: Request, session: Session, name: str, *, paused: bool) -> dict[str, Any]:
    row = saved_sync(session, name)
    row.paused = paused
    session.commit()
    reload_schedules(request)
    return {"ok": True, "sync": sync_view(row)}


def check_schedule(sync: SyncConfig) -> None:
    from syncline.errors import ConfigError
    from syncline.scheduler import parse_schedule

    if not sync.schedule:
        return
    try:
        parse_schedule(sync.schedule, timezone=sync.timezone)
    except ConfigError as exc:
        raise InvalidInputError([{"field": "body.config.schedule", "reason": str(exc)}]) from None
