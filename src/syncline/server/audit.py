"""Every change made through the server goes to the audit log, whoever made it and however.

An ASGI middleware rather than a call in each endpoint: a new endpoint cannot forget it. A
request is recorded when it used an unsafe method, succeeded, and changed something: API
answers 2xx, dashboard forms redirect (303) or create (201); reads that happen to be POSTs
(a plan, a preview, a connection test, describing columns, a wizard step) are not changes.
The actor is what authentication found (``request.state.actor``): the signed-in user or the
API token and its user.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncline.server.project.audit import record
from syncline.server.settings import ServerSettings

__all__ = ["AuditLog", "action_of"]

log = logging.getLogger(__name__)

_READS = re.compile(r"/(plan|preview|columns|test|syncs/new|edit)$")
_ALERT_TEST = re.compile(r"/alerts/[^/]+/test$")
_VERBS = {"runs": "ran", "run": "ran", "cancel": "cancelled", "pause": "paused",
          "resume": "resumed", "sign-in": "signed_in", "sign-out": "signed_out",
          "schedule": "changed", "delete": "deleted"}


def action_of(method: str, path: str, status: int) -> str | None:
    """The audit action of a finished request, or None when it changed nothing."""
    if method not in ("POST", "PUT", "PATCH", "DELETE") or status >= 400:
        return None
    if not path.startswith("/api/") and status not in (201, 303):
        return None  # a dashboard form that failed, or showed a step, re-renders with 200/4xx
    if _ALERT_TEST.search(path):  # sends a message out: who did it is worth keeping
        return "tested"
    if _READS.search(path):
        return None
    if method == "DELETE":
        return "deleted"
    if method in ("PUT", "PATCH"):
        return "changed"
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return _VERBS.get(last, "created" if path.startswith("/api/") else "changed")


class AuditLog:
    """Records each change (see ``action_of``) once its answer has started."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        await self.app(scope, receive, remember)
        state: dict[str, Any] = scope.get("state") or {}
        action = action_of(scope["method"], scope["path"], status.get("code", 500))
        actor = state.get("actor")
        if action is None or not actor:
            return
        try:
            with self.settings.session_factory() as db:
                record(db, str(actor), action, scope["path"], state.get("audit_detail"))
                db.commit()
        except Exception:  # the change is made; a lost audit row is logged, never a 500
            log.exception("could not record %s %s by %s in the audit log", action,
                          scope["path"], actor)
