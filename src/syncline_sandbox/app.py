"""The sandbox ASGI app: CleverTap's routes, an admin API under ``/_sandbox/`` and HTML pages.

Auth comes first on every CleverTap route (docs/clevertap.md §7): unknown or missing account → 401
"Account ID is not valid" (also when the account is bound to another region's host), wrong
passcode → 401 "Invalid Credentials".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncline_sandbox import admin, pages, reads
from syncline_sandbox.accounts import Account, region_from_host
from syncline_sandbox.faults import Faults
from syncline_sandbox.state import SandboxState
from syncline_sandbox.upload import fail, handle_upload, ok

__all__ = ["authenticate", "create_app"]

Handler = Callable[[SandboxState, str, Request], Awaitable[Response]]


def authenticate(state: SandboxState, request: Request) -> str | Response:
    """The account id the request's headers prove, or the 401 response to send."""
    account_id = request.headers.get("x-clevertap-account-id", "")
    account = state.accounts.get(account_id)
    if account is None:
        return fail(401, "Account ID is not valid")
    region = region_from_host(request.headers.get("host"))
    if account.region is not None and region is not None and region != account.region:
        return fail(401, "Account ID is not valid")
    if request.headers.get("x-clevertap-passcode", "") not in account.passcodes:
        return fail(401, "Invalid Credentials")
    return account_id


def _authed(state: SandboxState, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        who = authenticate(state, request)
        if isinstance(who, Response):
            return who
        return await handler(state, who, request)

    return endpoint


async def _connect(state: SandboxState, account: str, request: Request) -> Response:
    return ok({"status": "success"})


def create_app(
    accounts: Iterable[Account],
    data_dir: Path | None,
    faults: Mapping[str, Faults] | None = None,
) -> Starlette:
    """A sandbox serving ``accounts``; data in ``data_dir`` (kept across restarts) or memory."""
    state = SandboxState.build(accounts, data_dir, faults)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        state.store.close()

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, _authed(state, handler), methods=methods)

    routes = [
        route("/1/upload", handle_upload, ["POST"]),
        route("/v1/connect", _connect, ["GET"]),
        route("/1/profile.json", reads.get_profile, ["GET"]),
        route("/1/delete/profiles.json", reads.delete_profiles, ["POST"]),
        route("/1/counts/events.json", reads.count_events, ["POST", "GET"]),
        route("/1/counts/profiles.json", reads.count_profiles, ["POST", "GET"]),
        route("/1/events.json", reads.query_events, ["POST", "GET"]),
        route("/1/profiles.json", reads.query_profiles, ["POST", "GET"]),
        *admin.routes(state),
        *pages.routes(state),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = state
    return app
