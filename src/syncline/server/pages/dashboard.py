"""What every dashboard page module shares: its router (CSRF-checked), the signed-in user or
a redirect to sign in, and the app's secret box and run manager."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from syncline.server.auth.deps import allows, signed_in_user, verify_csrf
from syncline.server.errors import ForbiddenError
from syncline.server.jobs import RunManager
from syncline.server.pages.home import render
from syncline.server.project.models import User
from syncline.server.project.secrets import SecretBox

__all__ = ["box", "jobs", "needed_role", "new_router", "page", "require_user"]


def new_router() -> APIRouter:
    """A router for dashboard pages: every form POST must carry the session's CSRF token."""
    return APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)


def needed_role(request: Request) -> str:
    """What a dashboard request needs: reading is for every role; a form that touches
    connections (and their secrets) is for admins; any other form (syncs, models, runs) is
    for editors. The API's endpoints say the same with ``EditorUser``/``AdminUser``."""
    if request.method in ("GET", "HEAD"):
        return "viewer"
    return "admin" if request.url.path.startswith("/connections") else "editor"


def require_user(request: Request, session: Session) -> User | Response:
    """The signed-in user, or a redirect to the sign-in page that comes back here; a 403
    when the user's role does not allow the request (``needed_role``)."""
    user = signed_in_user(request, session)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(target)}", status_code=303)
    needed = needed_role(request)
    if not allows(user.role, needed):
        raise ForbiddenError(f"this needs the `{needed}` role and `{user.username}` is a "
                             f"`{user.role}`; ask an admin")
    return user


def page(
    request: Request, user: User, name: str, status_code: int = 200, **context: Any
) -> Response:
    """Render ``name`` for ``user`` (the nav shows which section is open)."""
    return render(request, name, status_code=status_code, user=user, **context)


def box(request: Request) -> SecretBox:
    """The app's secret box."""
    found: SecretBox = request.app.state.secret_box
    return found


def jobs(request: Request) -> RunManager | None:
    """The app's run manager, if it was started with one."""
    found: RunManager | None = getattr(request.app.state, "jobs", None)
    return found
