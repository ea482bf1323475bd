"""The database servers some tests need, and one clear skip when they are not running.

Tests of the PostgreSQL and MariaDB sources and of the PostgreSQL state store use the servers on
this machine (see the README's "Development"). Without them, a developer's ``pytest`` should say
so once per server, not fail with a connection error per test; CI (``.ci/run``) starts them and
sets ``SYNCLINE_TEST_SERVICES=required``, so there a missing server fails the run instead of
skipping it.
"""

from __future__ import annotations

import os
import socket
from functools import cache

import pytest

__all__ = ["need_mariadb", "need_postgres", "need_server"]

POSTGRES = ("PostgreSQL", "127.0.0.1", 5432)
MARIADB = ("MariaDB", "127.0.0.1", 3306)


@cache
def _unreachable(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be reached, or None when something listens there."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def need_server(name: str, host: str, port: int) -> None:
    """Skip the calling test (fail it under ``SYNCLINE_TEST_SERVICES=required``) when the
    server is not reachable; the reason is the same for every test, so pytest folds them."""
    why = _unreachable(host, port)
    if why is None:
        return
    reason = (f"{name} is not reachable at {host}:{port} ({why}); start it (`.ci/run` starts "
              f"PostgreSQL and MariaDB) to run the tests that need it")
    if os.environ.get("SYNCLINE_TEST_SERVICES") == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def need_postgres() -> None:
    """The local PostgreSQL (127.0.0.1:5432, user postgres, trust auth)."""
    need_server(*POSTGRES)


def need_mariadb() -> None:
    """The local MariaDB (127.0.0.1:3306, user root, no password)."""
    need_server(*MARIADB)
