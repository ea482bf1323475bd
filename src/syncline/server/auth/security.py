"""Who may use the server: users with argon2 password hashes, API tokens, CSRF tokens.

Framework-free on purpose: ``syncline user add`` calls ``create_user`` with a store session, and
the FastAPI dependencies in ``syncline.server.auth.deps`` call the rest.

* Passwords are hashed with argon2id (``argon2-cffi`` defaults, RFC 9106); hashes made with
  older parameters are upgraded at the next successful sign-in.
* API tokens are 256 random bits, shown once; only their SHA-256 is stored (a slow hash adds
  nothing to a random 256-bit secret, and a digest can be looked up by equality).
* CSRF: one random token per sign-in session, put in every dashboard form as a hidden field and
  compared in constant time on every POST.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncline.errors import ConfigError
from syncline.server.auth.sessions import end_all_sessions
from syncline.server.errors import CsrfError
from syncline.server.project.models import ROLES, ApiToken, User, utcnow

__all__ = [
    "CSRF_FIELD",
    "TOKEN_PREFIX",
    "authenticate",
    "check_csrf",
    "check_role",
    "create_token",
    "create_user",
    "csrf_token",
    "delete_user",
    "get_user",
    "hash_password",
    "revoke_token",
    "set_password",
    "token_for",
    "token_role",
    "user_for_token",
    "verify_password",
]

TOKEN_PREFIX = "slk_"
CSRF_FIELD = "csrf_token"
_CSRF_KEY = "csrf"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_MIN_PASSWORD = 8
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; the parameters are inside the string)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False for a corrupt hash, never raises."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_role(role: str, cap: str | None = None) -> str:
    """``role`` if it is one of ``ROLES`` (and not above ``cap``), else a ConfigError."""
    if role not in ROLES:
        raise ConfigError(f"role `{role}` is not one of {', '.join(ROLES)}")
    if cap is not None and ROLES.index(role) > ROLES.index(cap):
        raise ConfigError(f"a token of a user with role `{cap}` cannot have role `{role}`; "
                          f"give it `{cap}` or less")
    return role


def create_user(session: Session, username: str, password: str, role: str = "admin") -> User:
    """Add a user who can sign in (``syncline user add``); the caller commits.

    Raises:
        ConfigError: the name is malformed or taken, the password is too short, or the role
            is unknown.
    """
    check_role(role)
    if not _USERNAME.match(username):
        raise ConfigError(
            f"user name `{username}` is not valid: use 1 to 64 letters, digits, `_`, `.`, `@` "
            f"or `-`, starting with a letter or digit"
        )
    _check_password(username, password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConfigError(
            f"user `{username}` already exists; choose another name or remove it first"
        )
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def _check_password(username: str, password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise ConfigError(
            f"the password for `{username}` is too short ({len(password)} characters): use at "
            f"least {_MIN_PASSWORD}, ideally a passphrase"
        )


def get_user(session: Session, username: str) -> User:
    """The user called ``username``; a ConfigError that says how to list users otherwise."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ConfigError(f"no user `{username}`; `syncline user list` shows them")
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Change a user's password and end every session of theirs; the caller commits."""
    _check_password(username, password)
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    end_all_sessions(session, user)
    return user


def delete_user(session: Session, username: str) -> None:
    """Remove a user: their sessions and API tokens end with them; the caller commits."""
    user = get_user(session, username)
    end_all_sessions(session, user)
    session.delete(user)  # tokens go too (cascade)
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the name and password match, else None (same work either way)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_dummy_hash(), password)  # answer as slowly as for a real user
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str,
                 role: str | None = None) -> tuple[ApiToken, str]:
    """A new API token for ``user``: the row, and the token itself (show it once; not kept).

    ``role`` narrows what the token may do (never beyond its user's role); None acts with the
    user's role.
    """
    if role is not None:
        check_role(role, cap=user.role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=name, token_hash=_digest(token), prefix=token[:10], role=role)
    session.add(row)
    session.flush()
    return row, token


def token_for(session: Session, token: str) -> ApiToken | None:
    """A valid, unrevoked API token's row (noting it was used), else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    return row


def token_role(row: ApiToken) -> str:
    """What a token may do: its own role, never more than its user's (whose role may drop)."""
    user_role = row.user.role
    if row.role is None or ROLES.index(row.role) > ROLES.index(user_role):
        return user_role
    return row.role


def user_for_token(session: Session, token: str) -> User | None:
    """The owner of a valid, unrevoked API token (and note it was used), else None."""
    row = token_for(session, token)
    return None if row is None else row.user


def revoke_token(session: Session, user: User, token_id: int) -> bool:
    """Revoke one of ``user``'s tokens; False if it has no such token."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return True


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The sign-in session's CSRF token, created on first use; put it in every form."""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def check_csrf(session: MutableMapping[str, Any], submitted: str | None) -> None:
    """Refuse a form whose hidden CSRF field is missing or is not this session's token.

    Raises:
        CsrfError: (403) with what to do: reload the page and send the form again.
    """
    expected = session.get(_CSRF_KEY)
    if not isinstance(expected, str) or not submitted or not hmac.compare_digest(
        expected.encode(), submitted.encode()
    ):
        raise CsrfError(
            "this form is missing its security token or it has expired; reload the page and "
            "submit the form again"
        )
