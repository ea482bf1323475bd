"""The REST API's answers as pydantic models: one definition per shape, for ``/openapi.json``.

Routes still build their answers as dicts (the same views the dashboard and the CLI use) and
declare one of these as ``response_model``: FastAPI checks each answer against it and
``/openapi.json`` shows its schema. Every model forbids fields it does not name, so a view that
grows a field without its model fails loudly (a 500, caught by the API tests) instead of the
field being silently left out of the answer. Field order is the order answers have always had.

Free-form parts stay free-form on purpose: a connection's settings and a sync's config are
whatever their plugin's model accepts (``syncline.yml`` documents them), and a rejected record
is the row as the source gave it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from syncline.server.errors import FieldError

__all__ = [
    "AlertTestAnswer",
    "AlertsAnswer",
    "AuditAnswer",
    "CancelAnswer",
    "ColumnsAnswer",
    "ConnectionAnswer",
    "ConnectionTestAnswer",
    "ConnectionsAnswer",
    "DbtModelsAnswer",
    "Done",
    "ErrorBody",
    "HealthAnswer",
    "MeAnswer",
    "NewTokenAnswer",
    "PlanAnswer",
    "RejectionsAnswer",
    "RunAnswer",
    "RunCounts",
    "RunsAnswer",
    "SchemasAnswer",
    "SyncAnswer",
    "SyncsAnswer",
    "TablesAnswer",
    "TokensAnswer",
    "TriggerAnswer",
    "UserAnswer",
    "UsersAnswer",
    "error_responses",
]


class _Answer(BaseModel):
    """A part of an answer: only the fields it names (see the module docstring); the
    docstrings under fields are their descriptions in ``/openapi.json``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Done(_Answer):
    """A change that has nothing more to say (deletes)."""

    ok: Literal[True]


# --- errors -------------------------------------------------------------------------------


class ErrorBody(_Answer):
    """Every error answer under ``/api`` (``syncline.server.errors.error_body``)."""

    ok: Literal[False]
    status: int
    """The HTTP status again, for clients that only keep the body."""
    title: str
    """The status in words (``Not found``, ``Invalid request``)."""
    error: str
    """What went wrong, where, and what to do about it."""
    errors: list[FieldError] | None = Field(
        default=None, description="Present only on a 422: each invalid field (`body.name`, "
                                  "`query.limit`) and why.")


