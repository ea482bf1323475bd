"""A PostgreSQL source added in the dashboard, in headless Chromium: + New Source →
PostgreSQL → host, port, database, user, password → Test against a real database (created and
dropped here) → Finish; the list shows where it points, and reopening it shows a PostgreSQL
form with the password masked. A wrong database name is shown as a failed test first.

Needs Debian's ``chromium`` and the ``playwright`` package (see test_dashboard.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import needs_chromium, shot, sign_in

needs_chromium()

from tests.server.pg import postgres_database  # noqa: E402
from tests.server.served import Served  # noqa: E402

pytestmark = pytest.mark.e2e

SECRET_PASSWORD = "pg-ui-password-77"


def test_a_postgres_source_is_created_and_tested_in_the_dashboard(app: Served, page: Any) -> None:
    sign_in(page, app, "/connections")
    with postgres_database() as database:
        page.click("text=+ New Source")
        page.click("#type-postgres")
        assert page.inner_text("#source-type") == "PostgreSQL"
        page.fill("input[name=name]", "crm")
        page.fill("#field-host", "127.0.0.1")
        page.fill("#field-port", "5432")
        page.fill("#field-database", f"{database}_missing")
        page.fill("#field-user", "postgres")
        page.fill("#field-password", SECRET_PASSWORD)
        assert page.get_attribute("#field-password", "type") == "password"
        page.click("button[value=test]")
        assert "does not exist" in page.inner_text("#test-result")  # a failed test says why
        assert page.locator("#finish").count() == 0
        page.fill("#field-database", database)  # fix it; the saved password is kept
        page.click("button[value=test]")
        assert "connection works" in page.inner_text("#test-result")
        shot(page, "source-postgres-tested")
        page.click("#finish")
        assert f"postgres@127.0.0.1:5432/{database}" in page.inner_text("#where-crm")
        page.click("text=crm")
        assert "PostgreSQL" in page.inner_text("#source-type")
        assert page.input_value("#field-database") == database
        assert page.input_value("#field-password") == ""
        assert "leave blank to keep" in (page.get_attribute("#field-password", "placeholder")
                                         or "")
        assert SECRET_PASSWORD not in page.content()
