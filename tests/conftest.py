"""What the whole suite shares: under pytest-xdist (``make test`` runs ``-n 4 --dist
loadgroup``), the tests marked ``slow`` start first.

``loadgroup`` hands out one test at a time, in collection order, to whichever worker is free.
The scale-out tests alone take minutes and sit in the last folder (``tests/workers``): started
last, they would run on with every other worker idle. Started first, they run beside the rest.
A serial run keeps the collection order.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    # a stable sort: every worker collects the same order, as xdist requires
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
