"""Optional OpenTelemetry traces of a run's phases (plan, deliver, commit).

With ``syncline[otel]`` installed and ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, each run is a trace: a ``syncline.run`` span with
``syncline.plan`` and ``syncline.deliver`` inside it, and a ``syncline.commit`` span per snapshot
commit, exported over OTLP/HTTP with OpenTelemetry's own environment settings (headers, service
name, sampling). Without them every span is a no-op costing a function call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["configure_tracing", "shutdown_tracing", "span"]

_tracer: Any = None


def configure_tracing() -> bool:
    """Export spans over OTLP when the SDK is installed and an endpoint is set; True if so."""
    global _tracer
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return False
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "syncline")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("syncline")
    return True


@contextmanager
def span(name: str, **attributes: str | int | float | bool | None) -> Iterator[None]:
    """A span named ``name`` around the block, when tracing is configured."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None}
    ):
        yield


def shutdown_tracing() -> None:
    """Flush spans still buffered (the CLI calls this before it exits)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()
