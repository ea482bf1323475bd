"""Every API answer a test receives is checked against what ``/openapi.json`` declares for it.

``Answers`` is an httpx response hook (``Served.api()`` and the ASGI ``client`` fixture install
it): an answer under ``/api`` must have its status declared on its operation, and its body must
validate against the declared schema (``additionalProperties: false`` included), errors as
``ErrorBody`` too. So every API test is also a test of the documented answers, and ``seen``
tells which operations a test saw answer with success.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema_rs

__all__ = ["Answers", "is_concrete", "operations"]

_METHODS = ("get", "post", "put", "delete", "patch")


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """Every ``(METHOD, path template)`` of the document."""
    return {(method.upper(), path) for path, ops in doc["paths"].items()
            for method in ops if method in _METHODS}


def is_concrete(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with named properties and no others (each alternative of a union): not the
    ``{}`` or free-form object a route without a response model gets."""
    ref = schema.get("$ref")
    if ref is not None:
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    if "anyOf" in schema:
        return all(is_concrete(doc, s) for s in schema["anyOf"])
    return bool(schema.get("properties")) and schema.get("additionalProperties") is False


@dataclass
class Answers:
    """Checks answers against one OpenAPI document (see the module docstring)."""

    doc: dict[str, Any]
    seen: set[tuple[str, str]] = field(default_factory=set)
    """``(METHOD, path template)`` of every operation that answered 2xx and conformed."""

    def __post_init__(self) -> None:
        # literal paths first, so /api/runs is never taken for a template's match
        self._paths = sorted(
            ((re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", p) + "$"), p)
             for p in self.doc["paths"]), key=lambda pair: "{" in pair[1])

    def template(self, path: str) -> str | None:
        return next((t for pattern, t in self._paths if pattern.match(path)), None)

    def check(self, response: httpx.Response) -> None:
        """Raise AssertionError unless ``response`` is what its operation declares."""
        request = response.request
        path = self.template(request.url.path)
        if not request.url.path.startswith("/api/") or path is None:
            return
        method = request.method.lower()
        operation = self.doc["paths"][path].get(method)
        if operation is None:
            assert response.status_code == 405, (method, path, response.status_code)
            return
        where = f"{request.method} {request.url.path} answered {response.status_code}"
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, f"{where}, not declared: {response.text[:300]}"
        media = response.headers.get("content-type", "").split(";")[0]
        content = declared.get("content", {})
        assert media in content, f"{where} as {media}; declared: {sorted(content)}"
        if media == "application/json":
            assert is_concrete(self.doc, content[media]["schema"]), f"{where}: no model declared"
            schema = {**content[media]["schema"], "components": self.doc["components"]}
            errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(
                response.json())]
            assert not errors, f"{where} off its schema: {errors[:5]}\n{response.text[:500]}"
        if response.is_success:
            self.seen.add((request.method, path))

    def hook(self, response: httpx.Response) -> None:
        response.read()
        self.check(response)

    async def async_hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.check(response)
