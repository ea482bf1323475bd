"""The REST API for connections and syncs, through httpx's ASGI transport on a real SQLite store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from syncline.server.project.models import Connection, User

from .test_app import api_token

pytestmark = pytest.mark.anyio

CLEVERTAP = {"type": "clevertap", "account_id": "ACC-1", "passcode": "hunter22", "region": "eu1"}


@pytest.fixture
def auth(sessions: sessionmaker[Session], user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(sessions, user)}"}


async def create_destination(client: httpx.AsyncClient, auth: dict[str, str]) -> httpx.Response:
    body = {"kind": "destination", "name": "ct", "config": CLEVERTAP}
    return await client.post("/api/connections", json=body, headers=auth)


async def test_a_destination_is_saved_with_its_secret_masked(
    client: httpx.AsyncClient, auth: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    answer = await create_destination(client, auth)
    assert answer.status_code == 201, answer.text
    connection = answer.json()["connection"]
    assert connection["settings"]["account_id"] == "ACC-1"
    assert connection["secrets"] == {"passcode": "••••••••"}
    assert "hunter22" not in answer.text
    listed = await client.get("/api/connections", headers=auth)
    assert [c["name"] for c in listed.json()["connections"]] == ["ct"]
    assert "hunter22" not in listed.text
    with sessions() as session:
        row = session.query(Connection).one()
        assert "hunter22" not in (row.sealed_secrets or "") + row.settings


async def test_an_invalid_connection_is_a_422_naming_the_field(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = {"kind": "destination", "name": "ct", "config": {**CLEVERTAP, "region": "mars"}}
    answer = await client.post("/api/connections", json=body, headers=auth)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert errors[0]["field"] == "body.config.clevertap.region"
    assert "eu1" in errors[0]["reason"]
    bad_name = {"kind": "destination", "name": "no spaces", "config": CLEVERTAP}
    answer = await client.post("/api/connections", json=bad_name, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.name"


async def test_a_taken_name_is_a_conflict_and_update_keeps_the_secret(
    client: httpx.AsyncClient, auth: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    await create_destination(client, auth)
    again = await create_destination(client, auth)
    assert again.status_code == 409
    current = (await client.get("/api/connections/destination/ct", headers=auth)).json()
    same_place = {"type": "clevertap", **current["connection"]["settings"]}
    updated = await client.put("/api/connections/destination/ct", json={"config": same_place},
                               headers=auth)
    assert updated.status_code == 200, updated.text
    assert updated.json()["connection"]["secrets"] == {"passcode": "••••••••"}
    # a new account or region is a new destination: the passcode must be entered again
    config = {"type": "clevertap", "account_id": "ACC-2", "region": "us1"}
    moved = await client.put("/api/connections/destination/ct", json={"config": config},
                             headers=auth)
    assert moved.status_code == 422 and "enter `passcode` again" in moved.text


async def test_connections_need_a_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/connections")
    assert answer.status_code == 401
    assert answer.json()["ok"] is False


async def _sync_body(name: str = "users", **config: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": "wh", "model": {"table": "main.users"}, "destination": "ct",
        "object": "profile", "sync_key": "user_id", "mappings": {"sync_all": True},
    }
    return {"name": name, "config": {**base, **config}, "check": False}


async def test_syncs_are_created_paused_resumed_and_deleted(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await create_destination(client, auth)
    source = {"kind": "source", "name": "wh", "config": {"type": "duckdb", "path": "wh.duckdb"}}
    assert (await client.post("/api/connections", json=source, headers=auth)).status_code == 201
    created = await client.post("/api/syncs", json=await _sync_body(), headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["sync"]["config"]["sync_key"] == "user_id"
    paused = await client.post("/api/syncs/users/pause", headers=auth)
    assert paused.json()["sync"]["paused"] is True
    resumed = await client.post("/api/syncs/users/resume", headers=auth)
    assert resumed.json()["sync"]["paused"] is False
    in_use = await client.delete("/api/connections/source/wh", headers=auth)
    assert in_use.status_code == 409
    assert "users" in in_use.json()["error"]
    assert (await client.delete("/api/syncs/users", headers=auth)).status_code == 200
    assert (await client.get("/api/syncs/users", headers=auth)).status_code == 404
    assert (await client.delete("/api/connections/source/wh", headers=auth)).status_code == 200


async def test_a_sync_is_validated_field_by_field(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    missing = await client.post("/api/syncs", json=await _sync_body(), headers=auth)
    assert missing.status_code == 422
    fields = {e["field"] for e in missing.json()["errors"]}
    assert fields == {"body.config.source", "body.config.destination"}
    event = await _sync_body(object="event")
    answer = await client.post("/api/syncs", json=event, headers=auth)
    assert answer.status_code == 422
    assert "identity_column" in answer.json()["error"]
    await create_destination(client, auth)
    source = {"kind": "source", "name": "wh", "config": {"type": "duckdb", "path": "wh.duckdb"}}
    await client.post("/api/connections", json=source, headers=auth)
    bad_schedule = await _sync_body(schedule="every blue moon")
    answer = await client.post("/api/syncs", json=bad_schedule, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.config.schedule"


async def test_runs_without_a_state_store_are_unavailable(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    answer = await client.get("/api/runs", headers=auth)
    assert answer.status_code == 503
    assert "syncline serve" in answer.json()["error"]


async def test_the_openapi_document_lists_the_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/connections", "/api/syncs", "/api/syncs/{name}/runs", "/api/runs/{run_id}",
                 "/api/runs/{run_id}/rejections", "/api/sources/{name}/columns"):
        assert path in paths
