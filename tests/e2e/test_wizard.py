"""The sync wizard in headless Chromium: a SQL model previewed row by row, a sync key with
duplicates warned about (with counts and examples) before another is picked, an event sync with
an Items column and its policies, and a schedule entered in the wizard that starts only once it
is confirmed under the preview; then the sync runs and CleverTap (the sandbox) has the events
with their Items.

Same needs as ``test_dashboard.py``: Debian's ``chromium`` and the ``playwright`` package.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import needs_chromium

needs_chromium()  # before test_dashboard: without Chromium it is only half imported

from tests.e2e.test_dashboard import (  # noqa: E402
    add_connections,
    shot,
    sign_in,
)
from tests.server.served import ACCOUNT, Served  # noqa: E402

pytestmark = pytest.mark.e2e

ITEMS_QUERY = ("SELECT order_id, user_id, amount,\n"
               "  [{'name': 'Book ' || order_id, 'price': amount::DOUBLE}] AS items\nFROM orders")


def test_an_event_sync_with_items_made_with_the_wizard_runs(app: Served, page: Any) -> None:
    sign_in(page, app)
    add_connections(page, app)
    page.goto(f"{app.url}/syncs/new")
    page.select_option("#source", "warehouse")
    page.check("#kind-query")
    page.fill("#query", ITEMS_QUERY)
    page.click("#preview-rows")
    preview = page.inner_text("#preview-table")
    assert "items" in preview and "Book o1" in preview and "o6" in preview
    shot(page, "wizard-sql-preview")
    page.click("#next")
    page.select_option("#destination", "clevertap")
    page.select_option("#object", "event")
    page.click("#next")
    assert page.input_value("#identity_column") == "user_id"  # a user-like column by default
    page.select_option("#sync_key", "user_id")  # a user buys twice: not a key for an order
    page.fill("#event_name", "Charged")
    page.click("#next")
    warning = page.inner_text("#warning-sync_key")
    assert "not unique" in warning and "`u002` (2 rows)" in warning
    shot(page, "wizard-key-warning")
    page.select_option("#sync_key", "order_id")
    page.select_option("#items_column", "items")
    page.select_option("#history", "send")
    page.select_option("#in_doubt", "skip")
    page.click("#next")
    assert page.is_checked("#mode-all")
    page.click("#next")
    page.fill("#sync-name", "charged")
    page.fill("input[name=schedule]", "every 1h")
    page.click("#create")
    page.wait_for_url(f"{app.url}/syncs/charged/preview?schedule=every+1h")
    assert page.input_value("#schedule") == "every 1h"  # waiting for the user's confirmation
    assert app.jobs.scheduler.syncs() == []
    page.click("#show-preview")
    page.wait_for_selector("#planned-new")
    assert page.inner_text("#planned-new") == "6"
    assert page.inner_text("#would-reject") == "0", page.inner_text("main")
    assert '"Items"' in page.inner_text("main")
    shot(page, "wizard-event-preview")
    page.click("#run-now")
    page.wait_for_selector("#run-status.status-succeeded")
    shot(page, "wizard-event-run")
    assert page.inner_text("#count-accepted") == "6"
    charged = app.sandbox.events(ACCOUNT, name="Charged")
    assert len(charged) == 6
    items = [e["data"]["Items"] for e in charged]
    assert {"name": "Book o1", "price": 10.5} in [i[0] for i in items]
