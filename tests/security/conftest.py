"""The attacks of issue #13 against a real server (``tests.server.served``: the app as
``syncline serve`` runs it, on a loopback port), a real PostgreSQL, and a signed-in browser."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from ..server.served import (
    PASSWORD,
    SOURCE_BODY,
    USERNAME,
    Served,
    destination_body,
    served,
)

ATTACK = "SELECT 1) AS x; DROP TABLE main.victim; SELECT * FROM (SELECT 1"


def csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


def victim_rows(path: Path) -> int:
    """Rows of ``main.victim`` in the warehouse (fails if the table was dropped)."""
    with duckdb.connect(str(path), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM main.victim").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Served]:
    """The server, with source ``wh`` (a writable DuckDB file holding ``main.victim``)."""
    with served(tmp_path) as running:
        with duckdb.connect(str(running.root / "wh.duckdb")) as con:
            con.execute("CREATE TABLE victim AS SELECT range AS id FROM range(3)")
        with running.api() as api:
            assert api.post("/api/connections", json=SOURCE_BODY).status_code == 201
            body = destination_body(running.sandbox)
            assert api.post("/api/connections", json=body).status_code == 201
        yield running


@pytest.fixture
def browser(app: Served) -> Iterator[httpx.Client]:
    """A signed-in dashboard session (its cookie is what a link from another site rides on)."""
    with httpx.Client(base_url=app.url, timeout=30, follow_redirects=True) as client:
        page = client.get("/sign-in")
        client.post("/sign-in", data={"username": USERNAME, "password": PASSWORD, "next": "/",
                                      "csrf_token": csrf(page.text)})
        yield client


@pytest.fixture
def pg_db() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its name and drops it afterwards."""
    import psycopg

    name = f"syncline_sec_{uuid.uuid4().hex[:12]}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
