"""The rejections page in headless Chromium: the summary by code and column, filter by code,
page 2 of the filtered rows, and the CSV of every match downloaded.

Needs Debian's ``chromium`` and the ``playwright`` package (see ``test_dashboard.py``)."""

from __future__ import annotations

import csv
from typing import Any

import pytest

from tests.e2e.conftest import needs_chromium, shot, sign_in

needs_chromium()

from tests.server.served import Served  # noqa: E402
from tests.server.test_pages_runs import rejected_run  # noqa: E402

pytestmark = pytest.mark.e2e


def test_filter_by_code_open_page_two_and_download_the_csv(app: Served, page: Any) -> None:
    run_id = rejected_run(app)
    sign_in(page, app)
    page.goto(f"{app.url}/runs/{run_id}")
    assert page.locator("#rejection-summary tbody tr").count() == 4
    page.click("#all-rejections")
    assert page.locator("#rejections tbody tr").count() == 100
    page.select_option("#code-filter", "516")
    page.click("#filter")
    assert "Records 1–100 of 150 matching" in page.inner_text("#rejections-range")
    page.click("#next-page")
    assert "Records 101–150 of 150 matching" in page.inner_text("#rejections-range")
    assert page.locator("#rejections tbody tr").count() == 50
    assert page.locator("#rejections summary").first.inner_text() == "u0100"
    assert page.input_value("#code-filter") == "516"  # the filter holds across pages
    shot(page, "10-rejections-page-2")
    with page.expect_download() as download:
        page.click("#download-csv")
    path = download.value.path()
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 151 and {r[1] for r in rows[1:]} == {"516"}  # every match, not a page
