"""One run's open resources: the source, the destination client, the planner and its snapshot.

``RunOpener`` opens them in order and closes them together (an ``ExitStack``), whatever happens
in between; ``OpenedRun`` carries them, with the run's buffers, through the steps of the runner.
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass, field

from syncline.config.dbt import resolve_model
from syncline.config.load import LoadedProject
from syncline.config.models import SyncConfig
from syncline.destinations.base import DestinationClient
from syncline.destinations.registry import destination_client
from syncline.engine import deletes
from syncline.engine.mapping import ResolvedMapping, resolve_mapping
from syncline.engine.placement import diff_place
from syncline.engine.planner import Planner
from syncline.engine.snapshot import Snapshot
from syncline.engine.summary import RunSummary
from syncline.engine.synclog import SyncLog
from syncline.sources.base import Source
from syncline.sources.registry import model_sql, open_source
from syncline.store import DroppedField, Lease, RejectedRow

__all__ = ["OpenedRun", "RunOpener", "holder"]


def holder() -> str:
    """``host:pid``: how leases and upload slots name this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class OpenedRun:
    """Everything one run holds open, closed together."""

    name: str
    sync: SyncConfig
    source: Source
    client: DestinationClient
    model_sql: str
    mapping: ResolvedMapping
    planner: Planner
    snapshot: Snapshot
    summary: RunSummary
    stack: ExitStack
    aborted: str | None = None
    lease: Lease | None = None
    first_upload: float | None = None
    rejections: list[RejectedRow] = field(default_factory=list)
    dropped: list[DroppedField] = field(default_factory=list)
    accepted_keys: list[str] = field(default_factory=list)
    accepted_hashes: list[object] = field(default_factory=list)
    released_keys: list[str] = field(default_factory=list)
    """Events rejected or failed: their in-flight marks are released with the next write."""
    log: SyncLog | None = None
    reached: int = 0
    """Planned rows sent or rejected locally; the rest of the plan is ``not_sent``."""
    last_store: float = 0.0
    """When the run's progress was last saved (``time.monotonic``), for the runner's heartbeat."""



class RunOpener:
    """Opens the source, the destination client and the planner of one run; closes them all."""

    def __init__(self, project: LoadedProject, name: str, sync: SyncConfig,
                 summary: RunSummary) -> None:
        self.project, self.name, self.sync, self.summary = project, name, sync, summary
        self.stack = ExitStack()

    def __enter__(self) -> OpenedRun:
        try:
            return self._open()
        except BaseException:
            self.stack.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def _open(self) -> OpenedRun:
        project, sync = self.project.project, self.sync
        model = resolve_model(sync.model, project.sources[sync.source], self.project.root,
                              sync=self.name, source=sync.source)  # a dbt model: its table
        source = open_source(sync.source, project.sources[sync.source], self.project.root)
        self.stack.callback(source.close)
        client = destination_client(project.destinations[sync.destination])
        self.stack.callback(client.close)
        sql = model_sql(model, source)
        columns = source.columns(sql)
        mapping = (deletes.erasure_mapping(self.name, sync, columns) if sync.object == "delete"
                   else resolve_mapping(self.name, sync, columns))
        self.summary.warnings = list(mapping.warnings)
        place = diff_place(self.name, sync, project.sources[sync.source], source.capabilities)
        local_dir = self.project.root / ".syncline" / "diff"
        local_dir.mkdir(parents=True, exist_ok=True)
        planner = Planner(
            self.name, source, sql, model_is_table=model.query is None, key_column=sync.sync_key,
            hash_columns=mapping.hash_columns, salt=mapping.fingerprint,
            mode="upsert" if sync.object == "profile" else "append",
            place=place, local_path=local_dir / f"{self.name}.duckdb",
        )
        close = getattr(planner, "close", None)
        if callable(close):
            self.stack.callback(close)
        return OpenedRun(self.name, sync, source, client, sql, mapping, planner, planner.snapshot(),
                    self.summary, self.stack)
