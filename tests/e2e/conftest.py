"""What every browser test shares: a served app, a headless Chromium page, screenshots, sign-in.

The browser is Debian's ``/usr/bin/chromium`` (never a downloaded one); each test module skips
itself, visibly, when it is missing (``needs_chromium``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.served import PASSWORD, USERNAME, Served, served

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def needs_chromium() -> Any:
    """Skip the calling module without Chromium; the ``playwright.sync_api`` module otherwise."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: `apt-get install -y chromium` to run the browser "
                    "tests", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api",
                               reason="install the test extra (playwright)")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path) as running:
        yield running


@pytest.fixture
def page() -> Iterator[Any]:
    sync_api = needs_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            tab = context.new_page()
            tab.set_default_timeout(15_000)
            yield tab
            context.close()
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, app: Served, path: str = "/syncs") -> None:
    page.goto(f"{app.url}{path}")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{app.url}{path}")
