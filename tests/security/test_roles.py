"""Hole 6: every user could change every connection and write SQL. Roles: admin (users,
connections, tokens), editor (syncs, models, runs), viewer (reads: no SQL, no secrets, no runs);
tokens carry a role; every change is in the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from syncline.server.auth.security import create_token, create_user, get_user

from ..server.served import Served, destination_body
from .conftest import csrf

SYNC = {"source": "wh", "destination": "ct", "object": "profile", "sync_key": "user_id",
        "model": {"table": "main.users"}, "mappings": {"sync_all": True}}


def _token(app: Served, username: str, role: str, token_role: str | None = None) -> str:
    with app.jobs.sessions() as db:
        user = create_user(db, username, "a long enough password", role)
        _, token = create_token(db, user, f"{username}-token", token_role)
        db.commit()
    return token


def _client(app: Served, token: str) -> httpx.Client:
    return httpx.Client(base_url=app.url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def test_a_viewer_reads_but_writes_no_sql_runs_nothing_and_sees_no_secret(app: Served) -> None:
    with app.api() as admin:
        assert admin.post("/api/syncs", json={"name": "users", "config": SYNC}).status_code == 201
    with _client(app, _token(app, "vera", "viewer")) as viewer:
        assert viewer.get("/api/syncs").status_code == 200
        shown = viewer.get("/api/connections/destination/ct").json()
        assert "served-passcode" not in str(shown)
        refused = [
            viewer.post("/api/sources/wh/columns", json={"query": "SELECT 1"}),
            viewer.post("/api/syncs/users/runs"),
            viewer.post("/api/syncs/users/plan"),
            viewer.put("/api/syncs/users", json={"config": SYNC}),
            viewer.post("/api/connections", json=destination_body(app.sandbox, "ct2")),
            viewer.post("/api/connections/destination/ct/test"),
            viewer.post("/api/tokens", json={"name": "more", "role": "admin"}),
            viewer.get("/api/audit"),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]


def test_an_editor_runs_syncs_but_cannot_touch_connections(app: Served) -> None:
    with _client(app, _token(app, "eddie", "editor")) as editor:
        assert editor.post("/api/syncs", json={"name": "users", "config": SYNC}).status_code == 201
        assert editor.post("/api/sources/wh/columns",
                           json={"query": "SELECT user_id FROM main.users"}).status_code == 200
        ran = editor.post("/api/syncs/users/runs")
        assert ran.status_code == 202
        app.wait_run(editor, ran.json()["run_id"])
        assert editor.delete("/api/connections/source/wh").status_code == 403
        assert editor.post("/api/connections",
                           json=destination_body(app.sandbox, "ct2")).status_code == 403


def test_a_token_never_exceeds_its_role_nor_its_user(app: Served) -> None:
    with _client(app, _token(app, "ada", "admin", token_role="viewer")) as narrowed:
        assert narrowed.get("/api/me").json()["user"]["role"] == "viewer"
        assert narrowed.post("/api/syncs/users/runs").status_code == 403
    with app.jobs.sessions() as db:
        get_user(db, "ada").role = "viewer"  # demoted: a token made as admin drops too
        _, token = create_token(db, get_user(db, "ada"), "old")
        db.commit()
    with _client(app, token) as old:
        assert old.get("/api/me").json()["user"]["role"] == "viewer"


def test_dashboard_forms_follow_the_role_and_changes_are_audited(app: Served) -> None:
    _token(app, "vic", "viewer")
    with httpx.Client(base_url=app.url, timeout=30, follow_redirects=True) as browser:
        page = browser.get("/sign-in")
        browser.post("/sign-in", data={"username": "vic", "password": "a long enough password",
                                       "next": "/", "csrf_token": csrf(page.text)})
        token = csrf(browser.get("/syncs").text)
        assert browser.post("/syncs/new", data={"source": "wh", "step": "model",
                                                "csrf_token": token}).status_code == 403
        assert browser.post("/connections/source/wh/delete",
                            data={"csrf_token": token}).status_code == 403
        assert browser.get("/audit").status_code == 403
    with app.api() as admin:
        admin.post("/api/syncs", json={"name": "users", "config": SYNC})
        admin.delete("/api/syncs/users")
        log = admin.get("/api/audit").json()["entries"]
    done = [(e["action"], e["target"]) for e in log]
    assert ("created", "/api/syncs") in done and ("deleted", "/api/syncs/users") in done
    assert ("signed_in", "/sign-in") in done
    assert all(e["actor"] for e in log) and log[0]["actor"].startswith("token tests")
    assert ("deleted", "/connections/source/wh/delete") not in done  # refused: not a change


def test_token_create_and_revoke_from_the_cli(app: Served, tmp_path: Path) -> None:
    env = {**os.environ, "SYNCLINE_STATE_URL": f"sqlite:///{app.root.parent / 'state.db'}"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syncline", *args, "--project",
                               str(app.root)], capture_output=True, text=True, env=env,
                              timeout=60, check=False)

    made = cli("token", "create", "airflow", "--role", "editor")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    with _client(app, token) as airflow:
        assert airflow.get("/api/me").json()["user"]["role"] == "editor"
        assert cli("token", "revoke", "airflow").returncode == 0
        assert airflow.get("/api/me").status_code == 401


def test_admins_manage_users_through_the_api(app: Served) -> None:
    with app.api() as admin:
        made = admin.post("/api/users", json={"username": "val", "password": "a long enough one"})
        assert made.status_code == 201 and made.json()["user"]["role"] == "viewer"
        assert "password" not in str(admin.get("/api/users").json())
    with app.jobs.sessions() as db:
        _, token = create_token(db, get_user(db, "val"), "val-token")
        db.commit()
    with _client(app, token) as val:
        assert val.get("/api/users").status_code == 403
        assert val.put("/api/users/val", json={"role": "admin"}).status_code == 403
        with app.api() as admin:
            assert admin.put("/api/users/val", json={"role": "editor"}).status_code == 200
            assert val.get("/api/me").json()["user"]["role"] == "editor"
            assert admin.delete("/api/users/val").status_code == 200
        assert val.get("/api/me").status_code == 401  # the user's tokens went with them
