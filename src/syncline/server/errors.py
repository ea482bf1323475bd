"""The REST API's errors and its one JSON error shape.

Every API error answer, whatever raised it, is built by ``error_body`` (as datasette does), so
clients parse one shape::

    {"ok": false, "status": 422, "title": "Invalid request",
     "error": "body.name: String should have at least 1 character",
     "errors": [{"field": "body.name", "reason": "String should have at least 1 character"}]}

``errors`` is present only for validation failures. HTTP errors carry their status as a class
attribute, so raising ``NotFoundError("sync `x` does not exist")`` is enough.
"""

from __future__ import annotations

from typing import Any, ClassVar

from typing_extensions import TypedDict  # pydantic reads it into the OpenAPI schema on 3.11

from syncline.errors import SynclineError

__all__ = [
    "ApiError",
    "BadRequestError",
    "ConflictError",
    "CsrfError",
    "FieldError",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "UnauthorizedError",
    "UnavailableError",
    "error_body",
]


class FieldError(TypedDict):
    """One invalid field of a request: where (``body.name``, ``query.limit``) and why."""

    field: str
    reason: str


class ApiError(SynclineError):
    """An error the server answers with ``status`` and ``error_body``."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Server error"


class BadRequestError(ApiError):
    """The request is understood but cannot be done as asked."""

    status = 400
    title = "Bad request"


class UnauthorizedError(ApiError):
    """No credentials, or credentials that are not (or no longer) valid."""

    status = 401
    title = "Unauthorized"


class ForbiddenError(ApiError):
    """The caller is known but may not do this."""

    status = 403
    title = "Forbidden"


class CsrfError(ForbiddenError):
    """A dashboard form was posted without the session's CSRF token (or with another one)."""

    title = "Form expired"


class NotFoundError(ApiError):
    """What the path names does not exist."""

    status = 404
    title = "Not found"


class ConflictError(ApiError):
    """The request clashes with the current state (a name taken, a run already going)."""

    status = 409
    title = "Conflict"


class InvalidInputError(ApiError):
    """Input that fails validation; ``errors`` says which field and why (422)."""

    status = 422
    title = "Invalid request"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))


class UnavailableError(ApiError):
    """The server cannot do this as it was started (e.g. runs without a state store)."""

    status = 503
    title = "Unavailable"


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid request",
    500: "Server error",
}


def error_body(
    status: int, message: str, *, title: str | None = None, errors: list[FieldError] | None = None
) -> dict[str, Any]:
    """The JSON body of every API error answer."""
    body: dict[str, Any] = {
        "ok": False,
        "status": status,
        "title": title or _TITLES.get(status, "Error"),
        "error": message,
    }
    if errors is not None:
        body["errors"] = errors
    return body
