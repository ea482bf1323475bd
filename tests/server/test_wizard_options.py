"""The wizard's model, key and option steps over real HTTP against a DuckDB source: a SQL model
with *Preview rows*, key warnings that may be kept, event and profile options, columns that
cannot be sent flagged at the mappings step, and a schedule that waits for the preview."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from .served import USERS, Served

BASE = {"source": "wh", "destination": "ct", "object": "profile", "mode": "all"}
ITEMS_QUERY = ("SELECT order_id, user_id, amount, [{'name': 'Book', 'price': amount}] AS items "
               "FROM orders")


def csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text
    return match.group(1)


def post(client: httpx.Client, answers: dict[str, Any]) -> httpx.Response:
    """A wizard POST with the session's CSRF token."""
    token = csrf(client.get("/syncs/new").text)
    return client.post("/syncs/new", data={**answers, "csrf_token": token})


def text_of(response: httpx.Response, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', response.text, re.S)
    assert match, f"no #{element_id} in {response.text}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(2)))


def config_of(app: Served, name: str) -> dict[str, Any]:
    with app.api() as api:
        found: dict[str, Any] = api.get(f"/api/syncs/{name}").json()["sync"]["config"]
        return found




def test_a_sql_model_shows_its_columns_and_first_rows_then_syncs(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    query = "SELECT user_id, email, age FROM users WHERE age > 30 ORDER BY user_id"
    shown = post(client, {"source": "wh", "model_kind": "query", "query": query,
                          "step": "preview"})
    assert shown.status_code == 200
    table = text_of(shown, "preview-table")
    assert "age" in table and "BIGINT" in table  # the columns the query yields, with types
    assert "u011" in table and "u012" in table and "u001" not in table
    writes = post(client, {"source": "wh", "model_kind": "query", "step": "preview",
                           "query": "DELETE FROM users"})
    assert writes.status_code == 422 and "not a SELECT" in html.unescape(writes.text)
    # the table picker's answer wins when it is the kind chosen, whatever the editor holds
    table_kind = post(client, {"source": "wh", "model_kind": "table", "table": "main.orders",
                               "query": query, "step": "preview"})
    assert "order_id" in text_of(table_kind, "preview-table")
    answers = {**BASE, "model_kind": "query", "query": query, "sync_key": "user_id"}
    created = post(client, {**answers, "name": "older"})
    assert str(created.url).endswith("/syncs/older/preview")
    assert config_of(app, "older")["model"] == {"query": query}
    page = client.get("/syncs/older/preview")
    planned = client.post("/syncs/older/preview", data={"csrf_token": csrf(page.text)})
    assert text_of(planned, "planned-new") == "2"


def test_a_key_with_duplicates_or_nulls_is_warned_with_counts_and_examples_and_may_be_kept(
    web: tuple[Served, httpx.Client],
) -> None:
    _, client = web
    answers = {**BASE, "table": "main.orders", "sync_key": "user_id"}
    warned = post(client, {**answers, "step": "mappings"})
    assert warned.status_code == 200 and 'id="sync_key"' in warned.text  # shown once
    warning = text_of(warned, "warning-sync_key")
    assert "1 value(s) appear more than once, in 2 row(s)" in warning
    assert "`u002` (2 rows)" in warning and "duplicate_key" in warning
    kept = post(client, {**answers, "key_warned": "user_id", "step": "mappings"})
    assert kept.status_code == 200 and 'id="mode-all"' in kept.text
    other = post(client, {**answers, "key_warned": "amount", "step": "mappings"})
    assert 'id="warning-sync_key"' in other.text  # going on holds for the key that was shown
    created = post(client, {**answers, "key_warned": "user_id", "name": "buyers"})
    assert str(created.url).endswith("/syncs/buyers/preview")
    page = client.get("/syncs/buyers/preview")
    planned = client.post("/syncs/buyers/preview", data={"csrf_token": csrf(page.text)})
    assert text_of(planned, "planned-invalid") == "2"  # both rows of u002, as the CLI says
    nulls = ("SELECT CASE WHEN user_id IN ('u001', 'u002') THEN NULL ELSE user_id END AS uid, "
             "email FROM users")
    null_key = post(client, {**BASE, "query": nulls, "sync_key": "uid", "step": "mappings"})
    assert f"`uid` is null in 2 of {USERS} row(s)" in text_of(null_key, "warning-sync_key")


def test_an_event_sync_with_items_and_its_policies_is_made_by_the_wizard(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    answers = {**BASE, "object": "event", "query": ITEMS_QUERY, "sync_key": "order_id"}
    key_step = post(client, {**answers, "step": "key"})
    identity = re.search(r'<select name="identity_column".*?</select>', key_step.text, re.S)
    assert identity and '<option value="user_id" selected>' in identity.group(0)  # not order_id
    assert 'name="items_column"' in key_step.text and 'name="in_doubt"' in key_step.text
    assert 'name="on_removed"' not in key_step.text  # a profile option
    events = {**answers, "identity_column": "user_id", "event_name": "Charged",
              "items_column": "items", "history": "skip", "in_doubt": "resend"}
    mappings = post(client, {**events, "step": "mappings"})
    assert "multi-value properties exist on profiles only" not in mappings.text
    created = post(client, {**events, "name": "charged"})
    assert str(created.url).endswith("/syncs/charged/preview")
    config = config_of(app, "charged")
    assert config["items_column"] == "items" and config["identity_column"] == "user_id"
    assert config["history"] == "skip" and config["in_doubt"] == "resend"


def test_profile_options_are_saved_and_unsendable_columns_are_flagged_at_the_mappings_step(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    query = "SELECT user_id, email, 'x'::BLOB AS raw FROM users"
    answers = {**BASE, "query": query, "sync_key": "user_id"}
    mappings = post(client, {**answers, "step": "mappings"})
    assert "cannot be sent" in text_of(mappings, "flag-raw")
    assert 'id="flag-email"' not in mappings.text
    explicit = post(client, {**answers, "mode": "columns", "col": ["email", "raw"],
                             "step": "confirm"})
    assert explicit.status_code == 422 and 'id="mode-all"' in explicit.text  # not at run time
    assert "cannot send" in html.unescape(explicit.text)
    confirm = post(client, {**answers, "step": "confirm"})
    assert "`raw` (BLOB) is not sent" in text_of(confirm, "notice-mappings")
    created = post(client, {**answers, "on_removed": "delete", "max_delete_percent": "5",
                            "on_invalid_field": "drop_field", "phone_region": "in",
                            "on_null": "clear", "name": "people"})
    assert str(created.url).endswith("/syncs/people/preview")
    config = config_of(app, "people")
    assert config["on_removed"] == "delete" and config["max_delete_percent"] == 5
    assert config["on_invalid_field"] == "drop_field" and config["phone_region"] == "IN"
    assert config["on_null"] == "clear"


def test_a_schedule_entered_in_the_wizard_starts_only_once_confirmed_under_the_preview(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    answers = {**BASE, "table": "main.users", "sync_key": "user_id"}
    bad = post(client, {**answers, "name": "users", "schedule": "whenever"})
    assert bad.status_code == 422 and 'id="error-schedule"' in bad.text
    created = post(client, {**answers, "name": "users", "schedule": "every 1h"})
    assert str(created.url).endswith("/syncs/users/preview?schedule=every+1h")
    assert config_of(app, "users").get("schedule") is None  # nothing scheduled yet
    assert app.jobs.scheduler.syncs() == []
    assert 'id="schedule" value="every 1h"' in created.text and "schedule-pending" in created.text
    client.post("/syncs/users/schedule", data={"schedule": "every 1h",
                                               "csrf_token": csrf(created.text)})
    assert config_of(app, "users")["schedule"] == "every 1h"


def test_per_column_options_constants_and_exclusions_are_saved_and_shown_again(
    web: tuple[Served, httpx.Client],
) -> None:
    app, client = web
    query = "SELECT user_id, email, name, age, phone, ['vip', 'beta'] AS tags FROM users"
    answers = {**BASE, "query": query, "sync_key": "user_id", "mode": "columns",
               "col": ["email", "age", "phone", "tags"], "to_email": "Email", "to_age": "Age",
               "to_phone": "Phone", "to_tags": "Tags", "type_age": "string",
               "null_email": "clear", "multi_tags": "add", "region_phone": "gb",
               "const_to": "Source", "const_value": "warehouse"}
    created = post(client, {**answers, "name": "picked"})
    assert str(created.url).endswith("/syncs/picked/preview")
    assert config_of(app, "picked")["mappings"] == {"columns": [
        {"from": "email", "to": "Email", "on_null": "clear"},
        {"from": "age", "to": "Age", "type": "string"},
        {"from": "phone", "to": "Phone", "phone_region": "GB"},
        {"from": "tags", "to": "Tags", "multi_value": "add"},
        {"constant": "warehouse", "to": "Source"},
    ]}
    edit = client.get("/syncs/picked/edit")
    shown = client.post("/syncs/picked/edit", data={
        **{k: v for k, v in answers.items() if not k.startswith("const")},
        "step": "mappings", "csrf_token": csrf(edit.text)})
    assert re.search(r'id="type-age">.*?<option value="string" selected>', shown.text, re.S)
    assert re.search(r'id="multi-tags">.*?<option value="add" selected>', shown.text, re.S)
    everything = {**BASE, "query": query, "sync_key": "user_id", "mode": "all",
                  "ex": ["name", "phone"], "type_age": "string", "to_email": "Email",
                  "to_age": "Age", "type_email": ""}
    created = post(client, {**everything, "name": "most"})
    assert str(created.url).endswith("/syncs/most/preview")
    assert config_of(app, "most")["mappings"] == {
        "sync_all": True, "exclude": ["name", "phone"],
        "columns": [{"from": "age", "to": "Age", "type": "string"}]}
    page = client.get("/syncs/most/preview")
    record = html.unescape(client.post("/syncs/most/preview",
                                       data={"csrf_token": csrf(page.text)}).text)
    assert '"Age": "21"' in record and '"Phone"' not in record and '"Name"' not in record
