"""Run in the Airflow venv by test_airflow.py: the operator and its trigger with the real
Airflow against a real ``syncline serve``; print one JSON line per case.

The deferrable case does what Airflow's triggerer does: the operator defers (TaskDeferred),
the trigger is rebuilt from its serialized form, its events are awaited, and the operator
resumes in ``execute_complete`` with the event's payload.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

from syncline.integrations.airflow import SynclineRunOperator

try:
    from airflow.sdk.exceptions import AirflowException, TaskDeferred
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowException, TaskDeferred


def outcome(operator: SynclineRunOperator) -> dict[str, Any]:
    out: dict[str, Any] = {"task": operator.task_id}
    try:
        run = operator.execute(context={})
    except TaskDeferred as deferred:
        out["deferred"] = True
        path, kwargs = deferred.trigger.serialize()
        module, _, name = path.rpartition(".")
        trigger = getattr(importlib.import_module(module), name)(**kwargs)

        async def first_event() -> Any:
            async for event in trigger.run():
                return event
            return None

        event = asyncio.run(first_event())
        try:
            run = getattr(operator, deferred.method_name)({}, event.payload)
        except AirflowException as exc:
            return {**out, "failed": str(exc)}
    except AirflowException as exc:
        return {**out, "failed": str(exc)}
    return {**out, "status": run["status"], "accepted": run["accepted"],
            "rejected": run["rejected"]}


if __name__ == "__main__":
    url, token = sys.argv[1], sys.argv[2]
    server = {"url": url, "token": token, "poll_s": 0.1, "timeout_s": 60}
    cases = [
        SynclineRunOperator(task_id="polling", sync="users", **server),
        SynclineRunOperator(task_id="deferred", sync="users", deferrable=True, full=True,
                            **server),
        SynclineRunOperator(task_id="too_many_rejected", sync="users", deferrable=True,
                            max_rejected_percent=5, **server),
        SynclineRunOperator(task_id="failed_run", sync="refused", **server),
        SynclineRunOperator(task_id="failed_run_deferred", sync="refused", deferrable=True,
                            **server),
        # the Airflow connection (AIRFLOW_CONN_SYNCLINE_DEFAULT, set by the test)
        SynclineRunOperator(task_id="by_connection", sync="users", poll_s=0.1,
                            max_rejected=1),
    ]
    for operator in cases:
        print("RESULT", json.dumps(outcome(operator)), flush=True)
