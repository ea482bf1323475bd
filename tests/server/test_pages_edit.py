"""Dashboard: edit a sync with the wizard (pre-filled, checked against the source, saved as the
API's PUT saves), and delete a connection after a confirmation page, refused while in use."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .served import PASSWORD, SOURCE_BODY, USERNAME, USERS, Served, destination_body, served

CONFIG: dict[str, Any] = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id", "schedule": "0 6 * * *", "batch_size": 500,  # cron: no run at once
    "mappings": {"columns": [{"from": "email", "to": "Email"},
                             {"from": "age", "to": "Age", "type": "string"}]},
}
EDIT = {"source": "wh", "table": "main.users", "destination": "ct", "object": "profile",
        "sync_key": "user_id", "mode": "columns", "col": ["email", "age", "name"],
        "to_email": "Email", "to_age": "Age", "to_name": "Name", "schedule": "0 7 * * *"}


def csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


def step(client: httpx.Client, path: str, answers: dict[str, Any]) -> httpx.Response:
    """A wizard step: a POST with the session's CSRF token (a GET never opens the source)."""
    return client.post(path, data={**answers, "csrf_token": csrf(client.get(path).text)})


def previewed(client: httpx.Client, name: str) -> httpx.Response:
    """The preview's records, asked for with a POST (its GET reads nothing)."""
    page = client.get(f"/syncs/{name}/preview")
    return client.post(f"/syncs/{name}/preview", data={"csrf_token": csrf(page.text)})


def prefilled_answers(text: str) -> dict[str, Any]:
    """What the wizard's form would send: its hidden answers and each select's chosen option."""
    answers: dict[str, Any] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', text):
        if name != "csrf_token":
            value = html.unescape(value)
            answers[name] = [*answers[name], value] if name == "col" and name in answers else (
                [value] if name == "col" else value)
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', text, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        if chosen:
            answers[name] = html.unescape(chosen.group(1))
    return answers


def beside(text: str, answer: str) -> str:
    """The problem shown next to the field ``answer``."""
    match = re.search(rf'<span class="field-error" id="error-{answer}">([^<]*)</span>', text)
    assert match, f"no problem beside {answer}: {text}"
    return html.unescape(match.group(1))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Served, httpx.Client, httpx.Client]]:
    with served(tmp_path) as app, app.api() as api:
        api.post("/api/connections", json=destination_body(app.sandbox))
        api.post("/api/connections", json=SOURCE_BODY)
        assert api.post("/api/syncs", json={"name": "users", "config": CONFIG}).status_code == 201
        with httpx.Client(base_url=app.url, timeout=30, follow_redirects=True) as client:
            page = client.get("/sign-in")
            client.post("/sign-in", data={"username": USERNAME, "password": PASSWORD,
                                          "next": "/", "csrf_token": csrf(page.text)})
            yield app, client, api


