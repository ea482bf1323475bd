"""Dagster: a resource that runs Syncline syncs, and assets that are those syncs
(``pip install 'syncline[dagster]'``).

::

    from syncline.integrations.dagster import SynclineResource, syncline_assets

    defs = dg.Definitions(
        assets=[*dbt_assets, *syncline_assets(["users_to_clevertap"], deps=["users_enriched"],
                                              max_rejected_percent=5)],
        resources={"syncline": SynclineResource(url="http://syncline:8000",
                                                token=dg.EnvVar("SYNCLINE_TOKEN"))},
    )

Each asset triggers a run on the Syncline server, waits for it and fails (``dagster.Failure``)
when the run fails or rejects more rows than allowed; its materialization carries the run's
counts and a link to the run.
"""

# no `from __future__ import annotations`: Dagster reads the asset function's annotations
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from syncline.errors import SynclineError
from syncline.integrations.client import RunCheck, SynclineClient, rejected_percent

__all__ = ["SynclineResource", "syncline_assets"]


class SynclineResource(dg.ConfigurableResource):  # type: ignore[misc]
    """A Syncline server: its URL and an API token."""

    url: str
    token: str
    poll_s: float = 5.0
    timeout_s: float | None = None
    """Fail a run still going after this many seconds (None: wait for it)."""

    def run_sync(self, sync: str, *, full: bool = False,
                 check: RunCheck | None = None) -> dict[str, Any]:
        """Run `sync` to its end; the run's record. ``dagster.Failure`` if it fails the check."""
        with SynclineClient(self.url, self.token) as client:
            try:
                run_id = client.trigger(sync, full=full)
                run = client.wait(run_id, poll_s=self.poll_s, timeout_s=self.timeout_s)
            except SynclineError as exc:
                raise dg.Failure(description=str(exc)) from exc
        problem = (check or RunCheck()).verdict(run)
        if problem is not None:
            raise dg.Failure(description=problem, metadata=_metadata(self.url, run))
        return run


def syncline_assets(
    syncs: Iterable[str], *, resource_key: str = "syncline", key_prefix: Sequence[str] = (),
    deps: Iterable[Any] = (), group_name: str | None = None, full: bool = False,
    max_rejected: int | None = None, max_rejected_percent: float | None = None,
) -> list[dg.AssetsDefinition]:
    """One asset per sync, materialized by running it; `deps` (e.g. the dbt models it reads)
    come first."""
    check = RunCheck(max_rejected=max_rejected, max_rejected_percent=max_rejected_percent)
    return [_asset(sync, resource_key, list(key_prefix), list(deps), group_name, full, check)
            for sync in syncs]


def _asset(sync: str, resource_key: str, key_prefix: list[str], deps: list[Any],
           group_name: str | None, full: bool, check: RunCheck) -> dg.AssetsDefinition:
    @dg.asset(name=sync, key_prefix=key_prefix or None, deps=deps or None,  # type: ignore[untyped-decorator]
              group_name=group_name, required_resource_keys={resource_key}, kinds={"syncline"},
              description=f"Syncline sync `{sync}`, run on the Syncline server.")
    def _run(context: AssetExecutionContext) -> dg.MaterializeResult:
        resource: SynclineResource = getattr(context.resources, resource_key)
        run = resource.run_sync(sync, full=full, check=check)
        return dg.MaterializeResult(metadata=_metadata(resource.url, run))

    return _run


def _metadata(url: str, run: dict[str, Any]) -> dict[str, Any]:
    counts = {name: int(run.get(name, 0)) for name in
              ("rows_in_model", "sent", "accepted", "rejected", "invalid", "failed")}
    return {"run_id": run.get("id"), "status": run.get("status"),
            "rejected_percent": round(rejected_percent(run), 2), **counts,
            "run_url": dg.MetadataValue.url(f"{url.rstrip('/')}/runs/{run.get('id')}")}
