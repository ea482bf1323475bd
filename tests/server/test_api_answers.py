"""Real answers of every API operation conform to ``/openapi.json``: one walk through the API on
the running server (connections, source browsing, syncs, a plan, runs against the sandbox,
rejections, a cancelled run, users, tokens, the audit log, alerts), each answer checked by the
``Answers`` hook of ``Served.api()`` (``tests/server/answers.py``), and every operation seen
answering with success at least once."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

from syncline.engine.summary import RunSummary
from syncline.server.api.models import Plan, Run, RunCounts, RunWithProgress
from syncline.store.records import RunRecord
from tests.alerts.receivers import webhook

from .answers import operations
from .served import ACCOUNT, PASSCODE, SOURCE_BODY, USERS, destination_body, served

SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id", "alerts": {"rejected_percent_over": 5},
    "mappings": {"columns": [{"from": "email", "to": "Email"}, {"from": "phone", "to": "Phone"}]},
}
ELSEWHERE = {("GET", "/api/sources/{name}/dbt-models")}
"""Needs a built dbt project: tests/dbt/test_dbt_api.py checks it through the same hook."""


def test_every_operation_answers_as_declared(tmp_path: Path) -> None:
    with webhook() as (hook, _), served(tmp_path) as app, app.api() as client:
        (app.root / "syncline.yml").write_text(
            "version: 1\nalerts:\n  ops:\n"
            f"    channel: {{type: webhook, url: '{hook}'}}\n"
            "    when: {run_failed: true, rejected_percent_over: 1}\n")
        # account
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/me").json()["user"]["role"] == "admin"
        made = client.post("/api/tokens", json={"name": "airflow", "role": "viewer"})
        assert made.status_code == 201 and made.json()["token"]
        assert len(client.get("/api/tokens").json()["tokens"]) == 2
        assert client.delete(f"/api/tokens/{made.json()['details']['id']}").status_code == 200
        assert client.post("/api/users", json={"username": "ada", "password": "a long password"}
                           ).status_code == 201
        assert client.put("/api/users/ada", json={"role": "editor"}).json()["user"]["role"] == (
            "editor")
        assert [u["username"] for u in client.get("/api/users").json()["users"]] == [
            "ada", "grace"]
        assert client.delete("/api/users/ada").status_code == 200
        # connections and the source
        assert client.post("/api/connections", json=destination_body(app.sandbox)
                           ).status_code == 201
        assert client.post("/api/connections", json=SOURCE_BODY).status_code == 201
        assert client.post("/api/connections", json=destination_body(app.sandbox, "spare")
                           ).status_code == 201
        listed = client.get("/api/connections").json()["connections"]
        assert len(listed) == 3 and PASSCODE not in str(listed)  # secrets stay masked
        assert client.get("/api/connections/destination/ct").json()["connection"]["type"] == (
            "clevertap")
        assert client.put("/api/connections/source/wh", json={"config": SOURCE_BODY["config"]}
                          ).status_code == 200
        assert client.delete("/api/connections/destination/spare").status_code == 200
        assert client.post("/api/connections/destination/ct/test").json()["ok"] is True
        assert "main" in client.get("/api/sources/wh/schemas").json()["schemas"]
        assert "users" in client.get("/api/sources/wh/schemas/main/tables").json()["tables"]
        assert client.get("/api/sources/wh/columns", params={"table": "main.users"}
                          ).status_code == 200
        assert client.post("/api/sources/wh/columns", json={"query": "SELECT 1 AS one"}
                           ).json()["columns"][0]["name"] == "one"
        # syncs
        assert client.post("/api/syncs", json={"name": "users", "config": SYNC}).status_code == 201
        assert client.post("/api/syncs", json={"name": "spare", "config": SYNC}).status_code == 201
        assert client.put("/api/syncs/users", json={"config": SYNC}).status_code == 200
        assert client.post("/api/syncs/users/pause").json()["sync"]["paused"] is True
        assert client.post("/api/syncs/users/resume").json()["sync"]["paused"] is False
        assert client.get("/api/syncs/users").status_code == 200
        assert client.delete("/api/syncs/spare").status_code == 200
        assert [s["name"] for s in client.get("/api/syncs").json()["syncs"]] == ["users"]
        plan = client.post("/api/syncs/users/plan", params={"preview": 2}).json()["plan"]
        assert (plan["planned"]["new"], len(plan["preview"])) == (USERS, 2)
        # runs
        started = client.post("/api/syncs/users/runs")
        assert started.status_code == 202
        run = app.wait_run(client, started.json()["run_id"])
        assert run["status"] == "succeeded_with_rejections"
        assert [r["id"] for r in client.get("/api/runs").json()["runs"]] == [run["id"]]
        page = client.get(f"/api/runs/{run['id']}/rejections").json()
        assert (page["total"], len(page["summary"]), len(page["rejections"])) == (1, 1, 1)
        table = client.get(f"/api/runs/{run['id']}/rejections", params={"format": "csv"})
        assert len(list(csv.reader(io.StringIO(table.text)))) == 2
        # alerts: the rule, the sync's own conditions over it, the condition the run opened
        deadline = time.monotonic() + 15
        while not (alerts := client.get("/api/alerts").json()["alerts"])[0]["open"]:
            assert time.monotonic() < deadline, alerts
            time.sleep(0.05)
        assert alerts[0]["overrides"] == {"users": {"rejected_percent_over": 5.0}}
        assert client.post("/api/alerts/ops/test").json()["sent"] is True
        # a slow run, cancelled while it runs
        app.sandbox.set_faults(ACCOUNT, latency_ms=150)
        slow = {**SYNC, "batch_size": 1, "in_flight": 1}
        assert client.put("/api/syncs/users", json={"config": slow, "check": False}
                          ).status_code == 200
        run_id = client.post("/api/syncs/users/runs", json={"full": True}).json()["run_id"]
        assert client.post(f"/api/runs/{run_id}/cancel").json()["cancelling"] is True
        assert app.wait_run(client, run_id)["status"] == "cancelled"
        app.sandbox.set_faults(ACCOUNT, latency_ms=0)
        assert client.get("/api/audit", params={"limit": 5}).json()["entries"]

        doc = client.get("/api/openapi.json").json()
    assert operations(doc) - app.answers.seen == ELSEWHERE


def test_the_models_keep_the_fields_in_the_order_the_cli_prints_them() -> None:
    """``--json`` prints ``to_dict`` as it is; the API answers through its model: the same
    fields in the same order, so the two never drift apart (tests/server/test_runs_agree.py)."""
    record = RunRecord(id=1, sync="users", status="succeeded", trigger="api", full=False,
                       started_at=datetime(2026, 1, 5, tzinfo=UTC), finished_at=None,
                       heartbeat_at=None, error=None)
    assert list(record.to_dict()) == list(Run.model_fields)
    assert list(RunWithProgress.model_fields) == [*Run.model_fields, "progress"]
    assert list(record.counts) == list(RunCounts.model_fields)
    assert list(RunSummary(sync="users").to_dict()) == list(Plan.model_fields)
