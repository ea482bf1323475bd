"""Secrets at rest: sealed with a key from ``SYNCLINE_SECRET_KEY``, masked everywhere they show.

The environment variable may hold any string a person generated; HKDF-SHA256 stretches it into
the 32-byte keys Fernet (AES-128-CBC + HMAC-SHA256) and the session cookie signer need, each
with its own ``purpose`` so one derived key never serves two uses. A secret saved from the
dashboard or API is never sent back: pages, logs and API answers show ``mask(value)``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from syncline.errors import ConfigError

__all__ = ["KEY_ENV", "SecretBox", "derive_key", "mask", "secret_key_from_env"]

KEY_ENV = "SYNCLINE_SECRET_KEY"
_HOW_TO_CREATE = (
    'create one with `python -c "import secrets; print(secrets.token_urlsafe(32))"`, '
    f"export it as {KEY_ENV}, and keep it: secrets saved with it cannot be read without it"
)
_MIN_KEY_CHARS = 16
_SALT = b"syncline/v1"
_MASK = "••••••••"


def secret_key_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Read the server's secret key, failing with how to create one.

    Raises:
        ConfigError: the variable is missing, empty or too short to be a real secret.
    """
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV, "").strip()
    if not value:
        raise ConfigError(f"{KEY_ENV} is not set: {_HOW_TO_CREATE}")
    if len(value) < _MIN_KEY_CHARS:
        raise ConfigError(
            f"{KEY_ENV} is too short ({len(value)} characters, at least {_MIN_KEY_CHARS}): "
            f"{_HOW_TO_CREATE}"
        )
    return value


def derive_key(secret: str, purpose: str) -> bytes:
    """32 bytes for ``purpose`` (``secrets``, ``sessions``...) from any-length ``secret``."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode())
    return hkdf.derive(secret.encode())


class SecretBox:
    """Encrypts and decrypts secret strings with a key derived from the server's secret."""

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(derive_key(secret, "secrets"))
        self._fernet = Fernet(key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretBox:
        """A box keyed by ``SYNCLINE_SECRET_KEY`` (see ``secret_key_from_env``)."""
        return cls(secret_key_from_env(environ))

    def seal(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; the result is ASCII, safe for a text column."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, sealed: str, *, what: str = "a saved secret") -> str:
        """Decrypt what ``seal`` produced.

        Args:
            sealed: the stored ciphertext.
            what: names the secret in the error, e.g. ``destination `ct` passcode``.

        Raises:
            ConfigError: the key differs from the one it was saved with, or the value was
                altered.
        """
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise ConfigError(
                f"cannot decrypt {what}: {KEY_ENV} is not the key it was saved with (or the "
                f"stored value was altered); restore the previous {KEY_ENV}, or enter the "
                f"secret again"
            ) from exc


def mask(value: str | None) -> str:
    """What to show instead of a secret: nothing of short ones, the last 4 of long ones.

    Long secrets (API keys, tokens) keep 4 trailing characters so a person can tell two
    apart; anything under 16 characters (a passcode, a password) shows none at all.
    """
    if not value:
        return ""
    if len(value) < 16:
        return _MASK
    return f"{_MASK}{value[-4:]}"
