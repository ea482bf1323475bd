"""The dashboard in headless Chromium: sign in, add the CleverTap destination (the sandbox) and
test it, add a DuckDB source, create a profile sync with the wizard, run it, read the counts and
open a rejected record; then an event sync on a schedule that fires; then edit the profile
sync's key and mappings with the wizard, warned that every row will be sent again.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package; the
browser Playwright would download is never used. Screenshots go to ``tests/artifacts/``, and
the sync page's to ``docs/sync-page.png`` for the README when SYNCLINE_UPDATE_DOCS is set.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, needs_chromium, shot, sign_in

needs_chromium()

from tests.server.served import (  # noqa: E402
    ACCOUNT,
    BAD_PHONE_USER,
    PASSCODE,
    USERS,
    Served,
)

pytestmark = pytest.mark.e2e


def add_connections(page: Any, app: Served) -> None:
    page.click("nav >> text=Connections")
    page.click("text=+ New Destination")
    page.fill("input[name=name]", "clevertap")
    page.fill("input[name=account_id]", ACCOUNT)
    page.fill("input[name=passcode]", PASSCODE)
    page.select_option("select[name=region]", "eu1")
    page.click("summary")
    page.fill("input[name=endpoint]", app.sandbox.url)
    page.click("button[value=test]")
    assert "connection works" in page.inner_text("#test-result")
    shot(page, "01-destination-tested")
    page.click("#finish")
    page.click("text=+ New Source")
    page.fill("input[name=name]", "warehouse")
    page.fill("input[name=path]", "wh.duckdb")
    page.click("button[value=test]")
    assert "connection works" in page.inner_text("#test-result")
    page.click("#finish")
    assert "warehouse" in page.inner_text("main") and ACCOUNT in page.inner_text("main")


def wizard(page: Any, app: Served, table: str, obj: str, name: str, **extra: str) -> None:
    page.goto(f"{app.url}/syncs")
    page.click("#new-sync")
    page.select_option("#source", "warehouse")
    page.click("#show-tables")
    page.select_option("#table", table)
    page.click("#next")
    page.select_option("#destination", "clevertap")
    page.select_option("#object", obj)
    page.click("#next")
    page.select_option("#sync_key", extra.get("sync_key", "user_id"))
    if obj == "event":
        page.select_option("#identity_column", "user_id")
        page.fill("#event_name", "Charged")
    page.click("#next")
    if obj == "profile":
        page.check("#mode-columns")
        for column in ("email", "phone", "name"):
            page.check(f"input[name=col][value={column}]")
        assert page.input_value("input[name=to_email]") == "Email"  # standard field matched
    page.click("#next")
    page.fill("#sync-name", name)
    if "schedule" in extra:
        page.fill("input[name=schedule]", extra["schedule"])
    shot(page, f"wizard-{name}-confirm")
    page.click("#create")
    page.wait_for_url(f"{app.url}/syncs/{name}/preview")
    page.click("#show-preview")  # a GET reads nothing: the records are one POST away
    page.wait_for_selector("#planned-new")


def wait_for_runs(page: Any, count: int) -> None:
    """Reload the sync page until ``count`` runs succeeded (scheduled runs start by themselves)."""
    for _ in range(100):
        if page.locator("td.status-succeeded").count() >= count:
            return
        page.wait_for_timeout(100)
        page.reload()
    raise AssertionError(page.inner_text("main"))


def change_users(app: Served, count: int) -> None:
    """Rename ``count`` users (not the one with the bad phone) so the next run sends them."""
    import duckdb

    with duckdb.connect(str(app.root / "wh.duckdb")) as con:
        con.execute("UPDATE users SET name = name || '*' WHERE user_id IN (SELECT user_id "
                    f"FROM users WHERE user_id <> '{BAD_PHONE_USER}' ORDER BY user_id LIMIT ?)",
                    [count])


def test_profile_sync_then_scheduled_event_sync(app: Served, page: Any) -> None:
    sign_in(page, app)
    add_connections(page, app)

    page.goto(f"{app.url}/syncs/new")  # every step is a POST: walk to the key step
    page.select_option("#source", "warehouse")
    page.click("#show-tables")
    page.select_option("#table", "main.orders")
    page.click("#next")
    page.select_option("#destination", "clevertap")
    page.select_option("#object", "profile")
    page.click("#next")
    page.select_option("#sync_key", "user_id")
    page.click("#next")
    assert "not unique" in page.inner_text("#warning-sync_key")  # checked against the source

    wizard(page, app, "main.users", "profile", "users")
    assert page.inner_text("#planned-new") == str(USERS)
    assert '"Email": "user1@example.com"' in page.inner_text("pre.record >> nth=0")
    shot(page, "02-preview")
    app.sandbox.set_faults(ACCOUNT, latency_ms=1500)  # slow enough to watch it run
    page.click("#run-now")
    assert page.inner_text("#run-status") == "running"
    assert page.locator("#run-progress").count() == 1
    page.wait_for_selector("#run-status.status-succeeded_with_rejections")  # polled, reloaded
    assert page.inner_text("#run-status") == "succeeded with rejections"
    app.sandbox.set_faults(ACCOUNT, latency_ms=0)
    assert page.inner_text("#count-accepted") == str(USERS - 1)
    assert page.inner_text("#count-rejected") == "1"
    assert "516" in page.inner_text("#rejection-summary")  # counted by code and column
    shot(page, "03-run")
    page.click("#all-rejections")
    page.click(f"#rejections summary:has-text('{BAD_PHONE_USER}')")
    assert "516" in page.inner_text("#rejections") and "phone" in page.inner_text("#rejections")
    assert '"Phone": "12"' in page.inner_text("#rejections details[open] pre")
    shot(page, "03-rejections")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename.endswith("-rejected.csv")

    wizard(page, app, "main.orders", "event", "orders", sync_key="order_id")
    page.fill("input[name=schedule]", "every 1h")  # the confirm page's other trigger
    page.click("#save-schedule")
    page.wait_for_url(f"{app.url}/syncs/orders")
    wait_for_runs(page, 1)  # an interval schedule fires at once for a sync never run
    assert "schedule" in page.inner_text("table")
    assert len(app.sandbox.events(ACCOUNT, name="Charged")) == 6
    app.clock.advance(timedelta(hours=1))
    wait_for_runs(page, 2)  # and again an hour later: nothing new to send
    assert len(app.sandbox.events(ACCOUNT, name="Charged")) == 6
    assert "next run" in page.inner_text("#schedule-state")

    for changed in (3, 0, 5, 2):  # a history for the chart: some runs with changed rows
        change_users(app, changed)
        page.goto(f"{app.url}/syncs/users")
        page.click("#run-now")
        page.wait_for_selector("#run-status.status-succeeded_with_rejections")  # the bad phone
        assert page.inner_text("#count-accepted") == str(changed)
    page.goto(f"{app.url}/syncs/users")
    assert page.locator("svg.chart rect.sent").count() == 5
    shot(page, "04-sync-page")
    if os.environ.get("SYNCLINE_UPDATE_DOCS"):  # refresh the README's screenshot on request
        docs = ARTIFACTS.parents[1] / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copy(ARTIFACTS / "04-sync-page.png", docs / "sync-page.png")

    edit_sync(page, app)


def edit_sync(page: Any, app: Served) -> None:
    """Edit: every step shows the saved answers; a new key is warned about before saving."""
    page.goto(f"{app.url}/syncs/users")
    page.click("#edit-sync")
    assert page.input_value("#source") == "warehouse" and page.input_value("#table") == "main.users"
    page.click("#next")
    assert page.input_value("#destination") == "clevertap"
    page.click("#next")
    assert page.input_value("#sync_key") == "user_id"
    page.select_option("#sync_key", "email")
    page.click("#next")
    assert page.is_checked("#mode-columns") and page.is_checked("input[name=col][value=phone]")
    page.check("input[name=col][value=age]")
    page.click("#next")
    warning = page.inner_text("#snapshot-warning")
    assert "every row as new" in warning and "identified by `email`" in warning
    assert "sync_key" in page.inner_text("#changes")
    shot(page, "05-edit-confirm")
    page.click("#save-edit")
    assert "I understand" in page.inner_text("#error-acknowledge")  # not saved unacknowledged
    page.check("#acknowledge")
    page.click("#save-edit")
    page.wait_for_url(f"{app.url}/syncs/users/preview")
    page.click("#show-preview")
    assert page.inner_text("#planned-new") == str(USERS)  # as warned: every row is new again
    record = page.inner_text("pre.record >> nth=0")
    assert '"identity": "user' in record and '"Age": ' in record  # the new key, the new column
