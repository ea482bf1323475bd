"""Connection definitions in a real SQLite store: secrets sealed at rest, masked in views."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from syncline.errors import ConfigError
from syncline.server.project.connections import get_connection, save_connection, secrets_of, view
from syncline.server.project.secrets import SecretBox

from .conftest import SECRET

PASSCODE = "WVT-ABC-XYZ-0123"


def save(session: Session, box: SecretBox, **secrets: str) -> None:
    save_connection(
        session, box, kind="destination", name="ct", type="clevertap",
        settings={"account_id": "TEST-123", "region": "eu1"}, secrets=secrets,
    )


def test_secrets_are_sealed_at_rest_and_masked_in_views(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    box = SecretBox(SECRET)
    with sessions() as session:
        save(session, box, passcode=PASSCODE)
        session.commit()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM syncline_connections")).one()
    raw = " ".join(str(value) for value in stored)
    assert PASSCODE not in raw
    assert "TEST-123" in raw
    with sessions() as session:
        row = get_connection(session, "destination", "ct")
        assert row is not None
        shown = view(box, row)
        assert shown["settings"] == {"account_id": "TEST-123", "region": "eu1"}
        assert shown["secrets"] == {"passcode": "••••••••0123"}
        assert PASSCODE not in str(shown)
        assert secrets_of(box, row) == {"passcode": PASSCODE}


def test_an_empty_secret_keeps_the_saved_one(sessions: sessionmaker[Session]) -> None:
    box = SecretBox(SECRET)
    with sessions() as session:
        save(session, box, passcode=PASSCODE)
        save(session, box, passcode="")
        row = get_connection(session, "destination", "ct")
        assert row is not None
        assert secrets_of(box, row) == {"passcode": PASSCODE}
        save(session, box, passcode="new-passcode-value")
        assert secrets_of(box, row) == {"passcode": "new-passcode-value"}


def test_another_key_cannot_open_saved_secrets(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        save(session, SecretBox(SECRET), passcode=PASSCODE)
        row = get_connection(session, "destination", "ct")
        assert row is not None
        with pytest.raises(ConfigError, match="secrets of destination `ct`"):
            view(SecretBox("some-other-secret-key"), row)


def test_a_field_cannot_be_setting_and_secret(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(ConfigError, match="region given both"):
        save(session, SecretBox(SECRET), region="eu1")
