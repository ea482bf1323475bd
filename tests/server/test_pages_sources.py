"""Dashboard: + New Source offers every source type with its own fields; a PostgreSQL source
(a real database) is saved, tested, listed with where it points, and reopened as PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from syncline.server.project.connections import get_connection, save_connection, secrets_of
from syncline.server.project.secrets import SecretBox

from .conftest import SECRET
from .pg import postgres_database
from .test_app import csrf_of, sign_in

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("user")]

PASSWORD = "pg-password-0042"


async def save_source(client: httpx.AsyncClient, type_: str, editing: bool = False,
                      **fields: str) -> httpx.Response:
    form = await client.get(f"/connections/new/source?type={type_}")
    data = {"csrf_token": csrf_of(form.text), "type": type_,
            "editing": "true" if editing else "false", **fields}
    return await client.post("/connections/save/source", data=data)


async def test_new_source_offers_every_type_with_its_own_fields(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client)
    chooser = await client.get("/connections/new/source")
    for label in ("PostgreSQL", "MySQL / MariaDB", "SQLite", "DuckDB", "Files", "Google Sheets"):
        assert label in chooser.text
    postgres = await client.get("/connections/new/source?type=postgres")
    for field in ("host", "port", "database", "user", "read_only", "query"):
        assert f'name="{field}"' in postgres.text
    assert 'name="password" id="field-password" type="password"' in postgres.text
    assert 'name="path"' not in postgres.text
    sheets = await client.get("/connections/new/source?type=google_sheets")
    assert 'name="api_key" id="field-api_key" type="password"' in sheets.text
    assert (await client.get("/connections/new/source?type=oracle")).status_code == 404


async def test_a_postgres_source_is_saved_tested_listed_and_reopened_as_postgres(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    await sign_in(client)
    with postgres_database() as database:
        saved = await save_source(client, "postgres", name="crm", host="127.0.0.1",
                                  port="5432", database=database, user="postgres",
                                  password=PASSWORD, query="connect_timeout=5")
        assert saved.status_code == 200, saved.text
        assert "✓" in saved.text and 'id="finish"' in saved.text, saved.text
        assert PASSWORD not in saved.text
        listed = await client.get("/connections")
        assert "PostgreSQL" in listed.text
        assert f"postgres@127.0.0.1:5432/{database}" in listed.text
        reopened = await client.get("/connections/source/crm")
        assert "(PostgreSQL)" in reopened.text and 'name="path"' not in reopened.text
        assert f'value="{database}"' in reopened.text and 'value="5432"' in reopened.text
        assert "connect_timeout=5" in reopened.text and PASSWORD not in reopened.text
        # saved again without retyping the password: the saved one is kept and still works
        again = await client.post("/connections/save/source", data={
            "csrf_token": csrf_of(reopened.text), "type": "postgres", "editing": "true",
            "name": "crm", "host": "127.0.0.1", "port": "5432", "database": database,
            "user": "postgres", "password": "", "query": "connect_timeout=5"})
        assert "✓" in again.text, again.text
    with sessions() as session:
        row = get_connection(session, "source", "crm")
        assert row is not None and row.type == "postgres"
        assert secrets_of(SecretBox(SECRET), row) == {"password": PASSWORD}


async def test_a_files_source_is_saved_and_tested(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the project folder of a server without a run manager
    (tmp_path / "users.csv").write_text("user_id,email\nu1,u1@x.io\n")
    await sign_in(client)
    saved = await save_source(client, "files", name="exports", tables="users: users.csv")
    assert "✓" in saved.text, saved.text
    listed = await client.get("/connections")
    assert "users: users.csv" in listed.text and "Files (CSV" in listed.text


async def test_a_mariadb_source_reopens_as_mysql_mariadb_keeping_its_type(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        save_connection(session, SecretBox(SECRET), kind="source", name="shop", type="mariadb",
                        settings={"host": "db.internal", "port": 3306, "database": "shop",
                                  "user": "reader"}, secrets={"password": "pw"})
        session.commit()
    await sign_in(client)
    reopened = await client.get("/connections/source/shop")
    assert "(MySQL / MariaDB)" in reopened.text
    assert 'name="type" value="mariadb"' in reopened.text
    assert 'value="db.internal"' in reopened.text and 'name="path"' not in reopened.text


async def test_an_applied_reference_is_shown_by_name_and_kept_when_saved_unchanged(
    client: httpx.AsyncClient, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncline.config.models import Project
    from syncline.server.project.connections import references_of
    from syncline.server.project.definitions import apply_project

    monkeypatch.setenv("CRM_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_PASSWORD", PASSWORD)
    pg = {"type": "postgres", "host": "127.0.0.1", "port": 5432, "database": "crm",
          "user": "postgres", "password": PASSWORD}
    refs = {"host": "${CRM_HOST}", "password": "${CRM_PASSWORD}"}
    with sessions() as session:
        apply_project(session, SecretBox(SECRET), Project.model_validate({"sources": {"crm": pg}}),
                      {("source", "crm"): refs})
        session.commit()
    await sign_in(client)
    listed = await client.get("/connections")
    assert "postgres@${CRM_HOST}:5432/crm" in listed.text
    reopened = await client.get("/connections/source/crm")
    assert 'value="${CRM_HOST}"' in reopened.text and "from ${CRM_PASSWORD}" in reopened.text
    assert PASSWORD not in reopened.text
    await client.post("/connections/save/source", data={
        "csrf_token": csrf_of(reopened.text), "type": "postgres", "editing": "true",
        "name": "crm", "host": "${CRM_HOST}", "port": "5432", "database": "crm",
        "user": "postgres", "password": "", "query": ""})
    with sessions() as session:
        row = get_connection(session, "source", "crm")
        assert row is not None and references_of(row) == refs


async def test_a_plugin_source_opens_as_what_it_is_without_a_form(
    client: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        save_connection(session, SecretBox(SECRET), kind="source", name="crm", type="inline",
                        settings={"rows": [{"id": "u1"}]}, secrets={"token": "t0ps3cret"})
        session.commit()
    await sign_in(client)
    opened = await client.get("/connections/source/crm")
    assert opened.status_code == 200
    assert 'id="plugin-source"' in opened.text and "syncline apply" in opened.text
    assert "t0ps3cret" not in opened.text and 'name="path"' not in opened.text


async def test_a_mariadb_and_a_sqlite_source_are_saved_and_tested(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    import uuid

    import pymysql

    from tests.servers import need_mariadb

    need_mariadb()
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect(tmp_path / "crm.sqlite") as conn:
        conn.execute("CREATE TABLE users (id TEXT PRIMARY KEY)")
    await sign_in(client)
    sqlite = await save_source(client, "sqlite", name="lite", path="crm.sqlite")
    assert "✓" in sqlite.text, sqlite.text
    name = f"syncline_ui_{uuid.uuid4().hex[:12]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        saved = await save_source(client, "mysql", name="shop", host="127.0.0.1", port="3306",
                                  database=name, user="root")
        assert "✓" in saved.text, saved.text
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
    listed = await client.get("/connections")
    assert f"root@127.0.0.1:3306/{name}" in listed.text and "crm.sqlite" in listed.text
