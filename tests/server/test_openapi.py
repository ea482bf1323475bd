"""The OpenAPI document: the API only (no HTML pages), its tags, and the bearer token declared
on every operation that needs one; ``/docs`` leads to it."""

from __future__ import annotations

import httpx
import pytest

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
