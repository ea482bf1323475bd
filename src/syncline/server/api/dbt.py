"""``GET /api/sources/{name}/dbt-models``: the dbt models a sync of this source can read.

For the model step of the sync wizard (and scripts): each model's name, as a sync writes it
(``model: {dbt: NAME}``), and the relation dbt built it into, read from the source's manifest.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from syncline.config.dbt import DbtManifest, dbt_config_of
from syncline.errors import SynclineError
from syncline.server.api.connections import box_of, project_root, saved
from syncline.server.api.models import DbtModelsAnswer, error_responses
from syncline.server.auth.deps import CurrentUser, DbSession
from syncline.server.errors import BadRequestError
from syncline.server.project.definitions import connection_config

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["connections"])


@router.get("/sources/{name}/dbt-models", response_model=DbtModelsAnswer,
            responses=error_responses(400, 404))
def dbt_models(request: Request, name: str, user: CurrentUser,
               session: DbSession) -> dict[str, Any]:
    """The source's dbt models (name, relation, kind, tags); 400 saying why when there are
    none to read (no ``dbt:`` section, no manifest)."""
    config = connection_config(box_of(request), saved(session, "source", name))
    try:
        dbt = dbt_config_of(config)
        if dbt is None:
            raise BadRequestError(f"source `{name}` has no `dbt: {{project_dir: ...}}` section; "
                                  "add one to read its dbt models")
        manifest = DbtManifest.load(dbt, project_root(request), source=name)
    except SynclineError as exc:
        raise BadRequestError(str(exc)) from exc
    return {"ok": True, "models": [
        {"name": n.name, "unique_id": n.unique_id, "resource_type": n.resource_type,
         "table": n.table, "tags": list(n.tags)} for n in manifest.models()]}
