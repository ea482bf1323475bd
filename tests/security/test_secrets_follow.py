"""Hole 4: a saved passcode followed a changed endpoint, and Test sent it to the new host.
Changing where a secret goes requires entering the secret again (API and dashboard)."""

from __future__ import annotations

import httpx
import pytest

from ..server.served import ACCOUNT, PASSCODE, Served
from .conftest import csrf

EVIL = "http://127.0.0.1:9"  # nothing listens; the point is that nothing is sent there


@pytest.mark.parametrize("change", [{"endpoint": EVIL}, {"region": "us1", "endpoint": None},
                                    {"account_id": "ACC-OTHER"}])
def test_the_api_asks_for_the_passcode_again(app: Served, change: dict[str, object]) -> None:
    with app.api() as api:
        before = api.get("/api/connections/destination/ct").json()["connection"]
        moved = api.put("/api/connections/destination/ct",
                        json={"config": {"type": "clevertap", **change}})
        assert moved.status_code == 422, moved.text
        assert moved.json()["errors"][0]["field"] == "body.config.passcode"
        assert api.get("/api/connections/destination/ct").json()["connection"] == before
        again = api.put("/api/connections/destination/ct", json={"config": {
            "type": "clevertap", **change, "passcode": PASSCODE}})
        assert again.status_code == 200, again.text


def test_the_dashboard_asks_for_the_passcode_again(app: Served, browser: httpx.Client) -> None:
    form = browser.get("/connections/destination/ct")
    saved = browser.post("/connections/save/destination", data={
        "name": "ct", "editing": "true", "account_id": ACCOUNT, "region": "eu1",
        "endpoint": EVIL, "passcode": "", "csrf_token": csrf(form.text)})
    assert saved.status_code == 422 and "enter `passcode` again" in saved.text
    with app.api() as api:
        shown = api.get("/api/connections/destination/ct").json()["connection"]
    assert shown["settings"]["endpoint"] == app.sandbox.url
