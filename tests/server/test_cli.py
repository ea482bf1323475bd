"""``syncline user add``, ``apply`` and ``export`` through Typer's runner on a real project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from syncline.cli.serve import register
from syncline.config import load
from syncline.errors import ConfigError
from syncline.server.auth.security import authenticate

SECRET = "cli-secret-key-0123456789abcdef"
YML = """\
version: 1
sources:
  wh: {type: duckdb, path: wh.duckdb}
destinations:
  ct: {type: clevertap, account_id: ACC, passcode: "${CT_PASS}", region: in1}
syncs:
  users:
    source: wh
    model: {table: main.users}
    destination: ct
    object: profile
    sync_key: user_id
    schedule: every 1h
"""


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SYNCLINE_SECRET_KEY", SECRET)
    monkeypatch.setenv("CT_PASS", "yml-passcode")
    return dict(os.environ)


def test_user_add_reads_the_password_from_stdin(tmp_path: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli(), ["user", "add", "ada", "--project", str(tmp_path),
                                        "--password-stdin"], input="long password 1\n")
    assert result.exit_code == 0, result.output
    engine = create_engine(load.state_url(tmp_path))
    try:
        with Session(engine) as session:
            assert authenticate(session, "ada", "long password 1") is not None
            assert authenticate(session, "ada", "wrong password") is None
    finally:
        engine.dispose()
    again = CliRunner().invoke(cli(), ["user", "add", "ada", "--project", str(tmp_path),
                                       "--password-stdin"], input="long password 1\n")
    assert again.exit_code == 2 and "ada" in again.output


def test_apply_then_export_round_trips_without_secrets(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "syncline.yml").write_text(YML)
    applied = CliRunner().invoke(cli(), ["apply", "--project", str(tmp_path)])
    assert applied.exit_code == 0, applied.output
    assert "1 sync(s)" in applied.output
    out, env_file = tmp_path / "exported.yml", tmp_path / "secrets.env"
    exported = CliRunner().invoke(cli(), ["export", "--project", str(tmp_path), "--output",
                                          str(out), "--env-file", str(env_file)])
    assert exported.exit_code == 0, exported.output
    data = yaml.safe_load(out.read_text())
    assert data["destinations"]["ct"]["passcode"] == "${CT_PASS}"  # the name syncline.yml used
    assert data["syncs"]["users"]["schedule"] == "every 1h"
    assert "yml-passcode" not in out.read_text()
    assert env_file.read_text() == ""  # nothing was frozen: every secret is still a reference
    assert env_file.stat().st_mode & 0o077 == 0


REFERENCING_YML = """\
version: 1
sources:
  pg:
    type: postgres
    host: "${PG_HOST:-127.0.0.1}"
    port: 5432
    database: test
    user: postgres
    password: "${PG_PASSWORD}"
  files:
    type: files
    tables: {users: {path: users.csv, format: csv}}
destinations:
  ct: {type: clevertap, account_id: ACC, passcode: "${CT_PASS}", region: in1}
"""


def _saved_config(root: Path, kind: str, name: str) -> dict[str, object]:
    from syncline.server.project.connections import get_connection
    from syncline.server.project.definitions import connection_config
    from syncline.server.project.secrets import SecretBox

    engine = create_engine(load.state_url(root))
    try:
        with Session(engine) as session:
            row = get_connection(session, kind, name)  # type: ignore[arg-type]
            assert row is not None
            stored = str(row.settings) + str(row.sealed_secrets)
            assert "yml-passcode" not in stored and "pg-secret-1" not in stored
            return connection_config(SecretBox(SECRET), row)
    finally:
        engine.dispose()


def test_apply_keeps_env_references_so_a_changed_variable_reaches_the_server(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "syncline.yml").write_text(REFERENCING_YML)
    (tmp_path / "users.csv").write_text("user_id\nu1\n")
    monkeypatch.setenv("PG_PASSWORD", "pg-secret-1")
    applied = CliRunner().invoke(cli(), ["apply", "--project", str(tmp_path)])
    assert applied.exit_code == 0, applied.output
    assert "2 source(s)" in applied.output  # the files source is saved too
    assert _saved_config(tmp_path, "source", "pg")["password"] == "pg-secret-1"
    monkeypatch.setenv("PG_PASSWORD", "pg-secret-2")  # rotated: no second `apply`
    monkeypatch.setenv("PG_HOST", "db.internal")
    rotated = _saved_config(tmp_path, "source", "pg")
    assert rotated["password"] == "pg-secret-2" and rotated["host"] == "db.internal"
    assert _saved_config(tmp_path, "source", "files")["tables"] == {
        "users": {"path": "users.csv", "format": "csv"}}
    monkeypatch.delenv("PG_PASSWORD")
    with pytest.raises(ConfigError, match="PG_PASSWORD is not set"):
        _saved_config(tmp_path, "source", "pg")
    exported = CliRunner().invoke(cli(), ["export", "--project", str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    data = yaml.safe_load(exported.stdout)
    assert data["sources"]["pg"]["password"] == "${PG_PASSWORD}"
    assert data["sources"]["pg"]["host"] == "${PG_HOST:-127.0.0.1}"
    assert data["destinations"]["ct"]["passcode"] == "${CT_PASS}"
    assert data["sources"]["files"]["tables"]["users"]["path"] == "users.csv"


def test_export_without_the_secret_key_says_how_to_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCLINE_SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli(), ["export", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "SYNCLINE_SECRET_KEY" in result.output


def test_user_add_outside_a_project_refuses_rather_than_make_a_store_of_its_own(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("SYNCLINE_STATE_URL", raising=False)
    refused = CliRunner().invoke(cli(), ["user", "add", "ada", "--password-stdin"],
                                 input="long password 1\n")
    assert refused.exit_code == 2
    assert "--project DIR" in refused.output and "syncline serve" in refused.output
    assert not (elsewhere / ".syncline").exists()


async def _signs_in(root: Path, username: str, password: str) -> bool:
    """Sign in to the app exactly as `syncline serve --project root` builds it."""
    import httpx

    from syncline.cli.serve import open_server_store, project_root
    from syncline.server.app import create_app
    from syncline.server.settings import ServerSettings
    from tests.server.test_app import csrf_of

    _, engine, sessions = open_server_store(project_root(root))
    try:
        app = create_app(ServerSettings(secret_key=SECRET, session_factory=sessions))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            page = await client.get("/sign-in")
            form = {"username": username, "password": password, "next": "/",
                    "csrf_token": csrf_of(page.text)}
            answer = await client.post("/sign-in", data=form)
            return answer.status_code == 303 and answer.headers["location"] == "/"
    finally:
        engine.dispose()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_readme_server_steps_sign_in(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    """README: `syncline user add admin --project myproj`, `apply`, `serve --project myproj`,
    run from the folder above the project, and from inside it without --project."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNCLINE_STATE_URL", raising=False)
    root = tmp_path / "myproj"
    root.mkdir()
    (root / "syncline.yml").write_text(YML)
    added = CliRunner().invoke(cli(), ["user", "add", "admin", "--project", "myproj",
                                       "--password-stdin"], input="long password 1\n")
    assert added.exit_code == 0, added.output
    assert "state.db" in added.output
    assert CliRunner().invoke(cli(), ["apply", "--project", "myproj"]).exit_code == 0
    assert await _signs_in(Path("myproj"), "admin", "long password 1")
    monkeypatch.chdir(root)
    inside = CliRunner().invoke(cli(), ["user", "add", "ada", "--password-stdin"],
                                input="long password 2\n")
    assert inside.exit_code == 0, inside.output
    assert await _signs_in(root, "ada", "long password 2")
