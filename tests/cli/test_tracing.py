"""OpenTelemetry traces of a CLI run, exported over OTLP/HTTP to a real local receiver and read
back with OpenTelemetry's own protobuf messages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import Project

trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="syncline[otel] is not installed")


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_is_one_trace_with_its_phases(tmp_path: Path,
                                            sandbox_account: dict[str, Any]) -> None:
    project = Project.create(tmp_path, sandbox_account, users=30)
    with otlp_receiver() as (endpoint, bodies):
        env = {**project.env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        result = project.cli_with_env(env, "run", "users")
        assert result.returncode == 0, result.stderr
    spans = []
    for body in bodies:
        request = trace_service.ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans += [s for r in request.resource_spans for sc in r.scope_spans for s in sc.spans]
    names = {s.name for s in spans}
    assert {"syncline.run", "syncline.plan", "syncline.deliver", "syncline.commit"} <= names
    (root,) = [s for s in spans if s.name == "syncline.run"]
    assert {s.trace_id for s in spans} == {root.trace_id}
    plan = next(s for s in spans if s.name == "syncline.plan")
    assert plan.parent_span_id == root.span_id
    attrs = {a.key: a.value.string_value or a.value.int_value for a in root.attributes}
    assert attrs["sync"] == "users"
