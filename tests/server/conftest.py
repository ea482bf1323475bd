"""A real SQLite store in a temp dir, the server app, and an httpx client on ASGITransport."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from syncline.server.app import create_app
from syncline.server.auth.security import create_user
from syncline.server.project.models import User
from syncline.server.settings import ServerSettings
from syncline.store import StateStore

from . import served as whole
from .answers import Answers

SECRET = "test-secret-key-0123456789abcdef"
USERNAME = "ada"
PASSWORD = "correct horse battery"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore(url).close()  # the migrations create every table, the server's included
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def user(sessions: sessionmaker[Session]) -> User:
    with sessions() as session:
        created = create_user(session, USERNAME, PASSWORD)
        session.commit()
        return created


@pytest.fixture
def settings(sessions: sessionmaker[Session]) -> ServerSettings:
    return ServerSettings(secret_key=SECRET, session_factory=sessions)


@pytest.fixture
async def client(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    answers = Answers(app.openapi())  # every API answer is checked against its declaration
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 event_hooks={"response": [answers.async_hook]}) as client:
        yield client


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[whole.Served, httpx.Client]]:
    """The whole server with the sandbox destination and the DuckDB source saved, and a
    dashboard client signed in (the wizard and page tests drive it)."""
    with whole.served(tmp_path) as app:
        with app.api() as api:
            api.post("/api/connections", json=whole.destination_body(app.sandbox))
            api.post("/api/connections", json=whole.SOURCE_BODY)
        with httpx.Client(base_url=app.url, timeout=30, follow_redirects=True) as client:
            page = client.get("/sign-in")
            client.post("/sign-in", data={
                "username": whole.USERNAME, "password": whole.PASSWORD, "next": "/",
                "csrf_token": _csrf(page.text)})
            yield app, client


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)
