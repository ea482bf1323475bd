"""Server runs fire the alerts of the project folder's syncline.yml, like CLI runs, and the
server's log has one line per run start and end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.alerts.receivers import webhook

from .served import SOURCE_BODY, destination_body, served

SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id", "mappings": {"sync_all": True},
}


def _arrived(items: list[Any], count: int) -> list[Any]:
    """The run's status is final before its alerts go out: wait for them (bounded)."""
    deadline = time.monotonic() + 15
    while len(items) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return items


def test_a_failed_server_run_alerts_and_a_good_one_recovers(tmp_path: Path) -> None:
    with webhook() as (hook, posted), served(tmp_path) as app, app.api() as client:
        (app.root / "syncline.yml").write_text(
            "version: 1\nserver_url: https://syncline.example.test\nalerts:\n  ops:\n"
            f"    channel: {{type: webhook, url: '{hook}'}}\n"
            "    when: {run_failed: true}\n")
        wrong = destination_body(app.sandbox)
        wrong["config"]["passcode"] = "not-the-passcode"
        assert client.post("/api/connections", json=wrong).status_code == 201
        assert client.post("/api/connections", json=SOURCE_BODY).status_code == 201
        assert client.post("/api/syncs", json={"name": "users", "config": SYNC}).status_code == 201

        failed = app.wait_run(client, client.post("/api/syncs/users/runs").json()["run_id"])
        assert failed["status"] == "failed"
        assert [(b["condition"], b["state"], b["run_id"]) for b in _arrived(posted.items, 1)] == [
            ("run_failed", "firing", failed["id"])]
        assert posted.items[0]["url"] == f"https://syncline.example.test/runs/{failed['id']}"

        right = destination_body(app.sandbox)
        fixed = client.put("/api/connections/destination/ct", json={"config": right["config"]})
        assert fixed.status_code == 200, fixed.text
        good = app.wait_run(client, client.post("/api/syncs/users/runs").json()["run_id"])
        assert good["status"] == "succeeded_with_rejections"
        assert [b["state"] for b in _arrived(posted.items, 2)] == ["firing", "resolved"]
