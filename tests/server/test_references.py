"""``${ENV}`` references saved by ``syncline apply``: kept through API edits that leave them
alone, replaced by a value typed over them, and never created from API input (which could
otherwise read any of the server's variables)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from syncline.config.models import Project
from syncline.server.project.connections import get_connection, references_of
from syncline.server.project.definitions import apply_project, connection_config
from syncline.server.project.models import User
from syncline.server.project.secrets import SecretBox

from .conftest import SECRET
from .test_app import api_token

pytestmark = pytest.mark.anyio

PG = {"type": "postgres", "host": "127.0.0.1", "port": 5432, "database": "test",
      "user": "postgres", "password": "pg-secret"}


@pytest.fixture
def auth(sessions: sessionmaker[Session], user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(sessions, user)}"}


@pytest.fixture
def applied(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_PASSWORD", "pg-secret")
    with sessions() as session:
        apply_project(session, SecretBox(SECRET), Project.model_validate({"sources": {"pg": PG}}),
                      {("source", "pg"): {"password": "${PG_PASSWORD}"}})
        session.commit()


def saved(sessions: sessionmaker[Session]) -> tuple[dict[str, str], dict[str, object]]:
    with sessions() as session:
        row = get_connection(session, "source", "pg")
        assert row is not None
        return references_of(row), connection_config(SecretBox(SECRET), row)


async def test_an_edit_that_leaves_a_reference_alone_keeps_it(
    client: httpx.AsyncClient, auth: dict[str, str], sessions: sessionmaker[Session],
    applied: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = await client.get("/api/connections/source/pg", headers=auth)
    assert shown.json()["connection"]["references"] == {"password": "${PG_PASSWORD}"}
    assert "pg-secret" not in shown.text
    body = {"config": {"type": "postgres", "database": "test", "password": "${PG_PASSWORD}"}}
    answer = await client.put("/api/connections/source/pg", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    monkeypatch.setenv("PG_PASSWORD", "rotated")
    refs, config = saved(sessions)
    assert refs == {"password": "${PG_PASSWORD}"} and config["password"] == "rotated"


async def test_a_value_typed_over_a_reference_replaces_it(
    client: httpx.AsyncClient, auth: dict[str, str], sessions: sessionmaker[Session],
    applied: None,
) -> None:
    body = {"config": {"type": "postgres", "password": "typed-in"}}
    answer = await client.put("/api/connections/source/pg", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    refs, config = saved(sessions)
    assert refs == {} and config["password"] == "typed-in"


async def test_api_input_is_taken_literally_never_read_from_the_environment(
    client: httpx.AsyncClient, auth: dict[str, str], sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVER_ONLY", "do-not-leak")
    body = {"kind": "source", "name": "pg", "config": {**PG, "password": "${SERVER_ONLY}"}}
    answer = await client.post("/api/connections", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    refs, config = saved(sessions)
    assert refs == {} and config["password"] == "${SERVER_ONLY}"
    sneaky = {"kind": "source", "name": "pg2",
              "config": {**PG, "$env": {"password": "${SERVER_ONLY}"}}}
    refused = await client.post("/api/connections", json=sneaky, headers=auth)
    assert refused.status_code == 422
