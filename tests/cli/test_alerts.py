"""Alerts from CLI runs to a real webhook receiver and a real SMTP server: a failing run alerts
once, a repeated failure stays quiet, a good run sends the recovery; secrets stay out of logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from tests.alerts.receivers import smtp, subjects, webhook
from tests.cli.helpers import Project

HOOK_TOKEN = "hook-token-9f8e7d6c"
WRONG_PASSCODE = "wrong-passcode-5a4b3c"

ALERTS = """
server_url: http://syncline.example.test
alerts:
  ops:
    channel: {{type: webhook, url: "${{ALERT_WEBHOOK_URL}}"}}
    when: {{run_failed: true, rejected_percent_over: 50, in_doubt: true}}
    syncs: all
  mail:
    channel:
      type: email
      host: 127.0.0.1
      port: {port}
      from: syncline@example.test
      to: oncall@example.test
    when: {{run_failed: true}}
    syncs: [users]
"""


def _project(tmp_path: Path, account: dict[str, Any], hook: str, port: int) -> Project:
    project = Project.create(tmp_path, account, users=20)
    project.config_path.write_text(project.config_path.read_text() + ALERTS.format(port=port))
    project.env["ALERT_WEBHOOK_URL"] = f"{hook}?token={HOOK_TOKEN}"
    return project


def test_a_failed_run_alerts_once_and_recovers_once(
    tmp_path: Path, sandbox_account: dict[str, Any]
) -> None:
    with webhook() as (hook, posted), smtp() as (port, mail):
        project = _project(tmp_path, sandbox_account, hook, port)
        wrong = {**project.env, "CLEVERTAP_PASSCODE": WRONG_PASSCODE}

        failed = project.cli_with_env(wrong, "run", "users")
        assert failed.returncode == 1, failed.stderr
        assert [(b["condition"], b["state"]) for b in posted.items] == [("run_failed", "firing")]
        alert = posted.items[0]
        assert alert["sync"] == "users" and alert["run_status"] == "failed"
        assert alert["url"] == f"http://syncline.example.test/runs/{alert['run_id']}"
        assert alert["error"] and "passcode" in alert["error"].lower()
        assert subjects(mail) == ["[Syncline] users: run failed"]

        again = project.cli_with_env(wrong, "run", "users")
        assert again.returncode == 1
        assert len(posted.items) == 1 and len(mail.items) == 1  # the same open condition

        good = project.run_json("users")
        # 2 rejected of 20: under 50%, and a success: the failure alert resolves
        assert good["status"] == "succeeded_with_rejections" and good["rejected"] == 2
        assert [(b["condition"], b["state"]) for b in posted.items[1:]] == [
            ("run_failed", "resolved")]
        assert posted.items[1]["counts"]["accepted"] == good["accepted"]
        assert subjects(mail)[1:] == ["[Syncline] resolved: users: run failed"]


def test_rejections_over_the_threshold_alert_per_sync_override(
    tmp_path: Path, sandbox_account: dict[str, Any]
) -> None:
    with webhook() as (hook, posted), smtp() as (port, _mail):
        project = _project(tmp_path, sandbox_account, hook, port)
        text = project.config_path.read_text().replace(
            "    in_flight: 4\n", "    in_flight: 4\n    alerts: {rejected_percent_over: 5}\n")
        project.config_path.write_text(text)
        first = project.run_json("users")
        assert first["rejected"] == 2  # 10% of 20 planned, over this sync's own 5%
        assert [(b["condition"], b["state"]) for b in posted.items] == [
            ("rejected_percent_over", "firing")]
        assert "10.0%" in posted.items[0]["detail"]


def test_send_test_alert_and_a_failing_channel_is_named(
    tmp_path: Path, sandbox_account: dict[str, Any]
) -> None:
    with webhook() as (hook, posted), smtp() as (port, mail):
        project = _project(tmp_path, sandbox_account, hook, port)
        ok = project.cli("alerts", "test", "ops")
        assert ok.returncode == 0, ok.stderr
        assert posted.items[-1]["state"] == "test" and posted.paths[-1].endswith(HOOK_TOKEN)
        assert project.cli("alerts", "test", "mail").returncode == 0
        assert subjects(mail) == ["[Syncline] test alert from `mail`"]
        posted.status = 500
        broken = project.cli("alerts", "test", "ops")
        assert broken.returncode == 1 and "HTTP 500" in broken.stdout + broken.stderr
        assert HOOK_TOKEN not in broken.stdout + broken.stderr
        unknown = project.cli("alerts", "test", "nope")
        assert unknown.returncode == 2 and "known: mail, ops" in unknown.stdout + unknown.stderr


def test_json_logs_name_each_run_and_never_a_secret(
    tmp_path: Path, sandbox_account: dict[str, Any]
) -> None:
    with webhook() as (hook, _posted), smtp() as (port, _mail):
        project = _project(tmp_path, sandbox_account, hook, port)
        wrong = {**project.env, "CLEVERTAP_PASSCODE": WRONG_PASSCODE}
        failed = project.cli_with_env(wrong, "--log-format", "json", "run", "users")
        good = project.cli("--log-format", "json", "run", "users", "--json")
    for result in (failed, good):
        everything = result.stdout + result.stderr
        for secret in (WRONG_PASSCODE, sandbox_account["passcode"], HOOK_TOKEN):
            assert secret not in everything
    lines = [json.loads(line) for line in good.stderr.splitlines() if line.startswith("{")]
    events = [line.get("event") for line in lines]
    assert events[0] == "run_start" and "run_end" in events
    end = next(line for line in lines if line.get("event") == "run_end")
    summary = orjson.loads(good.stdout)
    assert end["sync"] == "users" and end["run_id"] == summary["run_id"]
    assert end["accepted"] == summary["accepted"] and end["status"] == "succeeded_with_rejections"
    failed_lines = [json.loads(x) for x in failed.stderr.splitlines() if x.startswith("{")]
    assert any(x.get("event") == "alert" and x["condition"] == "run_failed"
               for x in failed_lines)
