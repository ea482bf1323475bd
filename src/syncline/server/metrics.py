"""``GET /metrics``: Prometheus' text format, from ``prometheus_client``.

Run and record totals are read from the state store at scrape time (the same numbers whichever
process ran the runs); uploads in flight, retries, 429s and the scheduler's lag are this
process's own. Without ``SYNCLINE_METRICS_TOKEN`` only loopback clients may scrape (a Prometheus
on the same host or behind the same proxy); with it, a scraper sends ``Authorization: Bearer``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from syncline.engine.delivery import uploads_in_flight
from syncline.server.errors import ForbiddenError
from syncline.server.jobs import RunManager
from syncline.store.totals import last_runs, record_totals, run_totals

__all__ = ["SynclineCollector", "router"]

router = APIRouter(include_in_schema=False)


class SynclineCollector(Collector):
    """Every Syncline metric, gathered when scraped."""

    def __init__(self, jobs: RunManager) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[Metric]:
        engine = self.jobs.store.engine
        runs = CounterMetricFamily("syncline_runs", "Runs by sync and final status.",
                                   labels=["sync", "status"])
        for sync, status, count in run_totals(engine):
            runs.add_metric([sync, status], count)
        yield runs
        records = CounterMetricFamily(
            "syncline_records", "Records by sync and outcome (accepted, rejected, failed, "
            "in_doubt, invalid), over every run.", labels=["sync", "outcome"])
        for sync, outcome, count in record_totals(engine):
            records.add_metric([sync, outcome], count)
        yield records
        duration = GaugeMetricFamily("syncline_last_run_duration_seconds",
                                     "Duration of each sync's newest finished run.",
                                     labels=["sync", "status"])
        rate = GaugeMetricFamily("syncline_last_run_records_per_second",
                                 "Records sent per second by each sync's newest finished run.",
                                 labels=["sync"])
        for last in last_runs(engine):
            duration.add_metric([last.sync, last.status], last.duration_s)
            rate.add_metric([last.sync], last.records_per_s)
        yield duration
        yield rate
        yield from _process_metrics(self.jobs)


def _process_metrics(jobs: RunManager) -> Iterable[Metric]:
    yield GaugeMetricFamily("syncline_uploads_in_flight",
                            "Uploads this process has open to destinations now.",
                            value=uploads_in_flight())
    yield GaugeMetricFamily("syncline_runs_in_progress", "Runs this process is running now.",
                            value=jobs.running_count())
    retries = CounterMetricFamily("syncline_upload_retries",
                                  "Uploads sent again after a transient failure.",
                                  labels=["sync"])
    throttled = CounterMetricFamily("syncline_upload_throttled",
                                    "Uploads the destination answered 429 (too many at once).",
                                    labels=["sync"])
    for sync, (retried, limited) in sorted(jobs.upload_stats().items()):
        retries.add_metric([sync], retried)
        throttled.add_metric([sync], limited)
    yield retries
    yield throttled
    yield GaugeMetricFamily("syncline_scheduler_lag_seconds",
                            "How late the scheduler fired its last due run.",
                            value=jobs.scheduler.last_lag_s)


def _allowed(request: Request) -> bool:
    token = os.environ.get("SYNCLINE_METRICS_TOKEN")
    if token:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus' text format."""
    if not _allowed(request):
        raise ForbiddenError("metrics are served to loopback clients, or to scrapers sending "
                       "`Authorization: Bearer $SYNCLINE_METRICS_TOKEN` when that is set")
    jobs: RunManager | None = request.app.state.jobs
    if jobs is None:
        return Response("", media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SynclineCollector(jobs))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
