"""schemathesis against ``/openapi.json`` with an admin token: generated requests to every
operation, none of which may answer with a 5xx, nor off what the document declares (status,
content type, response schema: schemathesis' conformance checks). Bounded (a few examples per
operation, no shrinking) so it runs in seconds; the attacks are the other files' job, this finds
crashes and undocumented answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..server.served import SOURCE_BODY, Served, destination_body, served

CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Served]:
    with served(tmp_path) as app:
        with app.api() as api:
            api.post("/api/connections", json=SOURCE_BODY)
            api.post("/api/connections", json=destination_body(app.sandbox))
        yield app


def test_no_request_makes_the_server_fail(running: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    schema.config.update(base_url=running.url)
    headers = {"Authorization": f"Bearer {running.token}"}
    failures: list[str] = []
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "DELETE" and operation.path == "/api/tokens/{token_id}":
            continue  # it would revoke the fuzzer's own token and turn the rest into 401s

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} "
                                f"{response.text[:300]}")
                return
            # raises schemathesis' failure group (with a curl line to reproduce) when the
            # answer is off its declaration
            case.validate_response(response, checks=CONFORMANCE)

        call()
    assert not failures, "\n".join(failures)
    assert len(calls) > 50 and 401 not in calls, (len(calls), sorted(set(calls)))
