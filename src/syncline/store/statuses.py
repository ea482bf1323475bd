"""The words a run's status is told in, the same in the CLI, ``--json``, the API and the pages.

A run that completed but left rows behind (rejected by CleverTap or by a local rule, or
dropped for a null or duplicate sync key) or sent records without some of their fields
(``on_invalid_field: drop_field``) is ``succeeded_with_rejections``: "succeeded" alone would
hide them. It is still a success (exit code 0, alerts and metrics count it as one).

The state store's ``status`` column keeps ``succeeded`` for both (it is ``VARCHAR(20)`` and the
longer word does not fit; runs recorded before this word existed say ``succeeded`` too): the
word is derived from the run's own counts by `run_status`, one rule for old and new runs, so a
status can never disagree with the counts shown beside it.
"""

from __future__ import annotations

__all__ = [
    "CANCELLED",
    "FAILED",
    "FINISHED",
    "RUNNING",
    "SKIPPED",
    "STATUSES",
    "SUCCEEDED",
    "SUCCEEDED_WITH_REJECTIONS",
    "is_success",
    "run_status",
    "status_text",
    "stored_status",
]

RUNNING = "running"
SUCCEEDED = "succeeded"
SUCCEEDED_WITH_REJECTIONS = "succeeded_with_rejections"
FAILED = "failed"
CANCELLED = "cancelled"
SKIPPED = "skipped"

STATUSES = (RUNNING, SUCCEEDED, SUCCEEDED_WITH_REJECTIONS, FAILED, CANCELLED, SKIPPED)
FINISHED = (SUCCEEDED, SUCCEEDED_WITH_REJECTIONS, FAILED, CANCELLED, SKIPPED)
_SUCCESSES = frozenset({SUCCEEDED, SUCCEEDED_WITH_REJECTIONS})


def run_status(status: str, *, rejected: int, invalid: int, fields_dropped: int = 0) -> str:
    """The status to show: ``succeeded`` becomes ``succeeded_with_rejections`` when rows were
    rejected or dropped (invalid key) or fields were dropped; every other status is kept."""
    if status in _SUCCESSES:
        return SUCCEEDED_WITH_REJECTIONS if rejected or invalid or fields_dropped else SUCCEEDED
    return status


def stored_status(status: str) -> str:
    """The value the ``runs.status`` column keeps (see the module docstring)."""
    return SUCCEEDED if status == SUCCEEDED_WITH_REJECTIONS else status


def is_success(status: str) -> bool:
    """The run completed: ``succeeded`` or ``succeeded_with_rejections``."""
    return status in _SUCCESSES


def status_text(status: str) -> str:
    """The status in words for people: ``succeeded with rejections``."""
    return status.replace("_", " ")
