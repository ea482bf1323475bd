"""Profile syncs end to end: the real CLI, a real DuckDB warehouse, the sandbox over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import orjson
import pytest

from tests.cli.helpers import Project, sandbox_profiles

USERS = 300


@pytest.fixture
def project(tmp_path: Path, sandbox_account: dict[str, str]) -> Project:
    return Project.create(tmp_path, sandbox_account, users=USERS)


def test_first_run_sends_every_valid_row_with_mapped_values(project: Project) -> None:
    summary = project.run_json("users")
    assert summary["status"] == "succeeded_with_rejections"  # 3 invalid, 2 rejected
    assert summary["rows_in_model"] == USERS + 3
    assert summary["planned"]["new"] == USERS
    assert summary["invalid"] == 3  # one null key, two rows sharing a key
    assert summary["rejected"] == 2  # one bad email, one bad phone: never sent
    assert summary["sent"] == USERS - 2
    assert summary["accepted"] == USERS - 2
    profiles = sandbox_profiles(project)
    assert set(profiles) == {str(i) for i in range(1, USERS + 1)} - {"2", "4"}
    one = profiles["7"]
    assert one["Name"] == "User 7"
    assert one["Email"] == "user7@example.com"
    assert one["Phone"] == "+14155550007"
    assert one["Gender"] in {"M", "F"}
    assert one["plan"] == project.plan_of(7)
    assert one["DOB"] == project.dob_of(7)


def test_second_run_sends_nothing_and_k_changes_send_k(project: Project) -> None:
    project.run_json("users")
    again = project.run_json("users")
    assert again["planned"]["unchanged"] == USERS - 2
    # the two rejected rows are planned again (they never entered the snapshot), and rejected again
    assert (again["sent"], again["planned"]["new"], again["planned"]["changed"]) == (0, 2, 0)
    assert again["rejected"] == 2
    project.sql("UPDATE users SET plan = 'enterprise' WHERE user_id IN (3, 5, 8, 13, 21)")
    changed = project.run_json("users")
    assert changed["planned"]["changed"] == 5
    assert changed["sent"] == 5
    assert sandbox_profiles(project)["13"]["plan"] == "enterprise"


def test_unrelated_column_change_sends_nothing(project: Project) -> None:
    project.write_config(mapping="columns")
    project.run_json("users")
    project.sql("UPDATE users SET lifetime_value = lifetime_value + 1")
    assert project.run_json("users")["sent"] == 0


def test_new_column_under_sync_all_resends_with_new_property(project: Project) -> None:
    project.run_json("users")
    project.sql("ALTER TABLE users ADD COLUMN tier VARCHAR DEFAULT 'gold'")
    summary = project.run_json("users")
    assert summary["sent"] == USERS - 2
    assert sandbox_profiles(project)["42"]["tier"] == "gold"


def test_mapping_change_resends(project: Project) -> None:
    project.write_config(mapping="columns")
    project.run_json("users")
    project.write_config(mapping="columns", extra_column="country")
    summary = project.run_json("users")
    assert summary["planned"]["changed"] == USERS - 2
    assert sandbox_profiles(project)["9"]["Country"] == project.country_of(9)


def test_full_resync_resends_all(project: Project) -> None:
    project.run_json("users")
    summary = project.run_json("users", "--full")
    assert summary["sent"] == USERS - 2


def test_rejected_rows_are_listed_and_retried_next_run(project: Project) -> None:
    first = project.run_json("users")
    rows = project.cli_json("rejections", str(first["run_id"]))
    by_key = {r["sync_key"]: r for r in rows}
    assert by_key["2"]["code"] == "515"
    assert by_key["2"]["message"] == "Profile data is incorrect. Email is not valid"
    assert by_key["2"]["column"] == "email"
    assert by_key["4"]["code"] == "516"
    assert by_key["4"]["column"] == "phone"
    duplicate = str(USERS + 1)
    assert [r["code"] for r in rows if r["sync_key"] is None] == ["null_key"]
    assert [r["code"] for r in rows if r["sync_key"] == duplicate] == ["duplicate_key"] * 2
    second = project.run_json("users")
    assert second["rejected"] == 2  # still bad, tried again, still out of the snapshot
    project.sql("UPDATE users SET email = 'fixed@example.com' WHERE user_id = 2")
    third = project.run_json("users")
    assert (third["sent"], third["rejected"]) == (1, 1)
    assert sandbox_profiles(project)["2"]["Email"] == "fixed@example.com"


def test_plan_sends_nothing(project: Project) -> None:
    plan = project.cli_json("plan", "users")
    assert plan["sent"] == 0
    assert plan["planned"]["new"] == USERS
    assert plan["preview"] and plan["preview"][0]["type"] == "profile"
    assert sandbox_profiles(project) == {}
    assert project.cli_json("runs") == []


def test_second_concurrent_run_is_refused(project: Project) -> None:
    project.config_path.write_text(
        project.config_path.read_text().replace("batch_size: 1000", "batch_size: 20")
    )
    project.set_faults(latency_ms=3000)  # 15 uploads, 4 at a time: about 12 s, so a loaded
    # machine starts the second CLI well inside the first run
    first = subprocess.Popen(
        [sys.executable, "-m", "syncline", "run", "users", "--project", str(project.root),
         "--json"], env=project.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not project.has_running_run():
            time.sleep(0.1)
        second = project.cli("run", "users")
        assert second.returncode == 2
        assert "already running" in second.stderr
    finally:
        first.communicate(timeout=60)
    assert first.returncode == 0


def test_json_summary_has_every_field(project: Project) -> None:
    summary = project.run_json("users")
    for key in ("sync", "run_id", "status", "rows_in_model", "planned", "invalid", "sent",
                "accepted", "rejected", "failed", "in_doubt", "duration_s"):
        assert key in summary, key
    assert set(summary["planned"]) == {"new", "changed", "unchanged", "removed"}
    project.sql("DELETE FROM users WHERE user_id = 10")
    assert project.run_json("users")["planned"]["removed"] == 1


def test_broken_project_file_names_the_line(project: Project) -> None:
    text = project.config_path.read_text().replace("batch_size: 1000", "batch_size: lots")
    project.config_path.write_text(text)
    result = project.cli("run", "users")
    assert result.returncode == 2
    assert "syncline.yml:" in result.stderr
    assert "batch_size" in result.stderr


def test_warehouse_is_a_real_duckdb_file(project: Project) -> None:
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM users").fetchone()
    assert row is not None and row[0] == USERS + 3


def test_failing_uploads_are_retried_and_nothing_is_lost(project: Project) -> None:
    project.config_path.write_text(
        project.config_path.read_text().replace("batch_size: 1000", "batch_size: 25")
    )
    project.set_faults(error_rate=0.3, burst_429=4, drop_rate=0.1, seed=3)
    summary = project.run_json("users")
    assert (summary["status"], summary["failed"]) == ("succeeded_with_rejections", 0)
    assert summary["accepted"] == USERS - 2
    assert set(sandbox_profiles(project)) == {str(i) for i in range(1, USERS + 1)} - {"2", "4"}
    stored = project.sandbox.upload_count(project.account["account_id"])
    assert stored == 12  # 298 valid records, 25 a batch
    assert project.sandbox.upload_attempts(project.account["account_id"]) > stored


def test_destination_down_fails_the_run_and_loses_nothing(project: Project) -> None:
    project.set_faults(error_rate=1.0, seed=1)
    env = dict(project.env, SYNCLINE_RETRY_BASE_DELAY_S="0.01")
    failed = project.cli_with_env(env, "run", "users", "--json")
    assert failed.returncode == 1
    summary = orjson.loads(failed.stdout)
    assert (summary["status"], summary["accepted"]) == ("failed", 0)
    assert "kept failing" in summary["error"]
    project.set_faults()
    again = project.run_json("users")
    assert again["accepted"] == USERS - 2


def test_a_table_changing_shape_fails_clearly_and_keeps_the_snapshot(project: Project) -> None:
    project.write_config(mapping="columns")
    project.run_json("users")
    project.sql("ALTER TABLE users RENAME COLUMN email TO email_address")
    broken = project.cli("run", "users", "--json")
    assert broken.returncode == 1
    error = orjson.loads(broken.stdout)["error"]
    assert "`email`" in error and "email_address" in error  # names the column and what exists
    project.sql("ALTER TABLE users RENAME COLUMN email_address TO email")
    again = project.run_json("users")
    assert (again["planned"]["unchanged"], again["sent"]) == (USERS - 2, 0)
