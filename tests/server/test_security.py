"""Users, passwords, API tokens and CSRF checks against a real SQLite store."""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from syncline.errors import ConfigError
from syncline.server.auth.security import (
    authenticate,
    check_csrf,
    create_token,
    create_user,
    csrf_token,
    hash_password,
    revoke_token,
    user_for_token,
    verify_password,
)
from syncline.server.errors import CsrfError
from syncline.server.project.models import ApiToken, User

from .conftest import PASSWORD, USERNAME


def test_hash_verifies_and_is_salted() -> None:
    first, second = hash_password("pw-123456"), hash_password("pw-123456")
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "pw-123456")
    assert not verify_password(first, "pw-1234567")
    assert not verify_password("not a hash", "pw-123456")


def test_user_signs_in_with_the_right_password_only(
    sessions: sessionmaker[Session], user: User
) -> None:
    with sessions() as session:
        stored = session.scalar(select(User).where(User.username == USERNAME))
        assert stored is not None
        assert PASSWORD not in stored.password_hash
        assert authenticate(session, USERNAME, PASSWORD) is not None
        assert authenticate(session, USERNAME, "wrong password") is None
        assert authenticate(session, "nobody", PASSWORD) is None


def test_weak_hashes_are_upgraded_at_sign_in(sessions: sessionmaker[Session], user: User) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with sessions() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        stored.password_hash = weak
        assert authenticate(session, USERNAME, PASSWORD) is stored
        assert stored.password_hash != weak
        assert verify_password(stored.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "needle"),
    [
        ("ada", "another-password", "already exists"),
        ("bad name", "long enough pw", "user name `bad name` is not valid"),
        ("", "long enough pw", "is not valid"),
        ("bob", "short", "too short (5 characters)"),
    ],
)
def test_create_user_refuses_with_a_reason(
    sessions: sessionmaker[Session], user: User, username: str, password: str, needle: str
) -> None:
    with sessions() as session, pytest.raises(ConfigError, match=re.escape(needle)):
        create_user(session, username, password)


def test_token_round_trip_stores_only_a_digest(
    sessions: sessionmaker[Session], user: User
) -> None:
    with sessions() as session:
        owner = session.get(User, user.id)
        assert owner is not None
        row, token = create_token(session, owner, "airflow")
        session.commit()
        assert token.startswith("slk_")
        assert len(token) > 40
        assert token not in (row.token_hash, row.prefix)
        assert token.startswith(row.prefix)
    with sessions() as session:
        found = user_for_token(session, token)
        assert found is not None
        assert found.username == USERNAME
        stored = session.scalar(select(ApiToken))
        assert stored is not None
        assert stored.last_used_at is not None
        assert user_for_token(session, token + "x") is None
        assert user_for_token(session, "Bearer " + token) is None


def test_revoked_tokens_stop_working(sessions: sessionmaker[Session], user: User) -> None:
    with sessions() as session:
        owner = session.get(User, user.id)
        assert owner is not None
        row, token = create_token(session, owner, "ci")
        other = create_user(session, "bob", "bob's password")
        assert not revoke_token(session, other, row.id)  # not bob's to revoke
        assert user_for_token(session, token) is not None
        assert revoke_token(session, owner, row.id)
        assert user_for_token(session, token) is None
        assert not revoke_token(session, owner, 9999)


def test_csrf_token_is_stable_per_session_and_checked() -> None:
    session: dict[str, Any] = {}
    token = csrf_token(session)
    assert csrf_token(session) == token
    check_csrf(session, token)
    assert csrf_token({}) != token


@pytest.mark.parametrize("submitted", [None, "", "forged-token"])
def test_csrf_missing_or_wrong_is_refused(submitted: str | None) -> None:
    session: dict[str, Any] = {}
    csrf_token(session)
    with pytest.raises(CsrfError, match="reload the page") as info:
        check_csrf(session, submitted)
    assert info.value.status == 403


def test_csrf_without_a_session_token_is_refused() -> None:
    with pytest.raises(CsrfError):
        check_csrf({}, "anything")
