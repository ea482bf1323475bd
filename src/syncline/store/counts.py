"""The counts of a run, named and ordered once, for every place that shows them.

The CLI's run summary and ``syncline runs``, ``--json``, the API (``GET /api/runs/{id}``) and
the dashboard all take a run's counts from `ordered_counts` and their labels from `LABELS`, so
one cannot show a count the others leave out or call it by another name. The keys are the
state store's ``runs`` column names.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LABELS", "RUN_COUNTS", "ordered_counts"]

RUN_COUNTS: tuple[tuple[str, str], ...] = (
    ("rows_in_model", "rows in model"),
    ("planned_new", "new"),
    ("planned_changed", "changed"),
    ("planned_unchanged", "unchanged"),
    ("planned_removed", "removed"),
    ("invalid", "invalid (null or duplicate key)"),
    ("sent", "sent"),
    ("accepted", "accepted"),
    ("rejected", "rejected"),
    ("failed", "failed (retried next run)"),
    ("in_doubt", "in doubt"),
    ("not_sent", "not sent (run stopped)"),
    ("in_doubt_skipped", "earlier in-doubt keys skipped"),
    ("in_doubt_resent", "earlier in-doubt keys resent"),
    ("fields_dropped", "fields dropped (record sent)"),
    ("deleted", "deleted"),
    ("delete_failed", "delete failed"),
)
"""(key, label) in the order every view shows them: the model, the plan, what became of the
planned rows, then the side counts (earlier in-doubt keys, dropped fields, deletes)."""

LABELS: dict[str, str] = dict(RUN_COUNTS)


def ordered_counts(values: Mapping[str, int]) -> dict[str, int]:
    """Every run count, in `RUN_COUNTS` order; a count `values` lacks is 0."""
    return {key: int(values.get(key, 0) or 0) for key, _ in RUN_COUNTS}
