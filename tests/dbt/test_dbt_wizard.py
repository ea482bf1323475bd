"""The wizard's model step offers a source's dbt models as a third kind of model (beside a table
and a SQL query), and a sync made from one is saved as ``model: {dbt: NAME}`` and runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.dbt.test_dbt_api import DBT_SOURCE
from tests.server.served import SOURCE_BODY, destination_body, served
from tests.server.test_alerts_page import _csrf, _sign_in

# every dbt test on one pytest-xdist worker (--dist loadgroup): dbt builds the project once
# per worker (conftest.py `built`), ~8 CPU-s each
pytestmark = pytest.mark.xdist_group("dbt")


def test_the_model_step_picks_a_dbt_model(built: Path, tmp_path: Path) -> None:
    with served(tmp_path) as app, app.api() as api, \
            httpx.Client(base_url=app.url, timeout=60) as client:
        shutil.copytree(built / "dbt", app.root / "dbt")
        shutil.copy(built / "warehouse.duckdb", app.root / "warehouse.duckdb")
        assert api.post("/api/connections", json=DBT_SOURCE).status_code == 201
        assert api.post("/api/connections", json={**SOURCE_BODY, "name": "plain"}
                        ).status_code == 201
        assert api.post("/api/connections", json=destination_body(app.sandbox)).status_code == 201
        _sign_in(client)
        token = _csrf(client.get("/syncs/new").text)

        plain = client.post("/syncs/new", data={"csrf_token": token, "source": "plain",
                                                "step": "model"}).text  # no dbt section
        assert 'id="kind-dbt"' not in plain
        shown = client.post("/syncs/new", data={"csrf_token": token, "source": "wh",
                                                "step": "model"})
        assert shown.status_code == 200, shown.text
        assert 'id="kind-dbt"' in shown.text
        for name in ("orders", "users_enriched", "users_raw"):
            assert f'<option value="{name}"' in shown.text

        answers = {"csrf_token": token, "source": "wh", "model_kind": "dbt",
                   "dbt": "users_enriched", "table": "main.users", "destination": "ct",
                   "object": "profile", "sync_key": "user_id", "mode": "all",
                   "name": "enriched"}
        mapped = client.post("/syncs/new", data={**answers, "step": "mappings"})
        assert mapped.status_code == 200, mapped.text
        assert "dbt model users_enriched" in client.post(
            "/syncs/new", data={**answers, "step": "destination"}).text
        saved = client.post("/syncs/new", data={**answers, "step": "save"})
        assert saved.status_code == 303, saved.text
        definition = api.get("/api/syncs/enriched").json()
        assert definition["sync"]["config"]["model"] == {"dbt": "users_enriched"}, definition
        run = app.wait_run(api, api.post("/api/syncs/enriched/runs").json()["run_id"])
        assert (run["status"], run["accepted"]) == ("succeeded", 5)

        edit = client.get("/syncs/enriched/edit").text
        assert 'id="kind-dbt" checked' in edit and 'value="users_enriched" selected' in edit
