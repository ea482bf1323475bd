"""Map + validate: the plan's rows become records, and the destination's rules screen them.

Records are built by column (``engine.builder``); the destination screens each chunk by column
(``DestinationClient.suspects``) and only the rows it suspects are checked one by one with the
exact rules, so codes, messages and columns are CleverTap's. A rejected row never leaves; with
``on_invalid_field: drop_field`` a record loses only the fields at fault. ``check_all`` runs the
same steps over a whole plan for ``syncline plan`` and the dashboard's preview, sending nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from syncline.destinations.base import FieldFault, Record, Rejection
from syncline.engine.builder import RecordBuilder
from syncline.engine.delivery import Batch
from syncline.engine.opened import OpenedRun
from syncline.engine.outcomes import Outcomes
from syncline.engine.planner import HASH, Plan

__all__ = ["check_all", "chunks", "local_rejection"]

_EXAMPLES = 3  # example keys `plan` shows per rejection code and column

READ_ROWS = 5_000
"""Rows read from the plan, built and screened at a time (at least the sync's batch size).

Building and screening cost a fixed price per Arrow batch (a dozen Arrow kernel calls, one
DuckDB fetch) beside their price per row: at batches of 1,000 the fixed part was about 1.5 of
W1's ~13 CPU-s per 1M rows (bench/PROFILING.md). The runner still cuts uploads of
``batch_size`` rows from these chunks. The chunk is most of the delivery side's peak memory:
W1's 1M first run peaked at 402-409 MB with 10,000 rows, 385-391 MB with 5,000 and 374-380
MB with 3,000, for about 0.2-0.3 CPU-s more (issue #18, bench/PROFILING.md); 50,000 would
save a little more CPU for another 130 MB.
"""


def chunks(run: OpenedRun, plan: Plan, outcomes: Outcomes) -> Iterator[Batch]:
    """The plan's valid records, a chunk per Arrow batch of ``READ_ROWS`` or more; rejected
    rows are noted on the way.

    The destination screens each chunk by column; only the rows it suspects are checked
    one by one, with the exact rules.
    """
    builder = RecordBuilder(run.sync, run.mapping)
    drop = run.sync.on_invalid_field == "drop_field"
    for arrow_batch in plan.batches(max(run.sync.batch_size, READ_ROWS)):
        built = builder.build(arrow_batch)
        hashes: list[object] = arrow_batch.column(HASH).to_pylist()
        rejections = built.rejections
        drops = {i: [FieldFault(name, r.code, r.message, r.column) for name, r in faults]
                 for i, faults in built.dropped.items()}  # fmt: skip
        for i in run.client.suspects(built.columns) - rejections.keys():
            record = cast(Record, built.records[i])
            rejection = local_rejection(run, record)
            if rejection is None:
                continue
            if drop and rejection.faults:
                kept = run.client.drop_fields(record, [f.field for f in rejection.faults])
                if run.client.validate(kept) is None:
                    built.records[i] = kept
                    drops.setdefault(i, []).extend(rejection.faults)
                    continue
            rejections[i] = rejection
        for i, faults in drops.items():
            if i not in rejections:
                outcomes.drop_fields(run, built.keys[i], faults)
        if not rejections:
            yield Batch(built.keys, hashes, cast(list[Record], built.records))
            continue
        run.reached += len(rejections)
        for i in sorted(rejections):
            outcomes.reject(run, built.keys[i], rejections[i], built.records[i])
        keep = [i for i in range(len(built.keys)) if i not in rejections]
        yield Batch([built.keys[i] for i in keep], [hashes[i] for i in keep],
                    [cast(Record, built.records[i]) for i in keep])


def local_rejection(run: OpenedRun, record: Record) -> Rejection | None:
    """The destination's verdict, with source columns named; every field at fault listed."""
    rejection = run.client.validate(record)
    if rejection is None:
        return None
    column = run.mapping.column_for(rejection.column) if rejection.column else None
    faults = tuple(FieldFault(f.field, f.code, f.message,
                              run.mapping.column_for(f.field) or f.column)
                   for f in rejection.faults)  # fmt: skip
    message = rejection.message
    if len(faults) > 1:
        message += ". Every field at fault: " + "; ".join(
            f"{f.field} (column `{f.column or f.field}`): {f.code} {f.message}"
            for f in faults
        )
    return Rejection(rejection.code, message, column or rejection.column, faults)


def check_all(run: OpenedRun, plan: Plan, limit: int,
              outcomes: Outcomes) -> list[dict[str, object]]:
    """Build and check every planned row as a run would, sending nothing.

    The summary then says how many rows would be rejected (``rejected``) or sent without
    some field (``fields_dropped``), grouped by code and column in ``checks``; the answer
    is the first ``limit`` records as CleverTap would get them.
    """
    preview: list[dict[str, object]] = []
    groups: dict[tuple[str, str, str | None], dict[str, object]] = {}

    def note(kind: str, code: str, column: str | None, message: str, key: str | None) -> None:
        group = groups.setdefault((kind, code, column), {
            "outcome": kind, "code": code, "column": column, "message": message,
            "count": 0, "examples": []})  # fmt: skip
        group["count"] = cast(int, group["count"]) + 1
        examples = cast(list[str | None], group["examples"])
        if len(examples) < _EXAMPLES:
            examples.append(key)

    for chunk in chunks(run, plan, outcomes):
        if len(preview) < limit:
            preview.extend(chunk.records[: limit - len(preview)])
        for row in run.rejections:
            note("rejected", row.code, row.column, row.message, row.sync_key)
        for dropped in run.dropped:
            note("field_dropped", dropped.code, dropped.column or dropped.field,
                 dropped.message, dropped.sync_key)
        run.rejections, run.dropped = [], []
    run.summary.checks = sorted(groups.values(), key=lambda g: -cast(int, g["count"]))
    return preview
