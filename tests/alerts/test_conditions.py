"""Each alert condition judged on runs recorded in a real state store, notices to a real webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncline.alerts import AlertNotifier
from syncline.config.alerts import AlertConditions, parse_period
from syncline.config.models import Project
from syncline.store import StateStore
from tests.alerts.receivers import webhook

SYNC = {"source": "wh", "model": {"table": "main.t"}, "destination": "ct", "object": "profile",
        "sync_key": "id"}


def _project(hook: str, when: dict[str, object], **sync: object) -> Project:
    return Project.model_validate({
        "sources": {"wh": {"type": "duckdb", "path": "wh.duckdb"}},
        "destinations": {"ct": {"type": "clevertap", "account_id": "A", "passcode": "p"}},
        "syncs": {"users": {**SYNC, **sync}},
        "alerts": {"ops": {"channel": {"type": "webhook", "url": hook}, "when": when}},
    })


def _run(store: StateStore, status: str, *, planned: int = 100, rejected: int = 0,
         in_doubt: int = 0, took_s: float = 1.0) -> int:
    run_id = store.start_run("users")
    store.finish_run(run_id, status, planned_new=planned, accepted=planned - rejected,
                     rejected=rejected, in_doubt=in_doubt)
    started = datetime.now(UTC) - timedelta(seconds=took_s)
    store.update_run(run_id, started_at=started)
    return run_id


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(f"sqlite:///{tmp_path / 'state.db'}")


def test_volume_far_from_the_median_alerts_then_recovers(store: StateStore) -> None:
    with webhook() as (hook, posted):
        notifier = AlertNotifier(_project(hook, {"volume_change_factor": 5}), store)
        for _ in range(2):
            notifier.after_run(_run(store, "succeeded", planned=100))
        assert posted.items == []  # two earlier runs are too few to judge
        notifier.after_run(_run(store, "succeeded", planned=100))
        notifier.after_run(_run(store, "succeeded", planned=10_000))
        assert [(b["condition"], b["state"]) for b in posted.items] == [
            ("volume_change", "firing")]
        assert "median of the last 3 runs is 100" in posted.items[0]["detail"]
        notifier.after_run(_run(store, "succeeded", planned=15))  # 1/5 of 100 is 20: still off
        assert len(posted.items) == 1
        notifier.after_run(_run(store, "succeeded", planned=90))
        assert posted.items[-1]["state"] == "resolved"


def test_in_doubt_and_duration(store: StateStore) -> None:
    with webhook() as (hook, posted):
        notifier = AlertNotifier(_project(hook, {"in_doubt": True, "duration_over": "1m"}), store)
        notifier.after_run(_run(store, "succeeded", in_doubt=7, took_s=90))
        assert sorted((b["condition"], b["state"]) for b in posted.items) == [
            ("duration_over", "firing"), ("in_doubt", "firing")]
        notifier.after_run(_run(store, "succeeded", took_s=5))
        assert sorted((b["condition"], b["state"]) for b in posted.items[2:]) == [
            ("duration_over", "resolved"), ("in_doubt", "resolved")]


def test_a_cancelled_run_neither_raises_nor_clears_a_failure(store: StateStore) -> None:
    with webhook() as (hook, posted):
        notifier = AlertNotifier(_project(hook, {"run_failed": True}), store)
        notifier.after_run(_run(store, "failed"))
        notifier.after_run(_run(store, "cancelled"))
        assert [b["state"] for b in posted.items] == ["firing"]
        notifier.after_run(_run(store, "succeeded"))
        assert [b["state"] for b in posted.items] == ["firing", "resolved"]


def test_a_silent_sync_alerts_once_and_recovers(store: StateStore) -> None:
    with webhook() as (hook, posted):
        project = _project(hook, {"run_failed": True}, alerts={"not_succeeded_within": "26h"})
        notifier = AlertNotifier(project, store)
        _run(store, "succeeded")
        now = datetime.now(UTC)
        assert notifier.check_silence(now + timedelta(hours=25)) == []
        sent = notifier.check_silence(now + timedelta(hours=27))
        assert [(s.notice.condition, s.notice.state) for s in sent] == [
            ("not_succeeded_within", "firing")]
        assert notifier.check_silence(now + timedelta(hours=28)) == []
        _run(store, "succeeded")
        sent = notifier.check_silence(datetime.now(UTC))
        assert [s.notice.state for s in sent] == ["resolved"]
        assert len(posted.items) == 2


def test_two_notifiers_racing_send_one_alert(store: StateStore) -> None:
    with webhook() as (hook, posted):
        project = _project(hook, {"run_failed": True})
        run_id = _run(store, "failed")
        AlertNotifier(project, store).after_run(run_id)
        AlertNotifier(project, store).after_run(run_id)
        assert len(posted.items) == 1


def test_conditions_are_checked_as_configuration() -> None:
    assert parse_period("26h") == timedelta(hours=26)
    with pytest.raises(ValueError, match="26 hours"):
        AlertConditions(duration_over="26 hours")
    with pytest.raises(ValueError, match="unknown sync"):
        Project.model_validate({
            "sources": {"wh": {"type": "duckdb", "path": "wh.duckdb"}},
            "destinations": {"ct": {"type": "clevertap", "account_id": "A", "passcode": "p"}},
            "syncs": {"users": SYNC},
            "alerts": {"ops": {"channel": {"type": "slack", "webhook_url": "http://x"},
                               "syncs": ["userz"]}},
        })


def test_a_run_with_rejections_is_a_success_for_silence_volume_and_failure(
        store: StateStore) -> None:
    with webhook() as (hook, posted):
        project = _project(hook, {"run_failed": True, "volume_change_factor": 5},
                           alerts={"not_succeeded_within": "26h"})
        notifier = AlertNotifier(project, store)
        for _ in range(3):  # the volume baseline: successes, each with a rejected row
            notifier.after_run(_run(store, "succeeded", planned=100, rejected=1))
        assert store.runs("users")[0].status == "succeeded_with_rejections"
        notifier.after_run(_run(store, "succeeded", planned=10_000, rejected=1))
        assert [(b["condition"], b["state"]) for b in posted.items] == [
            ("volume_change", "firing")]
        assert notifier.check_silence(datetime.now(UTC) + timedelta(hours=25)) == []
