"""Hole 5: sign-out did not end the session. A copied cookie stops working at sign-out, at a
password change, when the user is removed, and after the idle time."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from syncline.server.app import SESSION_COOKIE
from syncline.server.auth.security import delete_user, set_password
from syncline.server.project.models import SignInSession, utcnow

from ..server.served import USERNAME, Served
from .conftest import csrf


def _copied(app: Served, browser: httpx.Client) -> httpx.Client:
    """A second client holding a copy of the browser's session cookie (a thief's)."""
    thief = httpx.Client(base_url=app.url, timeout=30)
    thief.cookies.set(SESSION_COOKIE, browser.cookies[SESSION_COOKIE])
    return thief


def _signed_in(client: httpx.Client) -> bool:
    return client.get("/syncs", follow_redirects=False).status_code == 200


def test_sign_out_ends_every_copy_of_the_cookie(app: Served, browser: httpx.Client) -> None:
    with _copied(app, browser) as thief:
        assert _signed_in(thief)
        browser.post("/sign-out", data={"csrf_token": csrf(browser.get("/syncs").text)})
        assert not _signed_in(thief)


def test_a_password_change_and_a_removed_user_end_sessions(
    app: Served, browser: httpx.Client
) -> None:
    sessions = app.jobs.sessions
    with _copied(app, browser) as thief:
        with sessions() as db:
            set_password(db, USERNAME, "a brand new passphrase")
            db.commit()
        assert not _signed_in(thief) and not _signed_in(browser)
    with httpx.Client(base_url=app.url, timeout=30, follow_redirects=True) as again:
        page = again.get("/sign-in")
        again.post("/sign-in", data={"username": USERNAME, "password": "a brand new passphrase",
                                     "next": "/", "csrf_token": csrf(page.text)})
        assert _signed_in(again)
        with sessions() as db:
            delete_user(db, USERNAME)
            db.commit()
        assert not _signed_in(again)


def test_an_idle_session_ends(app: Served, browser: httpx.Client) -> None:
    assert _signed_in(browser)
    with app.jobs.sessions() as db:
        db.execute(update(SignInSession).values(last_seen_at=utcnow() - timedelta(hours=13)))
        db.commit()
    assert not _signed_in(browser)
