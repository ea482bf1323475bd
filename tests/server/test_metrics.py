"""``/metrics`` scraped from a real server before and after a run, parsed by prometheus_client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .served import SOURCE_BODY, USERS, destination_body, served

SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id", "mappings": {"sync_all": True},
}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_runs_and_records(tmp_path: Path) -> None:
    with served(tmp_path) as app, app.api() as client:
        client.post("/api/connections", json=destination_body(app.sandbox))
        client.post("/api/connections", json=SOURCE_BODY)
        assert client.post("/api/syncs", json={"name": "users", "config": SYNC}).status_code == 201
        before = httpx.get(f"{app.url}/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        assert _samples(before.text)[("syncline_uploads_in_flight", ())] == 0
        assert not any(name == "syncline_runs_total" for name, _ in _samples(before.text))

        run_id = client.post("/api/syncs/users/runs").json()["run_id"]
        run = app.wait_run(client, run_id)
        after = _samples(httpx.get(f"{app.url}/metrics").text)
        done = (("status", "succeeded_with_rejections"), ("sync", "users"))  # the bad phone
        assert after[("syncline_runs_total", done)] == 1
        records = (("outcome", "accepted"), ("sync", "users"))
        assert after[("syncline_records_total", records)] == run["accepted"] == USERS - 1
        rejected = (("outcome", "rejected"), ("sync", "users"))
        assert after[("syncline_records_total", rejected)] == 1
        assert after[("syncline_last_run_duration_seconds",
                      (("status", "succeeded_with_rejections"), ("sync", "users")))] >= 0
        assert ("syncline_scheduler_lag_seconds", ()) in after
        assert after[("syncline_upload_retries_total", (("sync", "users"),))] == 0
        exported = {name for name, _ in after}
        dashboard = (Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text()
        exprs = [t["expr"] for p in json.loads(dashboard)["panels"] for t in p["targets"]]
        used = {m for e in exprs for m in re.findall(r"syncline_[a-z_]+", e)}
        assert used and used <= exported, used - exported  # the sample dashboard's metrics exist


def test_metrics_need_the_token_when_one_is_set(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCLINE_METRICS_TOKEN", "scrape-token-123")
    with served(tmp_path) as app:
        assert httpx.get(f"{app.url}/metrics").status_code == 403
        ok = httpx.get(f"{app.url}/metrics",
                       headers={"Authorization": "Bearer scrape-token-123"})
        assert ok.status_code == 200 and "syncline_runs_in_progress" in ok.text
