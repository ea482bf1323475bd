"""The runner cuts the plan's chunks into requests by index: every row once, in order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.engine.delivery import Batch
from syncline.engine.runner import _take


def _chunk(start: int, n: int) -> Batch:
    rows = list(range(start, start + n))
    return Batch([f"k{i}" for i in rows], [i for i in rows], [{"identity": str(i)} for i in rows])


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 25), max_size=12), size=st.integers(1, 20))
def test_batches_hold_every_row_once_in_order(sizes: list[int], size: int) -> None:
    pending: list[Batch] = []
    count, start, sent = 0, 0, []
    for n in sizes:  # as Runner._send_plan does
        if n:
            pending.append(_chunk(start, n))
            count += n
            start += n
        while count >= size:
            batch, pending = _take(pending, size)
            count -= size
            sent.append(batch)
    if pending:
        sent.append(_take(pending, count)[0])
    assert all(len(b.keys) == size for b in sent[:-1])
    assert sent == [] or 0 < len(sent[-1].keys) <= size
    for b in sent:
        assert len(b.keys) == len(b.hashes) == len(b.records)
        assert b.keys == [f"k{h}" for h in b.hashes]
        assert [r["identity"] for r in b.records] == [str(h) for h in b.hashes]
    assert [h for b in sent for h in b.hashes] == list(range(sum(sizes)))
