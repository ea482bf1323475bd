"""Fixtures for the CleverTap client tests: one sandbox over real HTTP for the whole session.

Accounts (each fault test has its own, so faults never leak between tests):
``ACC-1`` any region; ``US-ACC`` bound to us1; ``EV-ACC`` with a discarded event and a
3-property limit (528, 522); ``FAULT-*`` for fault injection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from syncline.config.models import CleverTapDestinationConfig
from syncline.destinations.clevertap.client import CleverTapClient
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

CASES = Path(__file__).parent / "cases" / "records.json"
FAULT_ACCOUNTS = ("FAULT-LAT", "FAULT-5XX", "FAULT-429", "FAULT-DROP", "FAULT-REJ", "FAULT-CONC")


def load_cases() -> list[dict[str, Any]]:
    """The shared table of good and bad records (cases/records.json)."""
    cases: list[dict[str, Any]] = json.loads(CASES.read_text())
    return cases


def make_config(
    account: str = "ACC-1", passcode: str = "pass1", **kw: Any
) -> CleverTapDestinationConfig:
    return CleverTapDestinationConfig(
        type="clevertap", account_id=account, passcode=SecretStr(passcode), **kw
    )


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    accounts = [
        Account("ACC-1", {"pass1"}),
        Account("US-ACC", {"pass-us"}, region="us1"),
        Account("EV-ACC", {"pass-ev"}, discarded_events={"Old Promo"}, max_event_properties=3),
        *(Account(a, {"pass-f"}) for a in FAULT_ACCOUNTS),
    ]
    with SandboxServer(accounts) as server:
        yield server


ClientFactory = Callable[..., CleverTapClient]


@pytest.fixture
def sandbox_client(sandbox: SandboxServer) -> Iterator[ClientFactory]:
    """Build clients pointed at the sandbox; every one is closed after the test."""
    made: list[CleverTapClient] = []

    def factory(account: str = "ACC-1", passcode: str = "pass1", **kw: Any) -> CleverTapClient:
        kw.setdefault("endpoint", sandbox.url)
        client = CleverTapClient(make_config(account, passcode, **kw))
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


class LoopbackRedirect(httpx.BaseTransport):
    """Wire-level stand-in for DNS: send real CleverTap host names to the sandbox's port.

    The ``Host`` header keeps the real name, so the sandbox sees which region was asked.
    """

    def __init__(self, sandbox_url: str) -> None:
        self._target = httpx.URL(sandbox_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._target.scheme, host=self._target.host, port=self._target.port
        )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
