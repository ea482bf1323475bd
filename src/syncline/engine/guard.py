"""The snapshot guard: a lost, older or foreign snapshot stops the run before anything is sent.

The snapshot is what makes a run send only what changed. If it is dropped (the `syncline` schema,
the local diff file), restored from an old backup, or the source now points at another database,
the diff would find every row new, or every row since the backup, and send it again: for events,
each event a second time. So at the end of every run a *mark* (the snapshot's id, the run, how
many keys it holds) is written twice: beside the snapshot, in the diff store, and then in the state
store. At the start of the next run the two must agree; if not, the run fails before it reads the
model, naming where the snapshot was expected, what it held after which run, and the ways out.

Why the order (snapshot first, state store second): a crash between the two writes leaves the
snapshot's mark *ahead* of the state store's, which is accepted (its snapshot holds at least what
the state store recorded). A restore can only bring back an *older* mark, which is refused. A run
that crashed before writing either leaves both at the previous run, which agree: the keys it
committed meanwhile are in the snapshot, as they should be.
"""

from __future__ import annotations

import uuid
from typing import Literal

import duckdb
import sqlalchemy as sa

from syncline.engine.snapshot import Snapshot
from syncline.errors import SnapshotMismatchError, SynclineError
from syncline.store import SnapshotMark, StateStore

__all__ = ["SnapshotGuard"]

Problem = Literal["missing", "older", "other"]


def problem(expected: SnapshotMark | None, found: SnapshotMark | None,
            empty: bool) -> Problem | None:
    """What is wrong with the snapshot ``found`` when the state store recorded ``expected``."""
    if found is not None and found.keys > 0 and empty:
        return "missing"  # the snapshot table was dropped and recreated, its mark kept
    if expected is None:
        return None  # a new sync, or a new state store: the snapshot is adopted as it is
    if found is None:
        return "missing" if expected.keys > 0 else None
    if found.snapshot_id != expected.snapshot_id:
        return "other"
    if found.run_id < expected.run_id or (
            found.run_id == expected.run_id and found.keys != expected.keys):
        return "older"
    return None


def message(sync: str, location: str, kind: Problem, expected: SnapshotMark | None,
            found: SnapshotMark | None) -> str:
    """Where the snapshot was expected, what it held after which run, and the two ways out."""
    if expected is not None:
        held = (f"the state store recorded snapshot {expected.snapshot_id[:12]} holding "
                f"{expected.keys:,} keys after run {expected.run_id}")
        if expected.location and expected.location != location:  # `diff:` placement changed?
            held += f", in {expected.location}"
    else:
        assert found is not None
        held = f"its mark records {found.keys:,} keys after run {found.run_id}"
    if kind == "missing":
        what = f"sync `{sync}`: the snapshot is missing from {location}: {held}"
        lose = "every row would be sent again"
    elif kind == "older":
        assert found is not None
        what = (f"sync `{sync}`: the snapshot in {location} is older than recorded: it holds "
                f"{found.keys:,} keys after run {found.run_id}, but {held} (restored from an "
                "older backup?)")
        lose = f"every row sent since run {found.run_id} would be sent again"
    else:
        assert found is not None
        what = (f"sync `{sync}`: the snapshot in {location} is another one (snapshot "
                f"{found.snapshot_id[:12]}, {found.keys:,} keys after run {found.run_id}), but "
                f"{held} (does the source point at another database?)")
        lose = "rows this snapshot has not seen would be sent again"
    after = f" after run {expected.run_id}" if expected is not None else ""
    return (f"{what}. Planning from it, {lose} (for an event sync: each event a second time), "
            f"so this run sent nothing. Either restore the snapshot ({location}) from a backup "
            f"taken{after}, or start a new snapshot and resend every row: `syncline run {sync} "
            f"--full` for a profile sync, `syncline run {sync} --full --resend-events` for an "
            "event sync.")


class SnapshotGuard:
    """Checks a sync's snapshot against the state store before a run, and marks both after."""

    def __init__(self, store: StateStore, sync: str, snapshot: Snapshot, location: str) -> None:
        self.store, self.sync, self.snapshot, self.location = store, sync, snapshot, location
        self._id: str | None = None

    def check(self, *, override: bool = False) -> None:
        """Raise SnapshotMismatchError unless the snapshot is the one recorded.

        ``override`` (a full resync, which resends every row anyway) starts a new snapshot id
        instead of failing.
        """
        expected, found = self.store.snapshot_mark(self.sync), self.snapshot.mark()
        kind = problem(expected, found, found is not None and self.snapshot.is_empty())
        if kind is not None and not override:
            raise SnapshotMismatchError(message(self.sync, self.location, kind, expected, found))
        if kind is None and found is not None:
            self._id = found.snapshot_id
        elif kind is None and expected is not None:
            self._id = expected.snapshot_id
        else:
            self._id = uuid.uuid4().hex

    def record(self, run_id: int) -> None:
        """Mark the snapshot, then the state store, with what the snapshot holds now.

        A failure here is safe to leave: an unwritten mark leaves the previous pair, which
        agree; a snapshot mark without the state store's is ahead, which is accepted.
        """
        if self._id is None:
            return
        try:
            mark = self.snapshot.save_mark(self._id, run_id)
            self.store.save_snapshot_mark(self.sync, SnapshotMark(
                mark.snapshot_id, mark.run_id, mark.keys, self.location))
        except (SynclineError, duckdb.Error, sa.exc.SQLAlchemyError):
            pass
