"""Dashboard: Connections → + New Destination (CleverTap, against the sandbox) → Test → Finish."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

from .test_app import csrf_of, sign_in

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer([Account("ACC-WEB", {"web-passcode"})]) as server:
        yield server


async def save_destination(
    client: httpx.AsyncClient, sandbox: SandboxServer, passcode: str
) -> httpx.Response:
    form = await client.get("/connections/new/destination")
    assert form.status_code == 200
    assert "Account ID" in form.text and "Passcode" in form.text and "Region" in form.text
    data = {"csrf_token": csrf_of(form.text), "name": "ct", "account_id": "ACC-WEB",
            "passcode": passcode, "region": "eu1", "endpoint": sandbox.url, "editing": "false"}
    return await client.post("/connections/save/destination", data=data)


@pytest.mark.usefixtures("user")
async def test_a_destination_is_added_tested_and_finished(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    assert (await client.get("/connections")).status_code == 303  # sign in first
    await sign_in(client)
    listed = await client.get("/connections")
    assert "+ New Destination" in listed.text and "+ New Source" in listed.text
    answer = await save_destination(client, sandbox, "wrong-passcode")
    assert answer.status_code == 200
    assert "✗" in answer.text and 'id="finish"' not in answer.text
    assert "wrong-passcode" not in answer.text
    fixed = await client.post("/connections/save/destination", data={
        "csrf_token": csrf_of(answer.text), "name": "ct", "account_id": "ACC-WEB",
        "passcode": "web-passcode", "region": "eu1", "endpoint": sandbox.url,
        "editing": "true",
    })
    assert "✓" in fixed.text and 'id="finish"' in fixed.text, fixed.text
    assert "web-passcode" not in fixed.text
    listed = await client.get("/connections")
    assert "ACC-WEB" in listed.text and "web-passcode" not in listed.text


@pytest.mark.usefixtures("user")
async def test_a_bad_form_is_shown_again_with_the_field_and_reason(
    client: httpx.AsyncClient, sandbox: SandboxServer
) -> None:
    await sign_in(client)
    form = await client.get("/connections/new/destination")
    data = {"csrf_token": csrf_of(form.text), "name": "bad name", "account_id": "A",
            "passcode": "p", "region": "eu1", "editing": "false"}
    answer = await client.post("/connections/save/destination", data=data)
    assert answer.status_code == 422
    assert "not a valid name" in answer.text
    no_csrf = await client.post("/connections/save/destination", data={"name": "x"})
    assert no_csrf.status_code == 403
