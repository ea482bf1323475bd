"""Without PostgreSQL or MariaDB, their tests skip with one reason (and fail where required)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.servers import need_server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    yield port


def test_an_unreachable_server_skips_with_one_clear_reason(
    closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCLINE_TEST_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        need_server("PostgreSQL", "127.0.0.1", closed_port)
    reason = str(skipped.value)
    assert f"PostgreSQL is not reachable at 127.0.0.1:{closed_port}" in reason
    assert "`.ci/run` starts PostgreSQL and MariaDB" in reason


def test_ci_fails_instead_of_skipping(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCLINE_TEST_SERVICES", "required")
    with pytest.raises(pytest.fail.Exception, match="not reachable"):
        need_server("MariaDB", "127.0.0.1", closed_port)


def test_a_listening_server_is_used() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        need_server("PostgreSQL", "127.0.0.1", int(sock.getsockname()[1]))  # no skip
