"""The alert rules of syncline.yml over HTTP: listed with their channel's host only (never the
secret URL), their open conditions, a test alert through the API (admin tokens) and through the
dashboard's *Send test alert* (admins, CSRF-checked, in the audit log), to a real webhook."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from syncline.server.auth.security import create_token, create_user
from syncline.store.alert_states import AlertStates
from tests.alerts.receivers import webhook

from .served import PASSWORD, SOURCE_BODY, USERNAME, Served, destination_body, served
from .test_alerts_served import SYNC

SECRET_PATH = "hook-secret-7c1e"


def _write_rules(app: Served, hook: str) -> None:
    (app.root / "syncline.yml").write_text(
        "version: 1\nalerts:\n  ops:\n"
        f"    channel: {{type: webhook, url: '{hook}?k={SECRET_PATH}'}}\n"
        "    when: {run_failed: true, rejected_percent_over: 5}\n"
        "  mail:\n"
        "    channel: {type: email, host: 127.0.0.1, port: 1, from: a@example.com, "
        "to: oncall@example.com, password: pw-secret-9}\n")


def _sign_in(client: httpx.Client, username: str = USERNAME) -> None:
    page = client.get("/sign-in")
    form = {"username": username, "password": PASSWORD, "next": "/alerts",
            "csrf_token": _csrf(page.text)}
    assert client.post("/sign-in", data=form).status_code == 303


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def test_the_api_lists_rules_without_secrets_and_sends_a_test_alert(tmp_path: Path) -> None:
    with webhook() as (hook, posted), served(tmp_path) as app, app.api() as client:
        _write_rules(app, hook)
        assert client.post("/api/connections", json=destination_body(app.sandbox)
                           ).status_code == 201
        assert client.post("/api/connections", json=SOURCE_BODY).status_code == 201
        quiet = {**SYNC, "alerts": {"rejected_percent_over": 20}}
        assert client.post("/api/syncs", json={"name": "users", "config": quiet}
                           ).status_code == 201
        AlertStates(app.store.engine).open("ops", "users", "run_failed", run_id=None,
                                           detail="run 3 failed")
        listed = client.get("/api/alerts")
        assert listed.status_code == 200, listed.text
        assert SECRET_PATH not in listed.text and "pw-secret-9" not in listed.text
        rules = {r["name"]: r for r in listed.json()["alerts"]}
        assert rules["ops"]["channel"] == "webhook"
        assert rules["ops"]["destination"] == "127.0.0.1"
        assert rules["ops"]["when"] == {"run_failed": True, "rejected_percent_over": 5}
        assert rules["ops"]["syncs"] == "all"
        assert rules["ops"]["overrides"] == {"users": {"rejected_percent_over": 20.0}}
        assert [(o["sync"], o["condition"]) for o in rules["ops"]["open"]] == [
            ("users", "run_failed")]
        assert rules["mail"]["destination"] == "oncall@example.com via 127.0.0.1:1"
        assert rules["mail"]["open"] == []

        sent = client.post("/api/alerts/ops/test")
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"ok": True, "alert": "ops", "sent": True, "error": None}
        assert [(b["alert"], b["state"]) for b in posted.items] == [("ops", "test")]

        failed = client.post("/api/alerts/mail/test").json()  # nothing listens on port 1
        assert failed["sent"] is False and "email" in failed["error"]
        assert "pw-secret-9" not in failed["error"]
        assert client.post("/api/alerts/nope/test").status_code == 404

        audit = client.get("/api/audit").json()["entries"]
        assert [(e["action"], e["target"], e["detail"]) for e in audit[:2]] == [
            ("tested", "/api/alerts/mail/test", f"failed: {failed['error']}"),
            ("tested", "/api/alerts/ops/test", "sent")]


def test_only_admins_send_a_test_alert(tmp_path: Path) -> None:
    with webhook() as (hook, posted), served(tmp_path) as app:
        _write_rules(app, hook)
        with app.jobs.sessions() as session:
            viewer = create_user(session, "victor", PASSWORD, role="viewer")
            _, token = create_token(session, viewer, "read", "viewer")
            session.commit()
            create_user(session, "edith", PASSWORD, role="editor")
            session.commit()
        with httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/api/alerts").status_code == 200
            assert c.post("/api/alerts/ops/test").status_code == 403
        with httpx.Client(base_url=app.url, timeout=30) as client:
            _sign_in(client, "edith")
            page = client.get("/alerts")
            assert "ops" in page.text and "Send test alert" not in page.text
            refused = client.post("/alerts/ops/test", data={"csrf_token": _csrf(page.text)})
            assert refused.status_code == 403 and "`admin` role" in refused.text
        assert posted.items == []


def test_the_alerts_page_sends_a_test_alert_with_the_csrf_token(tmp_path: Path) -> None:
    with webhook() as (hook, posted), served(tmp_path) as app, \
            httpx.Client(base_url=app.url, timeout=30) as client:
        _write_rules(app, hook)
        _sign_in(client)
        page = client.get("/alerts")
        assert page.status_code == 200
        assert "configured in the project folder's <code>syncline.yml</code>" in page.text
        assert 'href="/alerts"' in page.text and "Send test alert" in page.text
        assert "<code>127.0.0.1</code>" in page.text and SECRET_PATH not in page.text

        refused = client.post("/alerts/ops/test", data={"csrf_token": "stale"})
        assert refused.status_code == 403 and posted.items == []

        pressed = client.post("/alerts/ops/test", data={"csrf_token": _csrf(page.text)})
        assert pressed.status_code == 303 and pressed.headers["location"] == "/alerts"
        assert [(b["alert"], b["state"]) for b in posted.items] == [("ops", "test")]
        shown = client.get("/alerts").text
        assert "Test alert sent through <strong>ops</strong>" in shown
        assert "Test alert sent" not in client.get("/alerts").text  # shown once

        posted.status = 500
        client.post("/alerts/ops/test", data={"csrf_token": _csrf(shown)})
        assert "answered HTTP 500" in client.get("/alerts").text
