"""A 200 answer is believed only when it accounts for the batch (issue #11, item 1).

The sandbox spoils answers on purpose (``bad_answer`` faults): a 200 ``{"status": "fail"}``
without counts, an ``unprocessed`` entry with a code CleverTap does not document, or one that
names no record. Profiles: the batch is retried; events: it is in doubt. Nothing is counted
accepted on an answer Syncline does not understand, and the run goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.helpers import Project, sandbox_profiles
from tests.cli.test_event_sync import ORDERS, EventProject

USERS = 300  # users 2 and 4 break a rule; 298 valid profiles
VALID = {str(i) for i in range(1, USERS + 1)} - {"2", "4"}


def adds_up(summary: dict[str, Any]) -> bool:
    """new + changed = accepted + rejected + failed + in_doubt + not_sent (a --json summary)."""
    planned = summary["planned"]["new"] + summary["planned"]["changed"]
    return planned == (summary["accepted"] + summary["rejected"] + summary["failed"]
                       + summary["in_doubt"] + summary["not_sent"])


@pytest.fixture
def project(tmp_path: Path, sandbox_account: dict[str, Any]) -> Project:
    project = Project.create(tmp_path, sandbox_account, users=USERS)
    text = project.config_path.read_text().replace("batch_size: 1000", "batch_size: 25")
    project.config_path.write_text(text)
    project.env["SYNCLINE_RETRY_BASE_DELAY_S"] = "0.01"
    return project


@pytest.fixture
def events(tmp_path: Path, sandbox_account: dict[str, Any]) -> EventProject:
    project = EventProject.create(tmp_path, sandbox_account, users=40)
    project.create_orders(ORDERS)
    project.configure_events(batch_size=25)
    return project


def test_profiles_answered_without_counts_are_retried_not_believed(project: Project) -> None:
    project.set_faults(bad_answer="inconsistent", bad_answer_rate=0.4, seed=2)
    summary = project.run_json("users")
    assert (summary["status"], summary["accepted"], summary["failed"]) == (
        "succeeded_with_rejections", 298, 0)
    assert set(sandbox_profiles(project)) == VALID
    account = project.account["account_id"]
    assert project.sandbox.upload_attempts(account) > 12  # 12 batches, some sent again


def test_profiles_never_answered_consistently_fail_the_run_with_the_raw_body(
    project: Project,
) -> None:
    """The old client counted every record of `{"status":"fail"}` as accepted."""
    project.set_faults(bad_answer="inconsistent", bad_answer_rate=1.0)
    failed = project.cli("run", "users", "--json")
    assert failed.returncode == 1
    summary = orjson.loads(failed.stdout)
    assert (summary["status"], summary["accepted"]) == ("failed", 0)
    assert summary["failed"] > 0 and summary["not_sent"] > 0
    assert 'has no `unprocessed` list' in summary["error"]
    assert '{"status":"fail"}' in summary["error"]  # CleverTap's raw body, as it came
    assert adds_up(summary)
    project.set_faults()
    again = project.run_json("users")  # nothing entered the snapshot: all of it is sent now
    assert again["accepted"] == 298
    assert set(sandbox_profiles(project)) == VALID


def test_events_answered_without_counts_are_in_doubt_and_never_duplicated(
    events: EventProject,
) -> None:
    events.set_faults(bad_answer="inconsistent", bad_answer_rate=0.5, seed=4)
    first = events.run_json("orders")
    assert first["status"] == "succeeded"  # the run went on
    assert 0 < first["in_doubt"] < ORDERS
    assert first["accepted"] + first["in_doubt"] == ORDERS
    assert first["in_doubt"] == len(first["in_doubt_keys"])
    reasons = {r["reason"] for r in events.cli_json("in-doubt", "orders")}
    assert len(reasons) == 1 and '{"status":"fail"}' in reasons.pop()  # the raw body, kept
    events.set_faults()
    second = events.run_json("orders")  # default policy: skip, never duplicate
    assert (second["in_doubt_skipped"], second["sent"]) == (first["in_doubt"], 0)
    assert set(events.order_counts()) == set(range(1, ORDERS + 1))
    assert set(events.order_counts().values()) == {1}


def test_an_unknown_code_leaves_that_event_in_doubt_with_clevertaps_text(
    events: EventProject,
) -> None:
    events.set_faults(bad_answer="unknown_code", bad_answer_rate=1.0)
    first = events.run_json("orders")
    batches = ORDERS // 25
    assert (first["status"], first["in_doubt"], first["rejected"]) == ("succeeded", batches, 0)
    assert first["accepted"] == ORDERS - batches
    assert adds_up(first)
    listed = events.cli_json("in-doubt", "orders")
    assert len(listed) == batches
    assert {r["reason"] for r in listed} == {
        "Sandbox: a reason no client knows yet. Skipped record number : 1"}


def test_an_unknown_code_fails_that_profile_and_the_run_goes_on(project: Project) -> None:
    project.set_faults(bad_answer="unknown_code", bad_answer_rate=1.0)
    failed = project.cli("run", "users", "--json")
    summary = orjson.loads(failed.stdout)
    batches = 12  # 298 valid records, 25 a batch: every batch was sent
    assert (summary["status"], summary["failed"], summary["not_sent"]) == ("failed", batches, 0)
    assert summary["accepted"] == 298 - batches
    assert "a reason no client knows yet" in summary["error"]
    assert adds_up(summary)
    project.set_faults()
    again = project.run_json("users")
    assert (again["planned"]["new"], again["accepted"]) == (batches + 2, batches)  # + 2, 4
    assert set(sandbox_profiles(project)) == VALID


def test_an_entry_without_a_record_number_puts_its_event_batch_in_doubt(
    events: EventProject,
) -> None:
    events.set_faults(bad_answer="no_record_number", bad_answer_rate=0.3, seed=1)
    first = events.run_json("orders")
    assert first["status"] == "succeeded"
    assert first["in_doubt"] > 0 and first["in_doubt"] % 25 == 0  # whole batches
    assert first["accepted"] + first["in_doubt"] == ORDERS
