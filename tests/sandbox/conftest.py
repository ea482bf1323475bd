"""Fixtures: a sandbox served by uvicorn on loopback, and an authenticated httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

ACCOUNT = "TEST-ACC-0001"
PASSCODE = "test-passcode"
AUTH = {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE}
ACCOUNTS = [Account(ACCOUNT, {PASSCODE}), Account("IN-ACC", {"in-pass"}, "in1")]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(ACCOUNTS) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=10) as c:
        yield c
