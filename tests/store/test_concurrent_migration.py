"""Several processes opening one new state store at once: each finds it migrated exactly once."""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.synchronize import Barrier

import sqlalchemy as sa

from syncline.store import StateStore
from syncline.store.store import SCHEMA_REVISION

PROCESSES = 4


def _open(url: str, barrier: Barrier, errors: mp.Queue[str]) -> None:
    barrier.wait()
    try:
        StateStore(url).close()
    except Exception as exc:  # reported to the test, which shows it
        errors.put(repr(exc))


def test_concurrent_first_opens_all_succeed(state_url: str) -> None:
    """First runs started together used to fail with `table runs already exists`."""
    ctx = mp.get_context("spawn")
    errors: mp.Queue[str] = ctx.Queue()
    barrier = ctx.Barrier(PROCESSES)
    workers = [ctx.Process(target=_open, args=(state_url, barrier, errors))
               for _ in range(PROCESSES)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    engine = sa.create_engine(state_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
        assert list(versions) == [SCHEMA_REVISION]
    engine.dispose()
