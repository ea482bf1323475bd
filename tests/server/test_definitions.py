"""Definitions in the store: yml → store (apply), store → Project (runs), store → yml (export)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from syncline.config.models import Project
from syncline.errors import ConfigError
from syncline.server.project.definitions import apply_project, export_project, stored_project
from syncline.server.project.models import Connection, SyncDefinition
from syncline.server.project.secrets import SecretBox

from .conftest import SECRET

PROJECT = {
    "sources": {"wh": {"type": "duckdb", "path": "wh.duckdb"}},
    "destinations": {
        "ct": {"type": "clevertap", "account_id": "ACC", "passcode": "s3cret-pass",
               "region": "in1"},
    },
    "syncs": {
        "users": {"source": "wh", "model": {"table": "main.users"}, "destination": "ct",
                  "object": "profile", "sync_key": "user_id", "schedule": "every 1h",
                  "mappings": {"columns": [{"from": "email", "to": "Email"}]}},
        "orders": {"source": "wh", "model": {"query": "SELECT * FROM orders"},
                   "destination": "ct", "object": "event", "sync_key": "order_id",
                   "identity_column": "user_id", "event_name": "Charged"},
    },
}


def test_apply_then_stored_project_gives_the_same_project(
    sessions: sessionmaker[Session],
) -> None:
    box = SecretBox(SECRET)
    project = Project.model_validate(PROJECT)
    with sessions() as session:
        counts = apply_project(session, box, project)
        session.commit()
    assert counts == {"sources": 1, "destinations": 1, "syncs": 2}
    with sessions() as session:
        rows = {row.name: row for row in session.query(Connection)}
        assert "s3cret-pass" not in rows["ct"].settings + (rows["ct"].sealed_secrets or "")
        assert stored_project(session, box) == project
        # applying again replaces, it does not duplicate
        apply_project(session, box, project)
        session.commit()
        assert session.query(SyncDefinition).count() == 2


def test_export_writes_secrets_as_env_references(sessions: sessionmaker[Session]) -> None:
    box = SecretBox(SECRET)
    with sessions() as session:
        apply_project(session, box, Project.model_validate(PROJECT))
        session.commit()
        data, env = export_project(session, box)
    assert data["destinations"]["ct"]["passcode"] == "${SYNCLINE_CT_PASSCODE}"
    assert env == {"SYNCLINE_CT_PASSCODE": "s3cret-pass"}
    assert "s3cret-pass" not in json.dumps(data)
    resolved = json.loads(json.dumps(data).replace("${SYNCLINE_CT_PASSCODE}", "s3cret-pass"))
    assert Project.model_validate(resolved) == Project.model_validate(PROJECT)


def test_a_broken_stored_definition_names_the_part(sessions: sessionmaker[Session]) -> None:
    box = SecretBox(SECRET)
    with sessions() as session:
        apply_project(session, box, Project.model_validate(PROJECT))
        session.commit()
        row = session.query(SyncDefinition).filter_by(name="users").one()
        row.body = json.dumps({**json.loads(row.body), "object": "banana"})
        session.commit()
        with pytest.raises(ConfigError, match=r"syncs\.users\.object"):
            stored_project(session, box)


def test_a_plugin_connection_keeps_its_keys_and_seals_its_text(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an installed plugin registering source type `inline` (only its name is read here)
    info = tmp_path / "syncline_inline-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: syncline-inline\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[syncline.sources]\ninline = syncline_inline:open\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = json.loads(json.dumps(PROJECT))
    data["sources"]["crm"] = {"type": "inline", "rows": [{"id": "u1"}], "token": "t0ps3cret"}
    project = Project.model_validate(data)
    box = SecretBox(SECRET)
    with sessions() as session:
        apply_project(session, box, project)
        session.commit()
        row = session.query(Connection).filter_by(name="crm").one()
        assert json.loads(row.settings) == {"rows": [{"id": "u1"}]}
        assert "t0ps3cret" not in row.settings + (row.sealed_secrets or "")
        assert stored_project(session, box) == project  # nothing lost on the way
        exported, env = export_project(session, box)
    assert exported["sources"]["crm"]["token"] == "${SYNCLINE_CRM_TOKEN}"
    assert env["SYNCLINE_CRM_TOKEN"] == "t0ps3cret"
