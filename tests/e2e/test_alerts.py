"""The *Alerts* page in headless Chromium: the rule from syncline.yml is listed with its
channel's host (not its secret URL), and pressing *Send test alert* delivers a test alert to a
real webhook receiver and says so on the page; a receiver that refuses shows the channel's error.

Same needs as ``test_dashboard.py``: Debian's ``chromium`` and the ``playwright`` package.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.alerts.receivers import webhook
from tests.e2e.test_dashboard import (
    shot,
    sign_in,
)
from tests.server.served import Served

pytestmark = pytest.mark.e2e


def test_send_test_alert_reaches_the_webhook(app: Served, page: Any) -> None:
    with webhook() as (hook, posted):
        (app.root / "syncline.yml").write_text(
            "version: 1\nalerts:\n  on-call:\n"
            f"    channel: {{type: webhook, url: '{hook}?token=s3cret'}}\n"
            "    when: {run_failed: true, in_doubt: true}\n")
        sign_in(page, app)
        page.click("nav.sections >> text=Alerts")
        page.wait_for_url(f"{app.url}/alerts")
        row = page.inner_text("tr[data-alert=on-call]")
        assert "webhook" in row and "127.0.0.1" in row and "s3cret" not in page.content()
        assert "run_failed" in row and "in_doubt" in row
        assert "configured in the project folder's syncline.yml" in page.inner_text("main")

        page.click("tr[data-alert=on-call] >> text=Send test alert")
        page.wait_for_selector("#alert-test-result")
        assert "Test alert sent through on-call" in page.inner_text("#alert-test-result")
        assert [(b["alert"], b["state"], b["condition"]) for b in posted.items] == [
            ("on-call", "test", "test")]
        shot(page, "alerts-test-sent")

        posted.status = 503
        page.click("tr[data-alert=on-call] >> text=Send test alert")
        page.wait_for_selector("#alert-test-result.error")
        assert "answered HTTP 503" in page.inner_text("#alert-test-result")
        assert len(posted.items) == 2
