"""A fresh CleverTap sandbox per test, served over real HTTP on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

ACCOUNT = "TEST-ACC-0001"
PASSCODE = "test-passcode"


class SandboxView:
    """What a test reads back from the sandbox, in CleverTap's own shapes."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    def profiles(self, account: str) -> dict[str, dict[str, Any]]:
        rows = self.server.store.profiles(account, limit=1_000_000)
        return {key.split(":", 1)[1]: data for key, data in rows}

    def events(self, account: str, name: str | None = None) -> list[dict[str, Any]]:
        return [
            {"identity": e["identity"], "evtName": e["name"], "ts": e["ts"], "evtData": e["data"]}
            for e in self.server.events(account, name=name)
        ]

    def upload_count(self, account: str) -> int:
        return int(self.server.stats(account)["uploads"])

    def upload_attempts(self, account: str) -> int:
        """Every upload request, faulted ones included (the fault plan counts them)."""
        return self.server.state.plan(account).uploads

    def set_faults(self, account: str, **faults: Any) -> None:
        self.server.set_faults(account, **faults)


@pytest.fixture
def sandbox_account() -> Iterator[dict[str, Any]]:
    with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as server:
        yield {"account_id": ACCOUNT, "passcode": PASSCODE, "url": server.url,
               "server": SandboxView(server)}
