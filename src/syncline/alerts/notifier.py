"""Tie conditions, notices and channels to the state store: alert once, recover once.

Called after every run (CLI and server alike, by the runner) and periodically for silent syncs
(the server's scheduler, or ``syncline alerts check`` from cron). Sending is best effort: a
channel that fails is logged and reported to the caller, and never changes the run it reports on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from syncline.alerts.channels import send
from syncline.alerts.conditions import Verdict, judge_run, judge_silence
from syncline.alerts.notice import Notice
from syncline.config.alerts import AlertRule
from syncline.config.models import Project
from syncline.errors import AlertDeliveryError, ConfigError
from syncline.store import StateStore
from syncline.store.alert_states import AlertStates
from syncline.store.records import RunRecord
from syncline.store.statuses import is_success

__all__ = ["AlertNotifier", "Sent"]

log = logging.getLogger("syncline.alerts")

_HISTORY = 100


@dataclass(frozen=True)
class Sent:
    """A notice that went out (or failed to): what the caller may print or test."""

    notice: Notice
    error: str | None = None


class AlertNotifier:
    """The alerts of one project, on one state store."""

    def __init__(self, project: Project, store: StateStore) -> None:
        self.project, self.store = project, store
        self.states = AlertStates(store.engine)

    def _rules(self, sync: str) -> Iterable[tuple[str, AlertRule]]:
        return ((n, r) for n, r in sorted(self.project.alerts.items()) if r.watches(sync))

    def after_run(self, run_id: int) -> list[Sent]:
        """Open or clear the conditions a finished run decides; send what changed."""
        if not self.project.alerts:
            return []
        run = self.store.run(run_id)
        sync = self.project.syncs.get(run.sync)
        earlier = self.store.runs(run.sync, limit=_HISTORY)
        sent: list[Sent] = []
        for name, rule in self._rules(run.sync):
            when = rule.when.merged(sync.alerts if sync else None)
            for verdict in judge_run(when, run, earlier):
                sent.extend(self._apply(name, rule, run.sync, verdict, run))
        return sent

    def check_silence(self, now: datetime | None = None) -> list[Sent]:
        """``not_succeeded_within`` for every sync (the server calls this every minute)."""
        now = now or datetime.now(UTC)
        sent: list[Sent] = []
        for sync_name, sync in sorted(self.project.syncs.items()):
            rules = list(self._rules(sync_name))
            if not rules:
                continue
            runs = self.store.runs(sync_name, limit=_HISTORY)
            if not runs:
                continue  # a sync that never ran is not late: it has no schedule record yet
            success = next((r for r in runs if is_success(r.status)), None)
            first_seen = runs[-1].started_at
            for name, rule in rules:
                verdict = judge_silence(rule.when.merged(sync.alerts), success, first_seen, now)
                if verdict is not None:
                    sent.extend(self._apply(name, rule, sync_name, verdict, success))
        return sent

    def send_test(self, name: str) -> Sent:
        """Send a test notice through alert ``name`` (ConfigError for an unknown name)."""
        rule = self.project.alerts.get(name)
        if rule is None:
            known = ", ".join(sorted(self.project.alerts)) or "none"
            raise ConfigError(f"no alert `{name}` in the project (known: {known})")
        notice = Notice(name, "*", "test", "test",
                        "This is a test alert from Syncline: this channel works.",
                        url=self.project.server_url)
        return self._send(rule, notice)

    def _apply(self, name: str, rule: AlertRule, sync: str, verdict: Verdict,
               run: RunRecord | None) -> list[Sent]:
        if verdict.firing is None:
            return []
        run_id = run.id if run else None
        if verdict.firing:
            if not self.states.open(name, sync, verdict.condition, run_id=run_id,
                                    detail=verdict.detail):
                return []  # already open: alerted when it opened
            return [self._send(rule, self._notice(name, sync, verdict, run, "firing"))]
        if self.states.clear(name, sync, verdict.condition) is None:
            return []
        return [self._send(rule, self._notice(name, sync, verdict, run, "resolved"))]

    def _notice(self, name: str, sync: str, verdict: Verdict, run: RunRecord | None,
                state: Literal["firing", "resolved"]) -> Notice:
        counts: dict[str, int] = {}
        if run is not None:
            counts = {"planned": run.planned_new + run.planned_changed, "accepted": run.accepted,
                      "rejected": run.rejected, "failed": run.failed, "in_doubt": run.in_doubt}
        url = None
        if self.project.server_url and run is not None:
            url = f"{self.project.server_url.rstrip('/')}/runs/{run.id}"
        return Notice(name, sync, verdict.condition, state, verdict.detail,
                      run_id=run.id if run else None,
                      run_status=run.status if run else None, counts=counts,
                      error=run.error if run and state == "firing" else None, url=url)

    def _send(self, rule: AlertRule, notice: Notice) -> Sent:
        try:
            send(rule.channel, notice)
        except AlertDeliveryError as exc:
            log.warning("alert not sent", extra={"event": "alert_failed", "alert": notice.alert,
                                                 "sync": notice.sync, "error": str(exc)})
            return Sent(notice, str(exc))
        log.info("alert sent", extra={"event": "alert", "alert": notice.alert,
                                      "sync": notice.sync, "condition": notice.condition,
                                      "state": notice.state, "run_id": notice.run_id})
        return Sent(notice)