_ERROR_TEXT = {
    400: "The request cannot be done as asked (the error says why).",
    401: "No API token, or one that is revoked or unknown.",
    403: "The token's role may not do this.",
    404: "What the path names does not exist.",
    409: "It clashes with the current state (a name taken, a run going, in use).",
    422: "Invalid input: `errors` names each field and why.",
    503: "This server was started without a state store for runs (`syncline serve` has one).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the error statuses it can answer, all ``ErrorBody``."""
    return {status: {"model": ErrorBody, "description": _ERROR_TEXT[status]}
            for status in statuses}


# --- account: health, the caller, tokens, users, audit ------------------------------------


class HealthAnswer(_Answer):
    ok: Literal[True]
    status: Literal["ok"]
    version: str
    """Syncline's version."""


class Caller(_Answer):
    id: int
    username: str
    role: Literal["viewer", "editor", "admin"]
    """The role this token acts with (a token may have less than its user)."""


class MeAnswer(_Answer):
    ok: Literal[True]
    user: Caller


class Token(_Answer):
    """An API token as listed: never the token itself, only its first characters."""

    id: int
    name: str
    prefix: str
    created_at: str | None
    last_used_at: str | None
    revoked: bool
    role: Literal["viewer", "editor", "admin"]


class TokensAnswer(_Answer):
    ok: Literal[True]
    tokens: list[Token]


class NewTokenAnswer(_Answer):
    ok: Literal[True]
    token: str
    """The token: this answer is the only time it is shown."""
    details: Token


class UserView(_Answer):
    username: str
    role: Literal["viewer", "editor", "admin"]
    created_at: str


class UsersAnswer(_Answer):
    ok: Literal[True]
    users: list[UserView]


class UserAnswer(_Answer):
    ok: Literal[True]
    user: UserView


class AuditEntry(_Answer):
    at: str
    actor: str
    """``user grace``, ``token airflow (user grace)``, ``cli``."""
    action: str
    """``created``, ``changed``, ``deleted``, ``ran``, ``signed_in``…"""
    target: str
    """What was acted on: ``sync users``, ``source wh``."""
    detail: str | None


class AuditAnswer(_Answer):
    ok: Literal[True]
    entries: list[AuditEntry]
    """Newest first."""


# --- connections and browsing a source ------------------------------------------------------


class ConnectionView(_Answer):
    """A saved source or destination; secrets masked, references by variable name."""

    kind: Literal["source", "destination"]
    name: str
    type: str
    settings: dict[str, Any]
    """The config without its secrets, as ``syncline.yml`` writes it."""
    secrets: dict[str, str]
    """Each secret masked (never its value)."""
    references: dict[str, str]
    """Settings read from the environment (``${VAR}``), by the variable's name."""
    updated_at: str


class ConnectionsAnswer(_Answer):
    ok: Literal[True]
    connections: list[ConnectionView]


class ConnectionAnswer(_Answer):
    ok: Literal[True]
    connection: ConnectionView


class ConnectionWorks(_Answer):
    ok: Literal[True]
    message: str


class ConnectionFails(_Answer):
    ok: Literal[False]
    error: str
    """Why it does not work (the answer is still a 200: the test itself worked)."""


ConnectionTestAnswer = ConnectionWorks | ConnectionFails


class SchemasAnswer(_Answer):
    ok: Literal[True]
    schemas: list[str]


class TablesAnswer(_Answer):
    ok: Literal[True]
    tables: list[str]


class Column(_Answer):
    name: str
    type: str
    """The source's own type name."""


class ColumnsAnswer(_Answer):
    ok: Literal[True]
    columns: list[Column]


class DbtModel(_Answer):
    name: str
    """As a sync names it: ``model: {dbt: NAME}``."""
    unique_id: str
    resource_type: str
    table: str
    """The relation dbt built it into, quoted."""
    tags: list[str]


class DbtModelsAnswer(_Answer):
    ok: Literal[True]
    models: list[DbtModel]


# --- syncs and plans --------------------------------------------------------------------------


class SyncView(_Answer):
    name: str
    config: dict[str, Any]
    """The sync as ``syncline.yml`` writes it."""
    paused: bool
    schedule: str | None
    updated_at: str


class SyncsAnswer(_Answer):
    ok: Literal[True]
    syncs: list[SyncView]


class SyncAnswer(_Answer):
    ok: Literal[True]
    sync: SyncView


class RunCounts(_Answer):
    """A run's counts, in the order every view shows them (``syncline.store.counts``)."""

    rows_in_model: int
    planned_new: int
    planned_changed: int
    planned_unchanged: int
    planned_removed: int
    invalid: int
    """Rows with a null or duplicate sync key."""
    sent: int
    accepted: int
    rejected: int
    failed: int
    """Retried next run."""
    in_doubt: int
    not_sent: int
    """Planned rows a run that stopped early never reached."""
    in_doubt_skipped: int
    in_doubt_resent: int
    fields_dropped: int
    deleted: int
    delete_failed: int


class Planned(_Answer):
    new: int
    changed: int
    unchanged: int
    removed: int


class Plan(_Answer):
    """A dry run (``engine.summary.RunSummary.to_dict``): what a run would send."""

    sync: str
    run_id: int | None
    status: str
    object: str
    rows_in_model: int
    invalid: int
    sent: int
    accepted: int
    rejected: int
    failed: int
    in_doubt: int
    fields_dropped: int
    not_sent: int
    in_doubt_skipped: int
    in_doubt_resent: int
    in_doubt_keys: list[str]
    history: str | None
    duration_s: float
    plan_s: float
    delivery_s: float
    error: str | None
    warnings: list[str]
    preview: list[dict[str, Any]]
    """The first records, as CleverTap would receive them."""
    retries: int
    throttled: int
    sync_log_rows: int
    sync_log_error: str | None
    deleted: int
    delete_failed: int
    to_delete: int
    delete_preview: list[str]
    delete_note: str | None
    checks: list[dict[str, Any]]
    """Per (outcome, code, column): how many planned rows would be rejected or lose a field."""
    planned: Planned
    status_text: str
    counts: RunCounts


class PlanAnswer(_Answer):
    ok: Literal[True]
    plan: Plan


# --- runs -------------------------------------------------------------------------------------


class TriggerAnswer(_Answer):
    ok: Literal[True]
    run_id: int
    url: str
    """Where to poll the run."""


class _RunHead(_Answer):
    id: int
    sync: str
    status: str
    """``running``, ``succeeded``, ``succeeded_with_rejections``, ``failed``, ``cancelled``…"""
    trigger: str
    full: bool
    started_at: str
    finished_at: str | None
    heartbeat_at: str | None
    error: str | None


class Run(RunCounts, _RunHead):
    """One run as recorded (``store.records.RunRecord.to_dict``): the flat counts stay beside
    ``counts`` for existing clients. (pydantic lists the last base's fields first: the head,
    then the counts, then these.)"""

    duration_s: float | None
    """None while it runs."""
    status_text: str
    counts: RunCounts


class Progress(_Answer):
    total: int
    """Records planned to send."""
    done: int
    """Handled so far."""
    cancelling: bool


class RunWithProgress(Run):
    progress: Progress | None
    """While this server runs it; else None."""


class RunsAnswer(_Answer):
    ok: Literal[True]
    runs: list[Run]
    """Newest first."""


class RunAnswer(_Answer):
    ok: Literal[True]
    run: RunWithProgress


class Rejection(_Answer):
    sync_key: str | None
    code: str
    message: str
    column: str | None
    record: dict[str, Any] | None
    """The row as sent (or as read, when it was rejected before sending)."""


class RejectionGroup(_Answer):
    code: str
    column: str | None
    count: int


class RejectionsAnswer(_Answer):
    ok: Literal[True]
    total: int
    """How many rejections match the filters (all pages)."""
    summary: list[RejectionGroup]
    """The run's rejections counted by code and column (unfiltered)."""
    rejections: list[Rejection]
    """This page."""


class CancelAnswer(_Answer):
    ok: Literal[True]
    run_id: int
    cancelling: Literal[True]


# --- alerts -----------------------------------------------------------------------------------


class OpenCondition(_Answer):
    sync: str
    condition: str
    opened_at: str
    run_id: int | None
    detail: str | None


class AlertView(_Answer):
    name: str
    channel: str
    """``slack``, ``webhook``, ``email``, ``apprise``."""
    destination: str
    """Where alerts go without the secrets: a host, or recipients and mail server."""
    when: dict[str, Any]
    """The rule's conditions (as ``syncline.yml`` sets them)."""
    syncs: Literal["all"] | list[str]
    overrides: dict[str, dict[str, Any]]
    """Per watched sync: the conditions it sets over the rule's."""
    open: list[OpenCondition]


class AlertsAnswer(_Answer):
    ok: Literal[True]
    alerts: list[AlertView]


class AlertTestAnswer(_Answer):
    ok: Literal[True]
    alert: str
    sent: bool
    error: str | None
    """The channel's error when it was not sent."""

