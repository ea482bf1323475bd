"""The server application: ``create_app(settings)`` wires the API, the dashboard, sessions,
security headers and the one error shape; ``serve(settings)`` runs it with uvicorn.

Errors: under ``/api`` every error is JSON from ``error_body`` (validation errors are 422 with
``field`` and ``reason`` for each); on dashboard pages the same errors render ``error.html``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncline import __version__
from syncline.errors import RunLockedError, SynclineError
from syncline.server import metrics
from syncline.server.api import alerts as api_alerts
from syncline.server.api import connections as api_connections
from syncline.server.api import dbt as api_dbt
from syncline.server.api import runs as api_runs
from syncline.server.api import syncs as api_syncs
from syncline.server.api import tokens as api_tokens
from syncline.server.api import users as api_users
from syncline.server.api.models import error_responses
from syncline.server.audit import AuditLog
from syncline.server.auth.deps import RoleCheck, require_token
from syncline.server.auth.throttle import SignInThrottle
from syncline.server.errors import ApiError, FieldError, InvalidInputError, error_body
from syncline.server.pages import alerts as pages_alerts
from syncline.server.pages import connections as pages_connections
from syncline.server.pages import home
from syncline.server.pages import runs as pages_runs
from syncline.server.pages import syncs as pages_syncs
from syncline.server.project.secrets import SecretBox, derive_key
from syncline.server.settings import ServerSettings
from syncline.server.wizard import edit as wizard_edit
from syncline.server.wizard import steps as wizard

if TYPE_CHECKING:
    import uvicorn

    from syncline.server.jobs import RunManager

__all__ = ["create_app", "serve", "uvicorn_config"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "syncline_session"
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_CSP = "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


class SecurityHeaders:
    """Adds anti-framing, anti-sniffing and CSP headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # the interactive API docs load their script from a CDN: no CSP there
        csp = not str(scope.get("path", "")).startswith("/api/docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                if csp:
                    headers.setdefault("Content-Security-Policy", _CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: ServerSettings, jobs: RunManager | None = None) -> FastAPI:
    """The whole server app for ``settings`` (no I/O happens until it serves a request).

    ``jobs`` runs syncs and fires their schedules (``syncline serve`` passes one): its
    scheduler starts with the app and stops, cancelling runs in progress, when the app stops.
    Without it the run endpoints answer 503.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if jobs is not None:
            jobs.start()
        try:
            yield
        finally:
            if jobs is not None:
                jobs.close()

    app = FastAPI(
        title=settings.title,
        version=__version__,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jobs = jobs
    app.state.secret_box = SecretBox(settings.secret_key)
    # in the state store: every server process sharing it counts the same failures
    app.state.sign_in_throttle = SignInThrottle(settings.session_factory)
    app.add_middleware(
        SessionMiddleware,
        secret_key=derive_key(settings.secret_key, "sessions").hex(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.https_only,
    )
    app.add_middleware(AuditLog, settings=settings)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(api_tokens.router, tags=["account"])
    app.include_router(api_users.router, tags=["account"])
    app.include_router(api_connections.router)
    app.include_router(api_dbt.router)
    app.include_router(api_syncs.router)
    app.include_router(api_runs.router)
    app.include_router(api_alerts.router)
    app.add_api_route("/openapi.json", lambda: app.openapi(), include_in_schema=False)
    app.include_router(home.router, include_in_schema=False)  # HTML pages are not the API
    app.include_router(pages_connections.router)
    app.include_router(wizard.router)  # /syncs/new before /syncs/{name}
    app.include_router(wizard_edit.router)  # /syncs/{name}/edit before /syncs/{name}/{action}
    app.include_router(pages_syncs.router)
    app.include_router(pages_runs.router)
    app.include_router(pages_alerts.router)
    app.include_router(metrics.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_api_route("/docs", lambda: RedirectResponse("/api/docs"), include_in_schema=False)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(SynclineError, _syncline_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    return app


def serve(settings: ServerSettings, jobs: RunManager | None = None) -> None:
    """Run the server in this process until interrupted (``syncline serve``)."""
    import uvicorn

    from syncline.logs import configure_logging, is_configured

    if not is_configured():  # one line per run start and end, beside uvicorn's access lines
        configure_logging("text")

    if not _is_loopback(settings.host) and not settings.https_only:
        log.warning(
            "serving on %s without https_only: put a TLS proxy in front and set https_only, "
            "or sign-in cookies travel in clear",
            settings.host,
        )
    uvicorn.Server(uvicorn_config(settings, jobs)).run()


def uvicorn_config(settings: ServerSettings, jobs: RunManager | None = None) -> uvicorn.Config:
    """How uvicorn serves the app: settings' host (loopback by default) and port."""
    import uvicorn

    from syncline.logs import is_configured

    # once Syncline's handlers are set (text, or --log-format json), they serve uvicorn too
    own_logging: dict[str, None] = {"log_config": None} if is_configured() else {}
    return uvicorn.Config(
        create_app(settings, jobs),
        host=settings.host,
        port=settings.port,
        log_level="info",
        # the client's address (sign-in throttling, the audit log) comes from X-Forwarded-For
        # only when the operator names the proxies to trust
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        **own_logging,  # type: ignore[arg-type]
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one way the server answers an error: JSON under /api, a page elsewhere."""
    body = error_body(status, message, title=title, errors=errors)
    if _is_api(request):
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        return JSONResponse(body, status_code=status, headers=headers)
    return home.render(
        request, "error.html", status_code=status, error_title=body["title"], message=message
    )


async def _api_error(request: Request, exc: ApiError) -> Response:
    errors = exc.errors if isinstance(exc, InvalidInputError) else None
    return error_response(request, exc.status, str(exc), title=exc.title, errors=errors)


async def _syncline_error(request: Request, exc: SynclineError) -> Response:
    """An engine or config error that reached a route: the user's to fix, not a crash."""
    status = 409 if isinstance(exc, RunLockedError) else 400
    return error_response(request, status, str(exc))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = f"nothing at {request.url.path}; check the address"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(request, exc.status_code, message, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        FieldError(field=".".join(str(part) for part in err["loc"]), reason=str(err["msg"]))
        for err in exc.errors()
    ]
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "invalid request"
    return error_response(request, 422, message, errors=errors)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "unexpected server error; the server log has details")


_TAGS = [
    {"name": "runs", "description": "Trigger runs, poll their status and counts, read rejections."},
    {"name": "syncs", "description": "Define, check, plan and pause syncs."},
    {"name": "connections", "description": "Sources and destinations: define, test, browse."},
    {"name": "alerts", "description": "The alert rules of syncline.yml; send a test alert."},
    {"name": "account", "description": "Health, the caller, API tokens."},
]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the tags, the bearer token declared on the operations that
    need one, and the errors that follow from the route's dependencies (``require_token``
    and ``RoleCheck`` read the request themselves, so FastAPI cannot see them): 401 with the
    token, 403 with a role, and FastAPI's 422 shown as the server answers it (``ErrorBody``)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes, tags=_TAGS)
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "An API token (create one on the dashboard's home page)."}}
        routers = (api_tokens.router, api_users.router, api_connections.router,
                   api_dbt.router, api_syncs.router, api_runs.router, api_alerts.router)
        for route in (r for router in routers for r in router.routes):
            if not (isinstance(route, APIRoute) and route.include_in_schema):
                continue
            needs = _dependencies(route)
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is None:
                    continue
                responses = operation["responses"]
                if require_token in needs:
                    operation["security"] = [{"bearer": []}]
                    responses.setdefault("401", _error_response(401))
                if any(isinstance(call, RoleCheck) for call in needs):
                    responses.setdefault("403", _error_response(403))
                if "422" in responses:
                    responses["422"] = _error_response(422)
        schemas = components.setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _error_response(status: int) -> dict[str, Any]:
    declared = error_responses(status)[status]
    return {"description": declared["description"], "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def _dependencies(route: APIRoute) -> list[Any]:
    """Every dependency a route calls, its dependencies' included."""
    found: list[Any] = []
    todo = list(route.dependant.dependencies)
    while todo:
        dependant = todo.pop()
        found.append(dependant.call)
        todo.extend(dependant.dependencies)
    return found
