"""The OpenAPI document: the API only (no HTML pages), its tags, and the bearer token declared
on every operation that needs one; ``/docs`` leads to it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .answers import is_concrete

pytestmark = pytest.mark.anyio


async def test_bearer_auth_tags_and_no_html_routes(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/api/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "An API token (create one on the dashboard's home page)."}
    assert {t["name"] for t in doc["tags"]} == {"runs", "syncs", "connections", "account", "alerts"}
    assert all(path.startswith("/api/") for path in doc["paths"]), sorted(doc["paths"])
    run = doc["paths"]["/api/runs/{run_id}"]["get"]
    assert run["security"] == [{"bearer": []}] and run["tags"] == ["runs"]
    assert "security" not in doc["paths"]["/api/health"]["get"]  # open: load balancers ask it
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("tags"), (method, path)


async def test_docs_lead_to_the_api_documentation(client: httpx.AsyncClient) -> None:
    answer = await client.get("/docs")
    assert answer.status_code in (302, 307) and answer.headers["location"] == "/api/docs"
    assert (await client.get("/api/docs")).status_code == 200


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


async def test_every_operation_declares_its_answers_and_its_token(
    client: httpx.AsyncClient,
) -> None:
    """Each ``/api`` operation: a concrete schema for its success (CSV as ``text/csv``, a 204
    as no content), ``ErrorBody`` for every error it declares, and the bearer token (health
    is open)."""
    doc = (await client.get("/api/openapi.json")).json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # our 422 is ErrorBody
    for path, operations in doc["paths"].items():
        assert path.startswith("/api/"), path
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            success = {s: r for s, r in responses.items() if s.startswith("2")}
            assert success, where
            for status, response in success.items():
                content = response.get("content", {})
                if status == "204":
                    assert not content, where
                    continue
                assert set(content) <= {"application/json", "text/csv"} and content, where
                if "application/json" in content:
                    assert is_concrete(doc, content["application/json"]["schema"]), where
            for status, response in responses.items():
                if not status.startswith("2"):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"}, (where, status)
            if path == "/api/health":
                continue
            assert operation["security"] == [{"bearer": []}], where
            assert "401" in responses, where
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in responses, where
    rejections = doc["paths"]["/api/runs/{run_id}/rejections"]["get"]["responses"]["200"]
    assert set(rejections["content"]) == {"application/json", "text/csv"}
    run = _resolve(doc, doc["components"]["schemas"]["RunAnswer"]["properties"]["run"])
    assert {"counts", "progress"} <= set(run["properties"])
    assert "403" in doc["paths"]["/api/users"]["get"]["responses"]  # admins only
    assert "403" not in doc["paths"]["/api/runs"]["get"]["responses"]  # any token
