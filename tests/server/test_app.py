"""The app through httpx's ASGI transport: sign-in flow, CSRF, API token auth, pages."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from syncline.errors import ConfigError
from syncline.server.app import SESSION_COOKIE, create_app
from syncline.server.auth.security import create_token
from syncline.server.project.models import User
from syncline.server.settings import ServerSettings

from .conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.anyio


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/sign-in")
    form = {"username": USERNAME, "password": password, "next": "/",
            "csrf_token": csrf_of(page.text)}
    return await client.post("/sign-in", data=form)


def api_token(sessions: sessionmaker[Session], user: User) -> str:
    with sessions() as session:
        owner = session.get(User, user.id)
        assert owner is not None
        _, token = create_token(session, owner, "tests")
        session.commit()
    return token


async def test_home_redirects_to_sign_in_when_signed_out(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/"


async def test_sign_in_flow_then_sign_out(client: httpx.AsyncClient, user: User) -> None:
    page = await client.get("/sign-in")
    assert page.status_code == 200
    assert 'type="password"' in page.text
    assert 'href="/static/style.css"' in page.text
    response = await sign_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    home = await client.get("/")
    assert home.status_code == 200
    assert USERNAME in home.text
    out = await client.post("/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    assert (await client.get("/")).status_code == 303


async def test_wrong_password_shows_the_form_again(client: httpx.AsyncClient, user: User) -> None:
    response = await sign_in(client, password="not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert (await client.get("/")).status_code == 303


async def test_sign_in_never_redirects_off_site(client: httpx.AsyncClient, user: User) -> None:
    page = await client.get("/sign-in?next=//evil.example/x")
    form = {"username": USERNAME, "password": PASSWORD, "next": "https://evil.example/",
            "csrf_token": csrf_of(page.text)}
    response = await client.post("/sign-in", data=form)
    assert response.headers["location"] == "/"
    assert 'value="/"' in page.text


@pytest.mark.parametrize("token", [None, "forged"])
async def test_forms_without_the_csrf_token_are_refused(
    client: httpx.AsyncClient, user: User, token: str | None
) -> None:
    await client.get("/sign-in")
    form = {"username": USERNAME, "password": PASSWORD}
    if token is not None:
        form["csrf_token"] = token
    response = await client.post("/sign-in", data=form)
    assert response.status_code == 403
    assert "reload the page" in response.text
    assert (await client.get("/")).status_code == 303


async def test_signed_in_csrf_is_checked_on_dashboard_posts(
    client: httpx.AsyncClient, user: User
) -> None:
    await sign_in(client)
    home = await client.get("/")
    refused = await client.post("/tokens", data={"name": "ci", "csrf_token": "stale"})
    assert refused.status_code == 403
    created = await client.post("/tokens", data={"name": "ci", "csrf_token": csrf_of(home.text)})
    assert created.status_code == 201
    token = re.search(r'<code class="token">(slk_[^<]+)</code>', created.text)
    assert token, "the new token is shown once"
    again = await client.get("/")
    assert token.group(1) not in again.text
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert me.json()["user"]["username"] == USERNAME


async def test_health_is_open_and_carries_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Basic YWRhOnB3", "Bearer slk_not-a-real-token"]
)
async def test_api_refuses_missing_or_bad_tokens_with_401(
    client: httpx.AsyncClient, user: User, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["ok"] is False
    assert body["status"] == 401
    assert "token" in body["error"]


async def test_api_token_round_trip_and_revocation(
    client: httpx.AsyncClient, sessions: sessionmaker[Session], user: User
) -> None:
    auth = {"Authorization": f"Bearer {api_token(sessions, user)}"}
    created = await client.post("/api/tokens", json={"name": "airflow"}, headers=auth)
    assert created.status_code == 201
    new = created.json()
    listed = (await client.get("/api/tokens", headers=auth)).json()["tokens"]
    assert [t["name"] for t in listed] == ["tests", "airflow"]
    assert new["token"] not in str(listed)
    new_auth = {"Authorization": f"Bearer {new['token']}"}
    assert (await client.get("/api/me", headers=new_auth)).status_code == 200
    gone = await client.delete(f"/api/tokens/{new['details']['id']}", headers=auth)
    assert gone.json() == {"ok": True}
    assert (await client.get("/api/me", headers=new_auth)).status_code == 401
    missing = await client.delete("/api/tokens/999", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["error"].startswith("you have no API token with id 999")


async def test_validation_errors_are_422_with_field_and_reason(
    client: httpx.AsyncClient, sessions: sessionmaker[Session], user: User
) -> None:
    auth = {"Authorization": f"Bearer {api_token(sessions, user)}"}
    response = await client.post("/api/tokens", json={"name": "", "extra": 1}, headers=auth)
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"ok", "status", "title", "error", "errors"}
    assert body["status"] == 422
    fields = {e["field"]: e["reason"] for e in body["errors"]}
    assert "at least 1 character" in fields["body.name"]
    assert "body.extra" in fields
    assert "body.name" in body["error"]
    bad_path = await client.delete("/api/tokens/abc", headers=auth)
    assert bad_path.status_code == 422
    assert bad_path.json()["errors"][0]["field"] == "path.token_id"


async def test_every_api_error_has_the_same_shape(client: httpx.AsyncClient) -> None:
    not_found = await client.get("/api/nope")
    wrong_method = await client.put("/api/health")
    unauthorized = await client.get("/api/tokens")
    for response, status in ((not_found, 404), (wrong_method, 405), (unauthorized, 401)):
        body = response.json()
        assert response.status_code == status
        assert set(body) == {"ok", "status", "title", "error"}
        assert (body["ok"], body["status"]) == (False, status)
    assert not_found.json()["error"] == "nothing at /api/nope; check the address"


async def test_pages_render_errors_as_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "nothing at /no-such-page" in response.text


def test_settings_bind_to_loopback_and_need_a_key(sessions: sessionmaker[Session]) -> None:
    settings = ServerSettings.from_env(sessions, {"SYNCLINE_SECRET_KEY": "x" * 32}, port=9000)
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert create_app(settings).title == "Syncline"
    with pytest.raises(ConfigError, match="SYNCLINE_SECRET_KEY is not set"):
        ServerSettings.from_env(sessions, {})
