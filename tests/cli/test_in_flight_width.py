"""A crash may put in doubt only the events of batches sent and not yet answered.

The snapshot's in-flight marks are what a crashed run leaves in doubt. This test reads them after
every durable write the run makes (the journal and the keyed snapshot together, as the next run
would see them after a SIGKILL right then) and checks they never cover more batches than the
sync may have in flight: marking ahead of sending, or settling an answer only after the next
batch's mark, would widen the in-doubt set and fail it.

The batches that can be sent at once are marked together: one write marks as many batches as
there are free upload slots, never more, so a run makes fewer marking writes than it sends
batches (it made one per batch before, bench/PROFILING.md "Round two: W3 events").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from syncline.engine.diff.store import DuckDBStore
from tests.cli.helpers import run_in_process
from tests.cli.test_event_sync import EventProject

BATCH, IN_FLIGHT, ORDERS = 25, 4, 600

IN_FLIGHT_KEYS = """
SELECT count(*) FROM (
  SELECT sync_key FROM syncline_diff.syncline.snapshot_orders WHERE status = 'in_flight'
    AND sync_key NOT IN (SELECT sync_key FROM syncline_diff.syncline.journal_orders
                         WHERE status <> 'in_flight')
  UNION
  SELECT j.sync_key FROM syncline_diff.syncline.journal_orders j WHERE j.status = 'in_flight'
    AND NOT EXISTS (SELECT 1 FROM syncline_diff.syncline.journal_orders o
                    WHERE o.sync_key = j.sync_key AND o.status <> 'in_flight'))
"""


def test_a_crash_never_leaves_more_in_flight_than_the_batches_sent(
    tmp_path: Path, sandbox_account: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = EventProject.create(tmp_path, sandbox_account, users=10)
    project.create_orders(ORDERS)
    project.configure_events(batch_size=BATCH)
    project.set_faults(latency_ms=300)  # answers come back while other batches are in flight
    widest: list[int] = []
    marked: list[int] = []  # keys each marking write put in flight
    write = DuckDBStore.write

    def durable_write(self: DuckDBStore, statements: Sequence[str],
                      columns: Mapping[str, Sequence[Any]]) -> None:
        write(self, statements, columns)
        text = " ".join(statements)
        if "journal_orders" in text and "in_flight" in columns.get("s", ()):
            marked.append(list(columns["s"]).count("in_flight"))
        if "journal_orders" in text or "snapshot_orders" in text:
            cur = self._conn.cursor()  # not the plan's cursor, which is being streamed
            try:
                widest.append(int(cur.execute(IN_FLIGHT_KEYS).fetchall()[0][0]))
            finally:
                cur.close()

    monkeypatch.setattr(DuckDBStore, "write", durable_write)
    summary = run_in_process(project, "orders")
    assert (summary.status, summary.accepted) == ("succeeded", ORDERS)
    assert len(widest) >= len(marked) >= 2  # every marking write was checked (and more)
    assert max(widest) > BATCH  # the sandbox was slow enough for batches to overlap
    assert max(widest) <= IN_FLIGHT * BATCH, widest
    batches = ORDERS // BATCH
    assert sum(marked) == ORDERS  # every event marked once, before it was sent
    assert max(marked) <= IN_FLIGHT * BATCH, marked  # never more batches than free slots
    assert marked[0] == IN_FLIGHT * BATCH, marked  # every slot free at the start: one write
    assert len(marked) < batches, f"{len(marked)} marking writes for {batches} batches"
    assert project.order_counts() == {i: 1 for i in range(1, ORDERS + 1)}
