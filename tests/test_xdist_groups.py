"""The suite's own set-up: ``make test`` runs ``--dist loadgroup``, and its ``xdist_group``
marks must hold (the crash tests share one worker; the dbt tests build their project once).

pytest-xdist marks a grouped test by a ``@group`` suffix on its node id; pytest 9.2 broke that
silently (pytest-xdist#1386): every group spread over every worker, and nothing failed.
"""

from __future__ import annotations

import os

import pytest


@pytest.mark.xdist_group("this-group")
def test_xdist_groups_hold_under_loadgroup(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") or not request.config.getvalue("loadgroup"):
        pytest.skip("only under pytest-xdist --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@this-group"), (
        f"pytest-xdist ignored the xdist_group mark ({request.node.nodeid}): check the pytest "
        "pin in pyproject.toml")
