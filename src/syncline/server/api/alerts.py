"""``GET /api/alerts`` and ``POST /api/alerts/{name}/test``: the alert rules of the project
folder's ``syncline.yml`` as the server runs them, and a test alert through one of them.

Rules are configured in ``syncline.yml`` (``alerts:``, secrets as ``${ENV}``), not in the
dashboard: they live beside the project's other secrets and are reviewed like code. What the
server shows of a channel is its kind and host, never its URL, headers or password, because
those are the secrets (a Slack webhook URL is enough to post to the channel).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request

from syncline.alerts import AlertNotifier
from syncline.config.alerts import AlertConditions, AlertRule, EmailChannel
from syncline.server.api.models import AlertsAnswer, AlertTestAnswer, error_responses
from syncline.server.auth.deps import AdminUser, CurrentUser
from syncline.server.errors import NotFoundError, UnavailableError
from syncline.server.jobs import RunManager
from syncline.store.alert_states import AlertStates

__all__ = ["alert_views", "router", "send_test"]

router = APIRouter(prefix="/api", tags=["alerts"])


def _manager(request: Request) -> RunManager:
    found: RunManager | None = getattr(request.app.state, "jobs", None)
    if found is None:
        raise UnavailableError("this server has no state store for alerts; use `syncline serve`")
    return found


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"


def destination_of(rule: AlertRule) -> str:
    """Where the rule's alerts go, without its secrets: a host, or a mail server and recipients."""
    channel = rule.channel
    if isinstance(channel, EmailChannel):
        return f"{', '.join(channel.to)} via {channel.host}:{channel.port}"
    if channel.type == "slack":
        return _host(channel.webhook_url.get_secret_value())
    if channel.type == "apprise":  # its URL's scheme names the service (pd://, msteams://)
        return channel.url.get_secret_value().partition("://")[0] + "://…"
    return _host(channel.url.get_secret_value())


def _conditions(when: AlertConditions, *, own: bool = False) -> dict[str, Any]:
    """The conditions set (a sync's own: only those it sets); the volume baseline only beside
    the volume condition it is for."""
    shown = when.model_dump(exclude_none=True, exclude_unset=own)
    if "volume_change_factor" not in shown:
        shown.pop("volume_baseline_runs", None)
    return shown


def alert_views(manager: RunManager) -> list[dict[str, Any]]:
    """Every alert rule: its channel, conditions, watched syncs (and the conditions those syncs
    set over the rule's, ``overrides``) and its open conditions."""
    project = manager.project()
    opened = AlertStates(manager.store.engine).opened()
    return [{
        "name": name,
        "channel": rule.channel.type,
        "destination": destination_of(rule),
        "when": _conditions(rule.when),
        "syncs": rule.syncs,
        "overrides": {sync: _conditions(config.alerts, own=True)
                      for sync, config in sorted(project.syncs.items())
                      if config.alerts is not None and rule.watches(sync)},
        "open": [{"sync": o.sync, "condition": o.condition, "opened_at": o.opened_at.isoformat(),
                  "run_id": o.run_id, "detail": o.detail} for o in opened if o.alert == name],
    } for name, rule in sorted(project.alerts.items())]


def send_test(manager: RunManager, name: str) -> dict[str, Any]:
    """Send a test alert through rule ``name``: ``sent``, or the channel's ``error``."""
    project = manager.project()
    if name not in project.alerts:
        known = ", ".join(sorted(project.alerts)) or "none"
        raise NotFoundError(f"no alert `{name}` in syncline.yml's `alerts:` (known: {known})")
    result = AlertNotifier(project, manager.store).send_test(name)
    return {"ok": True, "alert": name, "sent": result.error is None, "error": result.error}


@router.get("/alerts", response_model=AlertsAnswer, responses=error_responses(503))
def list_alerts(request: Request, user: CurrentUser) -> dict[str, Any]:
    """The alert rules of ``syncline.yml`` (channel kind and host only) and what is open."""
    return {"ok": True, "alerts": alert_views(_manager(request))}


@router.post("/alerts/{name}/test", response_model=AlertTestAnswer,
             responses=error_responses(404, 503))
def test_alert(request: Request, name: str, user: AdminUser) -> dict[str, Any]:
    """Send a test alert through rule ``name`` (admins): ``sent`` true, or the channel's
    ``error`` (the answer is 200 either way: the request worked, the channel may not)."""
    answer = send_test(_manager(request), name)
    request.state.audit_detail = "sent" if answer["sent"] else f"failed: {answer['error']}"
    return answer
