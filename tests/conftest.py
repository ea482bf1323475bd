"""What the whole suite shares: under pytest-xdist (``make test`` runs ``-n 4 --dist
loadgroup``), the tests marked ``slow`` start first.

``loadgroup`` hands out one test at a time, in collection order, to whichever worker is free.
The scale-out tests alone take minutes and sit in the last folder (``tests/workers``): started
last, they would run on with every other worker idle. Started first, they run beside the rest.
A serial run keeps the collection order.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import need_postgres

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    # a stable sort: every worker collects the same order, as xdist requires
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# a state store on the default SQLite file and on the local PostgreSQL (a database of its own)
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    need_postgres()
    import psycopg

    name = f"syncline_state_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
