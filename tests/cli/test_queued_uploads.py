"""A profile run's uploads start as soon as a slot frees, even while the run's thread is busy
building the next chunk (bench/PROFILING.md, round two: W5, a freed slot starts the next upload
itself). Before, every upload was started by the run's thread, so a slot that freed during a
build waited for the build to end: here, no more than the one sent just before each build
could start during it. Every row still ends accepted or rejected, and each profile arrives
once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from syncline.destinations.base import BatchOutcome
from syncline.destinations.clevertap.client import CleverTapClient
from syncline.engine import validation
from syncline.engine.builder import BuiltBatch, RecordBuilder
from tests.cli.helpers import Project, run_in_process, sandbox_profiles

USERS, BATCH, CHUNK, BUILD_S = 1_500, 100, 500, 0.4


def test_uploads_start_while_the_run_builds_the_next_chunk(
    tmp_path: Path, sandbox_account: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = Project.create(tmp_path, sandbox_account, users=USERS)
    config = project.config_path.read_text()
    project.config_path.write_text(
        config.replace("batch_size: 1000", f"batch_size: {BATCH}")
        .replace("in_flight: 4", "in_flight: 2"))
    project.set_faults(latency_ms=50)
    monkeypatch.setattr(validation, "READ_ROWS", CHUNK)  # 3 chunks of 5 batches
    building = threading.Event()
    during_build: list[bool] = []
    build, deliver = RecordBuilder.build, CleverTapClient.deliver

    def slow_build(self: RecordBuilder, batch: pa.RecordBatch) -> BuiltBatch:
        building.set()
        try:
            time.sleep(BUILD_S)  # a build far longer than an upload's answer
            return build(self, batch)
        finally:
            building.clear()

    def noted_deliver(self: CleverTapClient, body: bytes, size: int, *,
                      dry_run: bool = False) -> BatchOutcome:
        during_build.append(building.is_set())
        return deliver(self, body, size, dry_run=dry_run)

    monkeypatch.setattr(RecordBuilder, "build", slow_build)
    monkeypatch.setattr(CleverTapClient, "deliver", noted_deliver)
    summary = run_in_process(project, "users")
    assert summary.error is None
    assert summary.accepted + summary.rejected == summary.new  # every valid row ends once
    assert summary.not_sent == 0 and summary.failed == 0
    assert len(sandbox_profiles(project)) == summary.accepted
    assert len(during_build) == -(-summary.sent // BATCH)  # one upload a batch, none again
    # chunk 1's last 3 batches start during build 2, chunk 2's during build 3
    assert sum(during_build) >= 5, during_build
