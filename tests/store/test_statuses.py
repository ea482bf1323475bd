"""The status word of a run: derived from its counts, the same for runs recorded before it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from syncline.store import StateStore
from syncline.store import tables as t
from syncline.store.counts import RUN_COUNTS, ordered_counts
from syncline.store.statuses import is_success, run_status, status_text
from syncline.store.totals import last_runs, run_totals


def test_rejected_or_invalid_rows_turn_succeeded_into_succeeded_with_rejections() -> None:
    assert run_status("succeeded", rejected=0, invalid=0) == "succeeded"
    assert run_status("succeeded", rejected=1, invalid=0) == "succeeded_with_rejections"
    assert run_status("succeeded", rejected=0, invalid=2) == "succeeded_with_rejections"
    assert run_status("failed", rejected=5, invalid=0) == "failed"
    assert is_success("succeeded_with_rejections") and not is_success("cancelled")
    assert status_text("succeeded_with_rejections") == "succeeded with rejections"


def test_stored_as_succeeded_and_read_back_with_rejections(state_url: str) -> None:
    """The column is VARCHAR(20) (enforced by PostgreSQL): the long word is never written."""
    store = StateStore(state_url)
    try:
        run = store.start_run("users")
        store.finish_run(run, "succeeded_with_rejections", accepted=3, invalid=1)
        clean = store.start_run("users")
        store.finish_run(clean, "succeeded", accepted=3)
        with store.engine.connect() as conn:
            raw = conn.execute(sa.select(t.runs.c.status).where(t.runs.c.id == run)).scalar()
            # a run recorded before the word existed: succeeded, with a rejected row
            conn.execute(sa.insert(t.runs).values(
                sync="old", status="succeeded", trigger="manual", full=False,
                started_at=datetime.now(UTC), finished_at=datetime.now(UTC), rejected=1))
            conn.commit()
        assert raw == "succeeded"
        assert store.run(run).status == "succeeded_with_rejections"
        assert store.run(run).to_dict()["status_text"] == "succeeded with rejections"
        assert store.run(clean).status == "succeeded"
        assert store.runs("old")[0].status == "succeeded_with_rejections"
        totals = {(s, st): n for s, st, n in run_totals(store.engine)}
        assert totals == {("users", "succeeded_with_rejections"): 1, ("users", "succeeded"): 1,
                          ("old", "succeeded_with_rejections"): 1}
        assert {r.sync: r.status for r in last_runs(store.engine)} == {
            "users": "succeeded", "old": "succeeded_with_rejections"}
    finally:
        store.close()


def test_every_stored_count_is_named_once_in_order() -> None:
    names = [name for name, _ in RUN_COUNTS]
    assert sorted(names) == sorted(t.COUNTS) and len(set(names)) == len(names)
    assert list(ordered_counts({"sent": 2})) == names
