"""``syncline validate``: the real CLI checks a project against its warehouse, one line per
check, exit code 1 on any failure, and nothing sent to CleverTap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli.helpers import Project


@pytest.fixture
def project(tmp_path: Path, sandbox_account: dict[str, Any]) -> Project:
    return Project.create(tmp_path, sandbox_account, users=30)


def _lines(result: Any) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_a_null_and_duplicated_key_fail_and_nothing_is_sent(project: Project) -> None:
    result = project.cli("validate")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = _lines(result)
    assert lines[:4] == [
        "✓ config: syncline.yml valid (1 source(s), 1 sync(s))",
        "✓ source warehouse: reachable",
        "✓ sync users: model readable (9 columns)",
        "✓ sync users: mapped columns exist",
    ]
    assert lines[4].startswith("✗ sync users: sync key `user_id` unique and non-null: ")
    assert "null in 1 row(s)" in lines[4] and "not unique (1 duplicate value(s))" in lines[4]
    assert len(lines) == 5
    assert project.sandbox.upload_count(project.account["account_id"]) == 0


def test_a_clean_project_passes_every_check(project: Project) -> None:
    project.sql("DELETE FROM users WHERE user_id IS NULL OR user_id = 31")
    result = project.cli("validate", "users")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.startswith("✓ ") for line in _lines(result)), result.stdout
    checks = project.cli_json("validate")
    assert [c["what"] for c in checks][-1] == "sync key `user_id` unique and non-null"
    assert all(c["ok"] for c in checks)


def test_a_mapped_column_missing_from_the_model(project: Project) -> None:
    project.sql("DELETE FROM users WHERE user_id IS NULL OR user_id = 31")
    project.write_config(mapping="columns", extra_column="nope")
    result = project.cli("validate")
    assert result.returncode == 1
    failed = [line for line in _lines(result) if line.startswith("✗")]
    assert len(failed) == 1
    assert failed[0].startswith("✗ sync users: mapped columns exist: mappings.columns.6.from: "
                                "column `nope` is not in the model")


def test_an_unreachable_source_and_an_unresolvable_dbt_model(project: Project) -> None:
    text = project.config_path.read_text()
    project.config_path.write_text(text.replace("path: warehouse.duckdb",
                                                "path: gone/warehouse.duckdb"))
    lines = _lines(project.cli("validate"))
    assert lines[1].startswith("✗ source warehouse: reachable: ")
    assert lines[2] == "✗ sync users: checked: source `warehouse` could not be reached"
    project.config_path.write_text(text.replace("table: main.users", "dbt: customers"))
    result = project.cli("validate")
    assert result.returncode == 1
    assert _lines(result)[2].startswith("✗ sync users: dbt model resolves: sync `users` reads "
                                        "dbt model `customers` but source `warehouse` has no")


def test_a_config_error_is_one_failed_line(project: Project) -> None:
    env = {k: v for k, v in project.env.items() if k != "CLEVERTAP_PASSCODE"}
    result = project.cli_with_env(env, "validate")
    assert result.returncode == 1
    lines = _lines(result)
    assert len(lines) == 1 and lines[0].startswith("✗ config: valid: ")
    assert "CLEVERTAP_PASSCODE" in lines[0]
    unknown = project.cli("validate", "nosuch")
    assert unknown.returncode == 2 and "no sync `nosuch`" in unknown.stderr


def test_json_lists_every_check(project: Project) -> None:
    result = project.cli("validate", "--json")
    assert result.returncode == 1
    checks = orjson.loads(result.stdout)
    assert [c["ok"] for c in checks] == [True, True, True, True, False]
    assert checks[0] == {"subject": "config", "what": "syncline.yml valid", "ok": True,
                         "detail": "1 source(s), 1 sync(s)"}
