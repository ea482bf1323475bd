"""Judge a finished run (or a sync's silence) against alert conditions.

Each condition gives a verdict: firing, clear, or cannot tell (too little history; a cancelled
run says nothing about failures). Only firing and clear change what is open, so a cancelled run
neither raises nor resolves a failure alert.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from syncline.config.alerts import AlertConditions, parse_period
from syncline.store.records import RunRecord
from syncline.store.statuses import is_success, status_text

__all__ = ["Verdict", "judge_run", "judge_silence", "planned"]


@dataclass(frozen=True)
class Verdict:
    """One condition's state after a run: ``firing`` True/False, or None when it cannot tell."""

    condition: str
    firing: bool | None
    detail: str


def planned(run: RunRecord) -> int:
    """Rows a run set out to send (new + changed)."""
    return run.planned_new + run.planned_changed


def _rejected(run: RunRecord) -> int:
    return run.rejected + int(getattr(run, "fields_dropped", 0) or 0)


def _duration_s(run: RunRecord) -> float:
    if run.finished_at is None:
        return 0.0
    return (run.finished_at - run.started_at).total_seconds()


def judge_run(when: AlertConditions, run: RunRecord,
              earlier: list[RunRecord]) -> list[Verdict]:
    """The verdict of every condition ``when`` sets, for ``run``; ``earlier``: newest first."""
    verdicts: list[Verdict] = []
    if when.run_failed:
        firing = None if run.status in ("cancelled", "skipped", "running") else (
            run.status == "failed")
        verdicts.append(Verdict("run_failed", firing, f"run {run.id} {status_text(run.status)}"
                                + (f": {run.error}" if run.error else "")))
    if when.rejected_percent_over is not None and run.status != "skipped":
        total = planned(run)
        share = 100.0 * _rejected(run) / total if total else 0.0
        verdicts.append(Verdict(
            "rejected_percent_over", share > when.rejected_percent_over,
            f"{_rejected(run):,} of {total:,} planned rows rejected ({share:.1f}%, "
            f"limit {when.rejected_percent_over:g}%)"))
    if when.in_doubt and run.status != "skipped":
        verdicts.append(Verdict("in_doubt", run.in_doubt > 0,
                                f"{run.in_doubt:,} event(s) in doubt after run {run.id}"))
    if when.duration_over is not None and run.finished_at is not None:
        limit = parse_period(when.duration_over).total_seconds()
        took = _duration_s(run)
        verdicts.append(Verdict("duration_over", took > limit,
                                f"run {run.id} took {took:,.0f} s (limit {limit:,.0f} s)"))
    if when.volume_change_factor is not None and is_success(run.status):
        verdicts.append(_volume(when, run, earlier))
    return verdicts


def _volume(when: AlertConditions, run: RunRecord, earlier: list[RunRecord]) -> Verdict:
    factor = when.volume_change_factor or 0.0
    usual = [planned(r) for r in earlier if is_success(r.status) and r.id != run.id]
    usual = usual[: when.volume_baseline_runs]
    if len(usual) < 3:
        return Verdict("volume_change", None, "fewer than 3 earlier runs to compare with")
    median = statistics.median(usual)
    now = planned(run)
    if median == 0:  # a sync that usually sends nothing: any volume is "infinitely" more
        return Verdict("volume_change", None, "the usual volume is 0 rows")
    firing = now > factor * median or now < median / factor
    return Verdict("volume_change", firing,
                   f"{now:,} rows planned; the median of the last {len(usual)} runs is "
                   f"{median:,.0f} (alert beyond {factor:g}× either way)")


def judge_silence(when: AlertConditions, last_success: RunRecord | None,
                  first_seen: datetime, now: datetime) -> Verdict | None:
    """``not_succeeded_within``: no successful run for the period (None when not set).

    ``first_seen``: when the sync was first known (its first run), so a new sync is not
    reported as silent since the epoch.
    """
    if when.not_succeeded_within is None:
        return None
    period = parse_period(when.not_succeeded_within)
    since = last_success.finished_at if last_success and last_success.finished_at else first_seen
    silent = now - since
    hours = silent.total_seconds() / 3600
    return Verdict("not_succeeded_within", silent > period,
                   f"no successful run for {hours:,.1f} h (limit {when.not_succeeded_within})")
