"""The recovery table is executable: what each error class means to the delivery loop."""

from __future__ import annotations

import pytest

from syncline import errors
from syncline.errors import Terminal, Transient

RECOVERY = {
    errors.ConfigError: Terminal,
    errors.ModelError: Terminal,
    errors.DestinationAuthError: Terminal,
    errors.DestinationRequestError: Terminal,
    errors.DestinationUnavailableError: Transient,
    errors.DestinationRateLimitError: Transient,
    errors.DestinationAnswerError: Transient,
    errors.DestinationUnreachableError: Transient,
    errors.StoreError: Terminal,
    errors.RunLockedError: Terminal,
    errors.RunFailedError: Terminal,
    errors.AlertDeliveryError: Transient,
    errors.MassDeleteError: Terminal,
    errors.SnapshotMismatchError: Terminal,
}


@pytest.mark.parametrize("cls", RECOVERY, ids=lambda c: c.__name__)
def test_every_error_has_one_recovery(cls: type[Exception]) -> None:
    expected = RECOVERY[cls]
    other = Transient if expected is Terminal else Terminal
    assert issubclass(cls, errors.SynclineError)
    assert issubclass(cls, expected)
    assert not issubclass(cls, other)


def test_all_is_sorted_and_complete() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    public = {n for n, v in vars(errors).items() if isinstance(v, type) and not n.startswith("_")}
    assert public == set(errors.__all__)
