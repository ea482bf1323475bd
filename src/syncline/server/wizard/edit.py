"""Edit a saved sync with the creation wizard: every step pre-filled with the saved definition,
checked against the source as creating is, then saved through the same validation as the API's
``PUT /api/syncs/{name}`` and shown in the preview.

The confirm step lists what changes and, when the sync has run, what its snapshot makes of the
change (``syncline.server.project.sync_changes``): a change that resends what CleverTap has
must be acknowledged before it is saved, since a scheduled run may start right after.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from syncline.config.models import SyncConfig
from syncline.server.api.syncs import check_schedule, parse_sync, validate_and_save
from syncline.server.auth.deps import DbSession
from syncline.server.errors import ApiError, InvalidInputError
from syncline.server.pages.dashboard import jobs, new_router
from syncline.server.pages.syncs import recent_runs, signed_in_sync
from syncline.server.project.definitions import sync_config
from syncline.server.project.models import SyncDefinition
from syncline.server.project.sync_changes import changed_settings, snapshot_impact
from syncline.server.wizard.answers import OPTIONS, Wizard
from syncline.server.wizard.steps import first_failing, render, source_problems, wanted_step
from syncline.sources.base import Column

__all__ = ["prefilled", "router"]

router = new_router()

ACKNOWLEDGE = "Tick “I understand” to save a change that makes the next run resend (see above)."


def prefilled(name: str, base: dict[str, Any]) -> Wizard:
    """The wizard's answers for the saved definition ``base``, at its first step."""
    state = {"step": "model", "source": base.get("source", ""),
             "destination": base.get("destination", ""), "object": base.get("object", ""),
             "sync_key": base.get("sync_key", ""), "schedule": base.get("schedule") or ""}
    model = base.get("model") or {}
    kind = "dbt" if model.get("dbt") else "query" if model.get("query") else "table"
    state[kind] = model.get(kind) or ""
    state["model_kind"] = kind
    if base.get("object") == "event":
        for key in ("identity_column", "event_name", "event_name_column", "timestamp_column",
                    "items_column", "history", "in_doubt"):
            state[key] = base.get(key) or ""
    else:
        for key in ("on_removed", "max_delete_percent", "on_null", "phone_region"):
            state[key] = str(base.get(key) or "")
    state["on_invalid_field"] = base.get("on_invalid_field") or ""
    mappings = base.get("mappings") or {}
    entries = [e for e in mappings.get("columns", []) if "from" in e]
    state["mode"] = "all" if mappings.get("sync_all") else "columns"
    cols = [] if mappings.get("sync_all") else [e["from"] for e in entries]
    targets = {e["from"]: e.get("to", e["from"]) for e in entries}
    options = {prefix: {e["from"]: str(e[key]) for e in entries if e.get(key)}
               for prefix, key in OPTIONS.items()}
    return Wizard({k: v for k, v in state.items() if v}, cols, targets, options,
                  list(mappings.get("exclude", [])), editing=name, base=base)


def _review(request: Request, w: Wizard, row: SyncDefinition) -> dict[str, Any]:
    """The confirm step's table of changes, and the snapshot's warnings and notes."""
    try:
        new = w.sync()
    except ValidationError:
        return {}  # ``render`` shows the reasons
    old = sync_config(row)
    ran = bool(recent_runs(jobs(request), row.name, 1))
    warnings: list[str] = []
    notes: list[str] = []
    if ran:
        same_model = old.source == new.source and old.model == new.model
        warnings, notes = snapshot_impact(old, new, _columns(w) if same_model else None)
    return {"changes": changed_settings(old, new), "warnings": warnings, "notes": notes}


def _columns(w: Wizard) -> list[Column] | None:
    return [Column(c["name"], c["type"]) for c in w.columns] or None


@router.get("/syncs/{name}/edit")
def edit(request: Request, name: str, session: DbSession) -> Response:
    """The saved definition's first step; a GET neither opens the source nor runs anything."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    user, row = found
    w = prefilled(name, json.loads(row.body))
    return render(request, session, user, w, "model", touch_source=False)


@router.post("/syncs/{name}/edit")
async def save(request: Request, name: str, session: DbSession) -> Response:
    """Show the step asked for, or check the edit against its source, save it as the API's
    PUT does, and open the preview."""
    found = signed_in_sync(request, session, name)
    if isinstance(found, Response):
        return found
    user, row = found
    w = Wizard.from_request(await request.form(), editing=name, base=json.loads(row.body))
    wanted = wanted_step(w)
    if wanted is not None:
        step = first_failing(request, session, w, wanted)
        extra = _review(request, w, row) if step == "confirm" else {}
        return render(request, session, user, w, step, 422 if w.errors else 200, **extra)
    step = first_failing(request, session, w, "confirm")
    if step != "confirm":
        return render(request, session, user, w, step, 422)
    review = _review(request, w, row)
    if review.get("warnings") and w.state.get("acknowledge") != "yes":
        w.fail(ACKNOWLEDGE, "acknowledge")
        return render(request, session, user, w, "confirm", 422, **review)
    try:
        sync: SyncConfig = parse_sync(w.config())
        check_schedule(sync)
        problems = source_problems(request, session, sync)
        if problems:
            raise InvalidInputError(problems)
        validate_and_save(request, session, name, sync, check=False)
    except InvalidInputError as exc:
        w.fail_all(exc.errors)
    except ApiError as exc:
        w.fail(str(exc))
    if w.errors:
        step = w.error_step()
        extra = review if step == "confirm" else {}
        return render(request, session, user, w, step, 422, **extra)
    return RedirectResponse(f"/syncs/{name}/preview", status_code=303)
