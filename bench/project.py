"""Syncline projects for the benchmark: a ``syncline.yml`` per workload, and how to run it.

The endpoint comes from ``CLEVERTAP_ENDPOINT`` so one project (one snapshot) can be loaded
through the minimal sink and then measured against the sandbox: the row hash covers the mapped
columns and the mapping, not the destination's URL, so switching it re-sends nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson

from bench.measure import Measured, run_measured
from bench.servers import ACCOUNT, PASSCODE

__all__ = ["SyncSpec", "syncline", "write_project"]

SYNCLINE = Path(sys.executable).parent / "syncline"

SyncSpec = dict[str, Any]


def profile_sync(table: str = "main.users", in_flight: int = 15) -> SyncSpec:
    """Every column of the users table, keyed by ``user_id`` (standard fields matched by name)."""
    return {
        "source": "warehouse",
        "model": {"table": table},
        "destination": "clevertap",
        "object": "profile",
        "sync_key": "user_id",
        "in_flight": in_flight,
        "mappings": {"sync_all": True},
    }


def event_sync(in_flight: int = 15) -> SyncSpec:
    """Orders as Charged events with Items: the records drt and dlt are made to send too."""
    return {
        "source": "warehouse",
        "model": {"table": "main.orders"},
        "destination": "clevertap",
        "object": "event",
        "sync_key": "order_id",
        "identity_column": "user_id",
        "event_name": "Charged",
        "timestamp_column": "ordered_at",
        "items_column": "items",
        "in_flight": in_flight,
        "mappings": {
            "columns": [
                {"from": "transaction_value", "to": "Transaction Value", "type": "number"},
                {"from": "currency", "to": "Currency"},
                {"from": "discount_applied", "to": "Discount Applied", "type": "boolean"},
            ]
        },
    }


def write_project(folder: Path, source: dict[str, Any], syncs: dict[str, SyncSpec]) -> Path:
    """Write ``folder/syncline.yml`` (JSON is YAML) with one source and the CleverTap account."""
    # The state store does not create its folder yet (reported to the lead): make it here.
    (folder / ".syncline").mkdir(parents=True, exist_ok=True)
    project = {
        "version": 1,
        "sources": {"warehouse": source},
        "destinations": {
            "clevertap": {
                "type": "clevertap",
                "account_id": ACCOUNT,
                "passcode": "${BENCH_PASSCODE}",
                "region": "eu1",
                "endpoint": "${CLEVERTAP_ENDPOINT}",
            }
        },
        "syncs": syncs,
    }
    (folder / "syncline.yml").write_bytes(orjson.dumps(project, option=orjson.OPT_INDENT_2))
    return folder


def syncline(command: str, sync: str, project: Path, endpoint: str, *extra: str) -> Measured:
    """``syncline <command> SYNC --project DIR --json`` as a measured child process."""
    env = {**os.environ, "CLEVERTAP_ENDPOINT": endpoint, "BENCH_PASSCODE": PASSCODE}
    argv = [str(SYNCLINE), command, sync, "--project", str(project), "--json", *extra]
    return run_measured(argv, env=env).check(f"syncline {command} {sync}")


def summary(measured: Measured) -> dict[str, Any]:
    """The JSON object the command printed last (``--json``)."""
    text = measured.stdout.strip()
    start = text.rfind("\n{")
    data: dict[str, Any] = orjson.loads(text[start + 1 :] if start >= 0 else text)
    return data