def test_the_edit_shows_the_saved_values_at_each_step(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    _, client, _ = web
    assert 'href="/syncs/users/edit"' in client.get("/syncs/users").text
    assert 'href="/syncs/users/edit"' in client.get("/syncs").text  # from the list too
    first = client.get("/syncs/users/edit")
    assert first.status_code == 200 and "Edit sync users" in first.text
    assert '<option value="wh" selected>' in first.text
    assert '<option value="main.users" selected>' in first.text
    buttons = dict(re.findall(r'form="wizard" name="step" value="(\w+)" class="link">([^<]+)<',
                              first.text))
    assert list(buttons.values()) == ["Destination", "Sync key", "Mappings", "Confirm"]
    saved = prefilled_answers(first.text)
    key = step(client, "/syncs/users/edit", {**saved, "step": "key"})
    assert '<option value="user_id" selected>' in key.text
    mappings = step(client, "/syncs/users/edit", {**saved, "step": "mappings"})
    assert 'id="mode-columns" checked' in mappings.text
    assert 'value="email" checked' in mappings.text and 'value="age" checked' in mappings.text
    assert 'value="phone" checked' not in mappings.text
    assert 'name="to_age" value="Age"' in mappings.text
    confirm = step(client, "/syncs/users/edit", {**saved, "step": "confirm"})
    assert confirm.status_code == 200 and 'value="0 6 * * *"' in confirm.text
    assert "No change from the saved definition" in confirm.text
    assert 'id="snapshot-warning"' not in confirm.text


def test_a_valid_edit_is_saved_as_the_api_sees_it(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    app, client, api = web
    confirm = step(client, "/syncs/users/edit", {**EDIT, "step": "confirm"})
    assert confirm.status_code == 200
    assert "0 7 * * *" in confirm.text and 'id="changes"' in confirm.text
    assert 'id="snapshot-warning"' not in confirm.text  # never ran: nothing to resend
    saved = client.post("/syncs/users/edit", data={**EDIT, "csrf_token": csrf(confirm.text)})
    assert saved.status_code == 200 and str(saved.url).endswith("/syncs/users/preview")
    assert f'id="planned-new">{USERS}<' in previewed(client, "users").text
    config = api.get("/api/syncs/users").json()["sync"]["config"]
    assert config["schedule"] == "0 7 * * *"
    assert config["mappings"]["columns"] == [
        {"from": "email", "to": "Email"}, {"from": "age", "to": "Age", "type": "string"},
        {"from": "name", "to": "Name"},
    ]  # the saved type of `age` is kept though the wizard does not show it
    assert config["batch_size"] == 500  # and so are settings the wizard does not ask
    assert [getattr(s.schedule, "expression", None)
            for s in app.jobs.scheduler.syncs()] == ["0 7 * * *"]  # the scheduler was told


def test_an_invalid_edit_is_refused_beside_its_field_and_nothing_is_saved(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    _, client, api = web
    before = api.get("/api/syncs/users").json()["sync"]["config"]
    token = csrf(client.get("/syncs/users/edit").text)
    schedule = client.post("/syncs/users/edit", data={**EDIT, "schedule": "whenever",
                                                      "csrf_token": token})
    assert schedule.status_code == 422
    assert "whenever" in beside(schedule.text, "schedule")
    key = client.post("/syncs/users/edit", data={**EDIT, "table": "main.orders",
                                                 "col": ["amount"], "csrf_token": token})
    assert key.status_code == 422 and 'id="sync_key"' in key.text  # back at the key step
    assert 'id="warning-sync_key"' in key.text and "not unique" in key.text  # warned once
    column = client.post("/syncs/users/edit", data={**EDIT, "col": ["nope"],
                                                    "csrf_token": token})
    assert column.status_code == 422
    assert "`nope` is not in the table" in beside(column.text, "mappings")
    no_csrf = client.post("/syncs/users/edit", data=EDIT)
    assert no_csrf.status_code == 403
    assert api.get("/api/syncs/users").json()["sync"]["config"] == before


def test_a_new_sync_key_is_warned_about_and_must_be_acknowledged(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    app, client, api = web
    token = csrf(client.get("/syncs/users").text)
    ran = client.post("/syncs/users/run", data={"csrf_token": token})
    app.wait_run(api, int(str(ran.url).rsplit("/", 1)[1]))
    same_key = step(client, "/syncs/users/edit", {**EDIT, "step": "confirm"})
    warning = html.unescape(same_key.text)
    assert "Every profile is sent again on the next run: the fields sent changed" in warning
    new_key = {**EDIT, "sync_key": "email"}
    confirm = step(client, "/syncs/users/edit", {**new_key, "step": "confirm"})
    text = html.unescape(confirm.text)
    assert 'id="snapshot-warning"' in text
    assert "The next run treats every row as new" in text and "keyed by sync key `user_id`" in text
    assert "Profiles will be identified by `email`" in text
    refused = client.post("/syncs/users/edit", data={**new_key, "csrf_token": csrf(confirm.text)})
    assert refused.status_code == 422 and "I understand" in beside(refused.text, "acknowledge")
    assert api.get("/api/syncs/users").json()["sync"]["config"]["sync_key"] == "user_id"
    saved = client.post("/syncs/users/edit", data={**new_key, "acknowledge": "yes",
                                                   "csrf_token": csrf(confirm.text)})
    assert str(saved.url).endswith("/syncs/users/preview")
    # as warned: every row is new again
    assert f'id="planned-new">{USERS}<' in previewed(client, "users").text
    assert api.get("/api/syncs/users").json()["sync"]["config"]["sync_key"] == "email"


def test_a_connection_is_deleted_after_confirmation_unless_syncs_use_it(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    app, client, api = web
    api.post("/api/connections", json=destination_body(app.sandbox, "spare"))
    listed = client.get("/connections")
    assert 'href="/connections/source/wh/delete"' in listed.text
    used = client.get("/connections/source/wh/delete")
    assert 'id="used-by"' in used.text and 'href="/syncs/users/edit"' in used.text
    assert 'id="confirm-delete"' not in used.text
    refused = client.post("/connections/source/wh/delete", data={"csrf_token": csrf(used.text)})
    assert refused.status_code == 409
    assert "used by sync(s) users" in html.unescape(refused.text)
    assert api.get("/api/connections/source/wh").status_code == 200
    confirm = client.get("/connections/destination/spare/delete")
    assert 'id="confirm-delete"' in confirm.text and "Delete destination spare?" in confirm.text
    assert client.post("/connections/destination/spare/delete").status_code == 403  # no CSRF
    deleted = client.post("/connections/destination/spare/delete",
                          data={"csrf_token": csrf(confirm.text)})
    assert str(deleted.url).endswith("/connections")
    assert "Deleted destination `spare`." in html.unescape(deleted.text)
    assert "spare" not in html.unescape(client.get("/connections").text)  # the notice shows once
    assert api.get("/api/connections/destination/spare").status_code == 404


def test_edit_and_delete_need_a_signed_in_user(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    app, _, _ = web
    with httpx.Client(base_url=app.url, timeout=30) as anonymous:
        for path in ("/syncs/users/edit", "/connections/source/wh/delete"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and "/sign-in" in answer.headers["location"]


def test_a_query_model_made_by_the_api_is_edited_as_a_query(
    web: tuple[Served, httpx.Client, httpx.Client],
) -> None:
    _, client, api = web
    query = "SELECT user_id, email FROM users WHERE age > 25"
    config = {**CONFIG, "model": {"query": query}, "mappings": {"sync_all": True}}
    config.pop("schedule")
    assert api.post("/api/syncs", json={"name": "older", "config": config}).status_code == 201
    first = client.get("/syncs/older/edit")
    assert f">{query}</textarea>" in html.unescape(first.text)
    assert 'id="kind-query" checked' in first.text  # the SQL editor is the model's answer
    answers = {"source": "wh", "query": query, "destination": "ct", "object": "profile",
               "sync_key": "user_id", "mode": "all", "schedule": "0 5 * * *"}
    saved = client.post("/syncs/older/edit", data={**answers, "csrf_token": csrf(first.text)})
    assert str(saved.url).endswith("/syncs/older/preview")
    after = api.get("/api/syncs/older").json()["sync"]["config"]
    assert after["model"] == {"query": query} and after["schedule"] == "0 5 * * *"
    assert after["batch_size"] == 500
