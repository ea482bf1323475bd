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
    assert data["destinations"]["ct"]["passcode"] == "${SYNCLINE_CT_PASSCODE}"
    assert data["syncs"]["users"]["schedule"] == "every 1h"
    assert "yml-passcode" not in out.read_text()
    assert env_file.read_text() == "SYNCLINE_CT_PASSCODE=yml-passcode\n"
    assert env_file.stat().st_mode & 0o077 == 0


def test_export_without_the_secret_key_says_how_to_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCLINE_SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli(), ["export", "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "SYNCLINE_SECRET_KEY" in result.output
