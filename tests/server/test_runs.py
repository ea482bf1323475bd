"""Runs through the REST API on the real HTTP stack: browse the source, create syncs checked
against it, plan, trigger, poll, read rejections, cancel, and scheduled runs (and skips)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from .served import (
    ACCOUNT,
    BAD_PHONE_USER,
    SOURCE_BODY,
    USERS,
    Served,
    destination_body,
    served,
)

PROFILE_SYNC = {
    "source": "wh", "model": {"table": "main.users"}, "destination": "ct", "object": "profile",
    "sync_key": "user_id",
    "mappings": {"columns": [{"from": "email", "to": "Email"}, {"from": "phone", "to": "Phone"},
                             {"from": "name", "to": "Name"}]},
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path) as running:
        with running.api() as client:
            assert client.post("/api/connections", json=destination_body(running.sandbox)
                               ).status_code == 201
            assert client.post("/api/connections", json=SOURCE_BODY).status_code == 201
        yield running


def test_browse_the_source_and_test_connections(app: Served) -> None:
    with app.api() as client:
        assert "main" in client.get("/api/sources/wh/schemas").json()["schemas"]
        tables = client.get("/api/sources/wh/schemas/main/tables").json()["tables"]
        assert {"users", "orders"} <= set(tables)
        columns = client.get("/api/sources/wh/columns", params={"table": "main.users"}).json()
        assert [c["name"] for c in columns["columns"]] == ["user_id", "email", "name", "phone",
                                                           "age"]
        assert client.post("/api/connections/destination/ct/test").json()["ok"] is True
        assert client.post("/api/connections/source/wh/test").json()["ok"] is True
        bad = {**SOURCE_BODY, "name": "gone", "config": {"type": "duckdb", "path": "no/x.duckdb",
                                                         "read_only": True}}
        client.post("/api/connections", json=bad)
        failed = client.post("/api/connections/source/gone/test").json()
        assert failed["ok"] is False and "gone" in failed["error"]


def test_a_sync_is_checked_against_its_source(app: Served) -> None:
    with app.api() as client:
        body = {"name": "users", "config": {**PROFILE_SYNC, "sync_key": "age"}}
        client.post("/api/connections", json=SOURCE_BODY)
        ok = client.post("/api/syncs", json=body)
        assert ok.status_code == 201, ok.text  # age is unique and non-null here
        dup = {"name": "dup", "config": {
            **PROFILE_SYNC, "model": {"table": "main.orders"}, "sync_key": "user_id",
            "mappings": {"columns": [{"from": "nope", "to": "X"}]}}}
        answer = client.post("/api/syncs", json=dup)
        assert answer.status_code == 422
        errors = {e["field"]: e["reason"] for e in answer.json()["errors"]}
        assert "not unique" in errors["body.config.sync_key"]
        assert "`nope` is not in the model" in errors["body.config.mappings.columns.0.from"]
        missing = {"name": "t", "config": {**PROFILE_SYNC, "model": {"table": "main.nope"}}}
        answer = client.post("/api/syncs", json=missing)
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "body.config.model"


def test_plan_run_poll_rejections_and_a_second_run(app: Served) -> None:
    with app.api() as client:
        assert client.post("/api/syncs", json={"name": "users", "config": PROFILE_SYNC}
                           ).status_code == 201
        plan = client.post("/api/syncs/users/plan", params={"preview": 2}).json()["plan"]
        assert plan["planned"]["new"] == USERS and len(plan["preview"]) == 2
        assert plan["preview"][0]["type"] == "profile"
        started = client.post("/api/syncs/users/runs")
        assert started.status_code == 202, started.text
        run = app.wait_run(client, started.json()["run_id"])
        assert run["status"] == "succeeded_with_rejections", run
        assert (run["accepted"], run["rejected"]) == (USERS - 1, 1)
        rejected = client.get(f"/api/runs/{run['id']}/rejections").json()["rejections"]
        assert [(r["sync_key"], r["code"], r["column"]) for r in rejected] == [
            (BAD_PHONE_USER, "516", "phone")]
        assert client.get(f"/api/runs/{run['id']}/rejections", params={"code": "999"}
                          ).json()["rejections"] == []
        text = client.get(f"/api/runs/{run['id']}/rejections", params={"format": "csv"}).text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["sync_key"] == BAD_PHONE_USER and "Phone" in rows[0]["reason"]
        assert app.sandbox.profile(ACCOUNT, "u001") is not None
        again = app.wait_run(client, client.post("/api/syncs/users/runs").json()["run_id"])
        assert again["accepted"] == 0 and again["rejected"] == 1  # the bad row, tried again
        listed = client.get("/api/runs", params={"sync": "users"}).json()["runs"]
        assert [r["id"] for r in listed] == [again["id"], run["id"]]
        assert client.get("/api/runs/99999").status_code == 404
        assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 409


def test_a_scheduled_event_sync_fires_and_a_locked_one_is_skipped(app: Served) -> None:
    event_sync = {
        "source": "wh", "model": {"table": "main.orders"}, "destination": "ct",
        "object": "event", "sync_key": "order_id", "identity_column": "user_id",
        "event_name": "Charged", "schedule": "every 1h",
        "mappings": {"columns": [{"from": "amount", "to": "Amount"}]},
    }
    with app.api() as client:
        assert client.post("/api/syncs", json={"name": "orders", "config": event_sync}
                           ).status_code == 201
        first = _wait_for_runs(client, "orders", 1)[0]
        assert first["trigger"] == "schedule"
        run = app.wait_run(client, first["id"])
        assert run["status"] == "succeeded" and run["accepted"] == 6
        assert len(app.sandbox.events(ACCOUNT, name="Charged")) == 6
        with app.store.lease("orders", holder="a-quick-plan"):  # a lock held for a moment
            app.clock.advance(timedelta(hours=1, minutes=1))
            time.sleep(0.3)
        waited = app.wait_run(client, _wait_for_runs(client, "orders", 2)[0]["id"])
        assert waited["status"] == "succeeded" and waited["trigger"] == "schedule"
        inserted: list[object] = []  # every run row written while the lock is held

        def runs_written(conn: object, cursor: object, statement: str, parameters: object,
                         context: object, executemany: bool) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO RUNS"):
                inserted.append(parameters)

        event.listen(app.store.engine, "before_cursor_execute", runs_written)
        try:
            with app.store.lease("orders", holder="a-long-run"):  # held past the retries
                app.clock.advance(timedelta(hours=1))
                skipped = _wait_for_runs(client, "orders", 3)[0]
        finally:
            event.remove(app.store.engine, "before_cursor_execute", runs_written)
        assert skipped["status"] == "skipped" and "still going" in skipped["error"]
        # skipped from its first commit: a poller never sees it running (one insert, final)
        assert len(inserted) == 1 and "skipped" in repr(inserted[0]), inserted
        client.post("/api/syncs/orders/pause")
        app.clock.advance(timedelta(hours=2))
        time.sleep(0.3)
        assert len(client.get("/api/runs", params={"sync": "orders"}).json()["runs"]) == 3


def test_a_full_resync_of_an_event_sync_needs_resend_events(app: Served) -> None:
    event_sync = {
        "source": "wh", "model": {"table": "main.orders"}, "destination": "ct",
        "object": "event", "sync_key": "order_id", "identity_column": "user_id",
        "event_name": "Charged", "mappings": {"columns": [{"from": "amount", "to": "Amount"}]},
    }
    with app.api() as client:
        assert client.post("/api/syncs", json={"name": "orders", "config": event_sync}
                           ).status_code == 201
        refused = client.post("/api/syncs/orders/runs", json={"full": True})
        assert refused.status_code == 400
        assert "resend_events" in refused.text and "duplicated" in refused.text
        assert client.get("/api/runs", params={"sync": "orders"}).json()["runs"] == []
        ran = client.post("/api/syncs/orders/runs", json={"full": True, "resend_events": True})
        assert ran.status_code == 202, ran.text
        assert app.wait_run(client, ran.json()["run_id"])["accepted"] == 6


def _wait_for_runs(client: object, sync: str, count: int) -> list[dict[str, object]]:
    import httpx

    assert isinstance(client, httpx.Client)
    deadline = time.monotonic() + 20
    while True:
        runs: list[dict[str, object]] = client.get("/api/runs", params={"sync": sync}
                                                   ).json()["runs"]
        if len(runs) >= count:
            return runs
        assert time.monotonic() < deadline, f"no {count} runs of {sync}: {runs}"
        time.sleep(0.05)


def test_a_slow_run_shows_progress_and_can_be_cancelled(app: Served) -> None:
    slow = {**PROFILE_SYNC, "batch_size": 1, "in_flight": 1}
    app.sandbox.set_faults(ACCOUNT, latency_ms=150)
    with app.api() as client:
        assert client.post("/api/syncs", json={"name": "slow", "config": slow}).status_code == 201
        run_id = client.post("/api/syncs/slow/runs").json()["run_id"]
        locked = client.post("/api/syncs/slow/runs")
        assert locked.status_code == 409 and "already running" in locked.json()["error"]
        deadline = time.monotonic() + 10
        while True:
            run = client.get(f"/api/runs/{run_id}").json()["run"]
            if run["progress"] and run["progress"]["done"] >= 2:
                break
            assert time.monotonic() < deadline, run
            time.sleep(0.05)
        assert run["status"] == "running" and run["progress"]["total"] == USERS
        assert client.post(f"/api/runs/{run_id}/cancel").json()["cancelling"] is True
        ended = app.wait_run(client, run_id)
    assert ended["status"] == "cancelled"
    assert 2 <= ended["accepted"] < USERS - 1
