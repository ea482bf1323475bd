"""Run in the Dagster venv by test_dagster.py: materialize Syncline assets with the real Dagster
against a real ``syncline serve``; print one JSON line per materialization attempt."""

from __future__ import annotations

import json
import sys

import dagster as dg

from syncline.integrations.dagster import SynclineResource, syncline_assets


def materialize(url: str, token: str, sync: str, **limits: float) -> dict[str, object]:
    assets = syncline_assets([sync], deps=["users_enriched"], key_prefix=["crm"], **limits)
    resource = SynclineResource(url=url, token=token, poll_s=0.1, timeout_s=60)
    result = dg.materialize(assets, resources={"syncline": resource}, raise_on_error=False)
    out: dict[str, object] = {"sync": sync, "success": result.success,
                              "keys": [a.key.to_user_string() for a in assets],
                              "deps": sorted(k.to_user_string()
                                             for k in assets[0].dependency_keys)}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        out["metadata"] = {k: getattr(v, "value", v) for k, v in metadata.items()}
    for event in result.all_events:
        if event.is_step_failure:
            out["failure"] = str(event.step_failure_data.user_failure_data.description
                                 if event.step_failure_data.user_failure_data else
                                 event.step_failure_data.error)
    return out


if __name__ == "__main__":
    url, token = sys.argv[1], sys.argv[2]
    print(json.dumps(materialize(url, token, "users")))
    print(json.dumps(materialize(url, token, "users", max_rejected_percent=5)))
    print(json.dumps(materialize(url, token, "refused")))
