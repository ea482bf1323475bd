"""The server and dbt: ``GET /api/sources/{name}/dbt-models`` (what the wizard's model step can
offer), and a sync of a dbt model saved and run through the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.server.served import destination_body, served

# every dbt test on one pytest-xdist worker (--dist loadgroup): dbt builds the project once
# per worker (conftest.py `built`), ~8 CPU-s each
pytestmark = pytest.mark.xdist_group("dbt")

DBT_SOURCE = {"kind": "source", "name": "wh", "config": {
    "type": "duckdb", "path": "warehouse.duckdb", "dbt": {"project_dir": "dbt"}}}


def test_a_source_lists_its_dbt_models_and_a_sync_reads_one(built: Path,
                                                             tmp_path: Path) -> None:
    with served(tmp_path) as running, running.api() as client:
        shutil.copytree(built / "dbt", running.root / "dbt")
        shutil.copy(built / "warehouse.duckdb", running.root / "warehouse.duckdb")
        assert client.post("/api/connections", json=DBT_SOURCE).status_code == 201
        assert client.post("/api/connections", json=destination_body(running.sandbox)
                           ).status_code == 201
        answer = client.get("/api/sources/wh/dbt-models")
        assert answer.status_code == 200, answer.text
        models = {m["name"]: m for m in answer.json()["models"]}
        assert sorted(models) == ["orders", "users_enriched", "users_raw"]
        assert models["users_enriched"]["table"] == '"warehouse"."analytics"."users_enriched"'
        assert models["users_enriched"]["resource_type"] == "model"

        sync = {"name": "enriched", "config": {
            "source": "wh", "model": {"dbt": "users_enriched"}, "destination": "ct",
            "object": "profile", "sync_key": "user_id", "tags": ["crm"]}}
        saved = client.post("/api/syncs", json=sync)
        assert saved.status_code == 201, saved.text
        run_id = client.post("/api/syncs/enriched/runs").json()["run_id"]
        run = running.wait_run(client, run_id)
        assert (run["status"], run["accepted"]) == ("succeeded", 5)

        (running.root / "dbt" / "target" / "manifest.json").unlink()
        missing = client.get("/api/sources/wh/dbt-models")
        assert missing.status_code == 400
        assert "run `dbt build` (or `dbt compile`)" in missing.json()["error"]
        again = client.post("/api/syncs", json={**sync, "name": "again"})
        assert again.status_code == 422
        error = again.json()["errors"][0]
        assert error["field"] == "body.config.model" and "dbt build" in error["reason"]


def test_a_source_without_dbt_says_how_to_add_it(tmp_path: Path) -> None:
    with served(tmp_path) as running, running.api() as client:
        plain = {**DBT_SOURCE, "config": {"type": "duckdb", "path": "wh.duckdb"}}
        assert client.post("/api/connections", json=plain).status_code == 201
        answer = client.get("/api/sources/wh/dbt-models")
        assert answer.status_code == 400
        assert "has no `dbt: {project_dir: ...}` section" in answer.json()["error"]
