"""Hole 2: a GET runs SQL. A link from another site rides on the SameSite=Lax session cookie,
so no GET may open the source, run a model query or change anything."""

from __future__ import annotations

import httpx

from ..server.served import Served
from .conftest import ATTACK, csrf, victim_rows


def test_a_crafted_wizard_link_runs_nothing(app: Served, browser: httpx.Client) -> None:
    for step in ("model", "key", "mappings", "confirm"):
        page = browser.get("/syncs/new", params={"source": "wh", "query": ATTACK, "step": step,
                                                  "destination": "ct", "object": "profile",
                                                  "sync_key": "id", "mode": "all"})
        assert page.status_code == 200
        assert 'id="sync_key"' not in page.text  # the first step, from nothing
    link = browser.get("/syncs/new", params={"source": "wh", "table": "main.users",
                                             "step": "key"})
    assert "user_id" not in link.text  # the source was not opened to list its columns
    assert victim_rows(app.root / "wh.duckdb") == 3


def test_a_wizard_step_without_the_csrf_token_is_refused(
    app: Served, browser: httpx.Client
) -> None:
    answers = {"source": "wh", "query": ATTACK, "step": "key"}
    assert browser.post("/syncs/new", data=answers).status_code == 403
    token = csrf(browser.get("/syncs/new").text)
    shown = browser.post("/syncs/new", data={**answers, "csrf_token": token})
    assert shown.status_code == 422 and "exactly one SELECT" in shown.text
    assert victim_rows(app.root / "wh.duckdb") == 3


def test_the_preview_and_the_edit_read_nothing_on_a_get(
    app: Served, browser: httpx.Client
) -> None:
    with app.api() as api:
        made = api.post("/api/syncs", json={"name": "users", "config": {
            "source": "wh", "destination": "ct", "object": "profile", "sync_key": "user_id",
            "model": {"table": "main.users"}, "mappings": {"sync_all": True}}})
        assert made.status_code == 201, made.text
    preview = browser.get("/syncs/users/preview")
    assert 'id="planned-new"' not in preview.text and 'id="show-preview"' in preview.text
    edit = browser.get("/syncs/users/edit", params={"step": "key", "table": "main.victim"})
    assert 'id="sync_key"' not in edit.text
    shown = browser.post("/syncs/users/preview", data={"csrf_token": csrf(preview.text)})
    assert 'id="planned-new"' in shown.text
