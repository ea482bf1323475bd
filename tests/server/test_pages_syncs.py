"""Dashboard sync pages over real HTTP: each wizard step checked against the source, the sync
page (chart, schedule, pause), the run page (counts, filter by code, CSV, status.json)."""

from __future__ import annotations

import html
import re

import httpx

from syncline.store import DroppedField

from .served import (
    ACCOUNT,
    BAD_PHONE_USER,
    Served,
)

WIZARD = {"source": "wh", "table": "main.users", "destination": "ct", "object": "profile",
          "sync_key": "user_id", "mode": "all"}


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def step(client: httpx.Client, answers: dict[str, str], path: str = "/syncs/new") -> httpx.Response:
    """A wizard step: a POST with the session's CSRF token (a GET never opens the source)."""
    return client.post(path, data={**answers, "csrf_token": csrf(client.get(path).text)})


def previewed(client: httpx.Client, name: str) -> httpx.Response:
    """The preview's records, asked for with a POST (its GET reads nothing)."""
    page = client.get(f"/syncs/{name}/preview")
    return client.post(f"/syncs/{name}/preview", data={"csrf_token": csrf(page.text)})




def test_each_wizard_step_is_checked_against_the_source(
    web: tuple[Served, httpx.Client],
) -> None:
    _, client = web
    first = step(client, {"source": "wh", "step": "model"})
    assert "main.users" in first.text and "main.orders" in first.text
    gone = step(client, {**WIZARD, "table": "main.nope", "step": "key"})
    assert gone.status_code == 422 and "cannot be read" in gone.text
    dup = step(client, {**WIZARD, "table": "main.orders", "step": "mappings"})
    assert 'id="warning-sync_key"' in dup.text and "not unique" in dup.text  # shown, not refused
    event = step(client, {**WIZARD, "object": "event", "step": "mappings"})
    assert "identity" in event.text and "event name" in event.text
    none = step(client, {**WIZARD, "mode": "columns", "step": "confirm"})
    assert none.status_code == 422 and "Tick at least one column" in none.text
    mapping = step(client, {**WIZARD, "step": "mappings"})
    assert 'name="to_email" value="Email"' in mapping.text  # a standard field, matched
    confirm = step(client, {**WIZARD, "step": "confirm"})
    assert confirm.status_code == 200
    created = client.post("/syncs/new", data={**WIZARD, "name": "users",
                                              "csrf_token": csrf(confirm.text)})
    assert created.status_code == 200 and str(created.url).endswith("/syncs/users/preview")
    preview = previewed(client, "users").text
    assert '"identity": "u001"' in html.unescape(preview)
    # every planned row is checked before anything is sent: u007's phone would be refused
    assert 'id="would-reject">1<' in preview and 'id="would-drop">0<' in preview
    assert "<td>516</td><td>phone</td>" in preview and BAD_PHONE_USER in preview
    taken = client.post("/syncs/new", data={**WIZARD, "name": "users",
                                            "csrf_token": csrf(confirm.text)})
    assert taken.status_code == 422 and "already exists" in taken.text


