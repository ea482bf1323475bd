"""The guard's decision: which pairs of marks (state store, snapshot) a run may plan from."""

from __future__ import annotations

import pytest

from syncline.engine.guard import message, problem
from syncline.store import SnapshotMark

RECORDED = SnapshotMark("a" * 32, run_id=7, keys=100)


@pytest.mark.parametrize(("found", "empty", "expected"), [
    (RECORDED, False, None),
    # a crash between the two writes: the snapshot's mark is ahead, and holds at least as much
    (SnapshotMark("a" * 32, 8, 120), False, None),
    (None, True, "missing"),  # schema dropped or file deleted: recreated without a mark
    (SnapshotMark("a" * 32, 7, 100), True, "missing"),  # only the snapshot table dropped
    (SnapshotMark("a" * 32, 5, 80), False, "older"),  # restored from an older backup
    (SnapshotMark("a" * 32, 7, 90), False, "older"),
    (SnapshotMark("b" * 32, 9, 100), False, "other"),  # another database's snapshot
])
def test_marks_that_agree_and_marks_that_do_not(
        found: SnapshotMark | None, empty: bool, expected: str | None) -> None:
    assert problem(RECORDED, found, empty) == expected


def test_a_new_sync_or_state_store_adopts_the_snapshot_and_an_empty_one_is_not_lost() -> None:
    assert problem(None, None, True) is None
    assert problem(None, SnapshotMark("c" * 32, 3, 10), False) is None
    assert problem(SnapshotMark("d" * 32, 2, 0), None, True) is None  # nothing to resend


def test_the_message_says_where_what_after_which_run_and_both_ways_out() -> None:
    text = message("orders", "the file /p/.syncline/diff/orders.duckdb", "older", RECORDED,
                   SnapshotMark("a" * 32, 5, 80))
    for part in ("`orders`", "/p/.syncline/diff/orders.duckdb", "80 keys after run 5",
                 "100 keys after run 7", "sent nothing", "restore", "taken after run 7",
                 "`syncline run orders --full`", "`syncline run orders --full --resend-events`"):
        assert part in text, part


def test_the_message_names_where_the_snapshot_was_recorded_when_that_moved() -> None:
    """Switching `diff: source` to `diff: local` leaves the snapshot behind: say where."""
    recorded = SnapshotMark("a" * 32, 7, 100, "the `syncline` schema of source `wh`")
    text = message("users", "the file /p/.syncline/diff/users.duckdb", "missing", recorded, None)
    assert "missing from the file /p/.syncline/diff/users.duckdb" in text
    assert "in the `syncline` schema of source `wh`" in text
