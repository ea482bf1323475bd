"""Secrets at rest: round trip, a wrong key fails clearly, masking, the key's own errors."""

from __future__ import annotations

import pytest

from syncline.errors import ConfigError
from syncline.server.project.secrets import (
    KEY_ENV,
    SecretBox,
    derive_key,
    mask,
    secret_key_from_env,
)

KEY = "k" * 20


def test_seal_and_open_round_trip_without_leaving_the_plaintext() -> None:
    box = SecretBox(KEY)
    sealed = box.seal("passcode-ÄÖ-123")
    assert "passcode" not in sealed
    assert sealed != box.seal("passcode-ÄÖ-123")  # random IV: equal secrets look different
    assert SecretBox(KEY).open(sealed) == "passcode-ÄÖ-123"


def test_a_different_key_fails_clearly() -> None:
    sealed = SecretBox(KEY).seal("s3cret")
    with pytest.raises(ConfigError) as info:
        SecretBox("another-key-entirely").open(sealed, what="destination `ct` passcode")
    message = str(info.value)
    assert "cannot decrypt destination `ct` passcode" in message
    assert KEY_ENV in message
    assert "s3cret" not in message


def test_an_altered_value_fails_clearly() -> None:
    sealed = SecretBox(KEY).seal("s3cret")
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(ConfigError, match="altered"):
        SecretBox(KEY).open(tampered)
    with pytest.raises(ConfigError, match="altered"):
        SecretBox(KEY).open("not a token é")


def test_keys_are_derived_per_purpose() -> None:
    assert len(derive_key("short but fine", "secrets")) == 32
    assert derive_key(KEY, "secrets") != derive_key(KEY, "sessions")
    assert derive_key(KEY, "secrets") == derive_key(KEY, "secrets")


def test_missing_key_says_how_to_create_one() -> None:
    with pytest.raises(ConfigError) as info:
        SecretBox.from_env({})
    assert f"{KEY_ENV} is not set" in str(info.value)
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in str(info.value)


def test_short_key_is_refused_and_a_good_one_is_read() -> None:
    with pytest.raises(ConfigError, match="too short"):
        secret_key_from_env({KEY_ENV: "abc"})
    assert secret_key_from_env({KEY_ENV: f"  {KEY}\n"}) == KEY
    assert SecretBox.from_env({KEY_ENV: KEY}).open(SecretBox(KEY).seal("x")) == "x"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, ""),
        ("", ""),
        ("abc", "••••••••"),
        ("fifteen-chars!!", "••••••••"),
        ("sk_live_0123456789abcdefWXYZ", "••••••••WXYZ"),
    ],
)
def test_mask_never_shows_short_secrets(value: str | None, shown: str) -> None:
    assert mask(value) == shown