def test_the_dashboards_full_resync_of_events_asks_for_resend_events(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    params = {**WIZARD, "object": "event", "table": "main.orders", "sync_key": "order_id",
              "identity_column": "user_id", "event_name": "Charged", "mode": "all"}
    confirm = client.get("/syncs/new", params={**params, "step": "confirm"})
    client.post("/syncs/new", data={**params, "name": "orders", "csrf_token": csrf(confirm.text)})
    sync_page = client.get("/syncs/orders")
    assert 'name="resend_events"' in sync_page.text  # the confirmation box of #full-resync
    refused = client.post("/syncs/orders/run", data={"full": "true",
                                                     "csrf_token": csrf(sync_page.text)})
    assert 'role="alert"' in refused.text and "duplicated" in html.unescape(refused.text)
    with app.api() as api:
        assert api.get("/api/runs", params={"sync": "orders"}).json()["runs"] == []


def test_the_run_page_shows_what_a_run_did_with_earlier_in_doubt_keys(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    params = {**WIZARD, "object": "event", "table": "main.orders", "sync_key": "order_id",
              "identity_column": "user_id", "event_name": "Charged", "mode": "all"}
    confirm = client.get("/syncs/new", params={**params, "step": "confirm"})
    client.post("/syncs/new", data={**params, "name": "orders", "csrf_token": csrf(confirm.text)})
    app.sandbox.set_faults(ACCOUNT, bad_answer="inconsistent", bad_answer_rate=1.0)
    runs = []
    for _ in range(2):
        sync_page = client.get("/syncs/orders")
        ran = client.post("/syncs/orders/run", data={"csrf_token": csrf(sync_page.text)})
        runs.append(int(str(ran.url).rsplit("/", 1)[1]))
        with app.api() as api:
            app.wait_run(api, runs[-1])
        app.sandbox.set_faults(ACCOUNT)
    first, second = (client.get(f"/runs/{r}/status.json").json()["run"] for r in runs)
    assert (first["in_doubt"], first["accepted"]) == (6, 0)  # a 200 it could not believe
    assert (second["in_doubt_skipped"], second["in_doubt"]) == (6, 0)
    page = client.get(f"/runs/{runs[1]}").text
    assert re.search(r'id="count-in-doubt-skipped">6<', page)


def test_run_page_counts_filter_csv_and_sync_page(web: tuple[Served, httpx.Client]) -> None:
    app, client = web
    confirm = step(client, {**WIZARD, "step": "confirm"})
    client.post("/syncs/new", data={**WIZARD, "name": "users", "csrf_token": csrf(confirm.text)})
    sync_page = client.get("/syncs/users")
    ran = client.post("/syncs/users/run", data={"csrf_token": csrf(sync_page.text)})
    run_id = int(str(ran.url).rsplit("/", 1)[1])
    with app.api() as api:
        app.wait_run(api, run_id)
    status = client.get(f"/runs/{run_id}/status.json").json()
    assert status["run"]["status"] == "succeeded_with_rejections"
    page = client.get(f"/runs/{run_id}")
    assert "<td>516</td><td>phone</td>" in page.text
    listed = client.get(f"/runs/{run_id}/rejections")
    assert BAD_PHONE_USER in listed.text and "516" in listed.text
    assert BAD_PHONE_USER not in client.get(f"/runs/{run_id}/rejections",
                                            params={"code": "999"}).text
    csv_text = client.get(f"/runs/{run_id}/rejections.csv").text
    assert csv_text.splitlines()[1].startswith(f"{BAD_PHONE_USER},516,phone,")
    sync_page = client.get("/syncs/users")
    assert "<svg" in sync_page.text and 'class="sent"' in sync_page.text
    token = csrf(sync_page.text)
    bad = client.post("/syncs/users/schedule", data={"schedule": "whenever", "csrf_token": token})
    assert "whenever" in bad.text and 'role="alert"' in bad.text
    client.post("/syncs/users/schedule", data={"schedule": "every 2h", "csrf_token": token})
    client.post("/syncs/users/pause", data={"csrf_token": token})
    paused = client.get("/syncs/users")
    assert "Resume schedule" in paused.text and "paused" in paused.text
    assert [s.paused for s in app.jobs.scheduler.syncs()] == [True]
    listed = client.get("/syncs")
    assert "every 2h" in listed.text and f"/runs/{run_id}" in listed.text
    deleted = client.post("/syncs/users/delete", data={"csrf_token": token})
    assert str(deleted.url).endswith("/syncs") and "/syncs/users" not in deleted.text
    assert app.jobs.scheduler.syncs() == []


def test_run_page_lists_dropped_fields(web: tuple[Served, httpx.Client]) -> None:
    app, client = web
    store = app.jobs.store
    run_id = store.start_run("users")
    reason = "Profile data is incorrect. Gender is not valid"
    store.add_dropped_fields(run_id, [DroppedField("u005", "Gender", "gender", "514", reason)])
    store.finish_run(run_id, "succeeded", sent=1, accepted=1, fields_dropped=1)
    page = client.get(f"/runs/{run_id}")
    assert 'id="count-fields-dropped">1<' in page.text
    assert "<td>u005</td><td>Gender</td><td>gender</td><td>514</td>" in page.text
    plain = client.get(f"/runs/{store.start_run('users')}")
    assert "dropped-fields" not in plain.text
