"""The dashboard's pages: sign-in, sign-out and a protected home (server-rendered, no JS)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from syncline.server.api.tokens import token_view
from syncline.server.auth.deps import SESSION_KEY, DbSession, signed_in_user, verify_csrf
from syncline.server.auth.security import CSRF_FIELD, authenticate, create_token, csrf_token
from syncline.server.auth.sessions import end_session, start_session
from syncline.server.auth.throttle import SignInThrottle
from syncline.server.errors import ForbiddenError
from syncline.server.pages.overview import overview
from syncline.server.project.audit import entries
from syncline.server.project.models import User
from syncline.store.counts import RUN_COUNTS

__all__ = ["render", "router", "templates"]

templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
templates.env.globals["RUN_COUNTS"] = RUN_COUNTS  # every page shows a run's counts in one order
router = APIRouter(dependencies=[Depends(verify_csrf)])


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page with what every template needs (title, CSRF field)."""
    context.setdefault("user", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "title": request.app.state.settings.title,
            "csrf_field": CSRF_FIELD,
            "csrf_token": csrf_token(request.session),
            **context,
        },
        status_code=status_code,
    )


def _safe_next(target: str | None) -> str:
    """Only local paths: ``next`` must not send a signed-in user to another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _require_user(request: Request, session: Session) -> User | Response:
    user = signed_in_user(request, session)
    if user is None:
        return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)
    return user


@router.get("/sign-in")
def sign_in_page(
    request: Request, next_: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    return render(request, "sign_in.html", next=_safe_next(next_))


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next_: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    address = request.client.host if request.client is not None else ""
    # the check is reserved before the password is checked, so that guesses sent at once
    # cannot all pass the count (auth/throttle.py); a wrong password leaves it as a failure
    reservation = throttle.reserve(username, address)
    if not reservation.allowed:
        minutes = max(1, round(reservation.wait_s / 60))
        return render(
            request, "sign_in.html", status_code=429, next=_safe_next(next_), username=username,
            error=f"Too many failed sign-ins from here; try again in {minutes} minute(s).",
        )
    user = authenticate(session, username, password)
    if user is None:
        return render(
            request, "sign_in.html", status_code=401, next=_safe_next(next_), username=username,
            error="Wrong user name or password.",
        )
    throttle.succeeded(reservation)
    old = request.session.get(SESSION_KEY)
    if isinstance(old, str):
        end_session(session, old)
    session_id = start_session(session, user)
    session.commit()  # the session row, and a rehashed password
    request.session.clear()  # a new session (and CSRF token) at each sign-in
    request.session[SESSION_KEY] = session_id
    request.state.actor = f"user {user.username}"
    return RedirectResponse(_safe_next(next_), status_code=303)


@router.post("/sign-out")
def sign_out(request: Request, session: DbSession) -> Response:
    """End the session on the server too: a copy of the cookie no longer signs anyone in."""
    session_id = request.session.get(SESSION_KEY)
    if isinstance(session_id, str):
        signed_in_user(request, session)  # who signs out, for the audit log
        end_session(session, session_id)
        session.commit()
    request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)


@router.get("/")
def home(request: Request, session: DbSession) -> Response:
    user = _require_user(request, session)
    if isinstance(user, Response):
        return user
    return _home(request, session, user)


def _home(request: Request, session: Session, user: User, status_code: int = 200,
          **extra: Any) -> Response:
    """The home page: the overview of every sync, then the user's API tokens."""
    tokens = [token_view(row) for row in user.tokens]
    return render(request, "home.html", status_code=status_code, user=user, tokens=tokens,
                  **overview(getattr(request.app.state, "jobs", None), session), **extra)


@router.get("/audit")
def audit_page(request: Request, session: DbSession) -> Response:
    """Who created, changed, ran or deleted what (admins only, as ``GET /api/audit``)."""
    user = _require_user(request, session)
    if isinstance(user, Response):
        return user
    if user.role != "admin":
        raise ForbiddenError(f"the audit log is for admins; `{user.username}` is a `{user.role}`")
    return render(request, "audit.html", user=user, section="audit", entries=entries(session))


@router.post("/tokens")
def new_token(request: Request, session: DbSession, name: Annotated[str, Form()]) -> Response:
    user = _require_user(request, session)
    if isinstance(user, Response):
        return user
    row, token = create_token(session, user, name.strip() or "dashboard")
    session.commit()
    return _home(request, session, user, 201, new_token=token, new_token_name=row.name)
