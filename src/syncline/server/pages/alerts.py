"""The dashboard's *Alerts* page: the rules of ``syncline.yml``, what is open now, and a
*Send test alert* button per rule (admins), whose result is shown back on the page.

The button posts, then redirects back (post/redirect/get) with the result kept for one page
view in the signed session, so reloading the page never sends a second test alert.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from syncline.errors import SynclineError
from syncline.server.api.alerts import alert_views, send_test
from syncline.server.auth.deps import DbSession
from syncline.server.errors import ForbiddenError, UnavailableError
from syncline.server.jobs import RunManager
from syncline.server.pages.dashboard import jobs, new_router, page, require_user

__all__ = ["router"]

router = new_router()

_RESULT_KEY = "alert_test"


def _manager(request: Request) -> RunManager:
    manager = jobs(request)
    if manager is None:
        raise UnavailableError("this server has no state store for alerts; use `syncline serve`")
    return manager


@router.get("/alerts")
def alerts_page(request: Request, session: DbSession) -> Response:
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    result = request.session.pop(_RESULT_KEY, None)
    try:
        rules, problem = alert_views(_manager(request)), None
    except SynclineError as exc:  # definitions that do not validate: say so, on the page
        rules, problem = [], str(exc)
    return page(request, user, "alerts.html", section="alerts", rules=rules, problem=problem,
                result=result if isinstance(result, dict) else None)


@router.post("/alerts/{name}/test")
def test_alert(request: Request, name: str, session: DbSession) -> Response:
    """Send a test alert through ``name`` (admins: it posts to the on-call channel)."""
    user = require_user(request, session)
    if isinstance(user, Response):
        return user
    if user.role != "admin":
        raise ForbiddenError(f"sending a test alert needs the `admin` role and "
                             f"`{user.username}` is a `{user.role}`; ask an admin")
    answer = send_test(_manager(request), name)
    request.session[_RESULT_KEY] = {"alert": name, "sent": answer["sent"],
                                    "error": answer["error"]}
    request.state.audit_detail = "sent" if answer["sent"] else f"failed: {answer['error']}"
    return RedirectResponse("/alerts", status_code=303)
