"""Airflow: an operator that runs a Syncline sync and a trigger for its deferrable wait
(``pip install 'syncline[airflow]'``; Airflow 2.9+ or 3).

::

    from syncline.integrations.airflow import SynclineRunOperator

    SynclineRunOperator(task_id="users_to_clevertap", sync="users_to_clevertap",
                        max_rejected_percent=5, deferrable=True)

The server is the Airflow connection ``syncline_default`` (host: its URL, password: an API
token), or ``url=``/``token=``. The operator triggers a run and waits for it: polling in the
worker, or, ``deferrable=True``, handing the wait to the triggerer (``SynclineRunTrigger``) so
no worker slot is held during a long run. The task fails when the run fails, outlasts
``timeout_s``, or rejects more rows than allowed; it returns the run's record (an XCom).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from syncline.errors import SynclineError
from syncline.integrations.client import FINISHED, RunCheck, SynclineClient

try:  # Airflow 3
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.sdk.exceptions import AirflowException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowException
    from airflow.hooks.base import BaseHook
    from airflow.models import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = ["SynclineRunOperator", "SynclineRunTrigger"]


class SynclineRunTrigger(BaseTrigger):  # type: ignore[misc]
    """Polls a run from the triggerer until it has finished; the event carries the run.

    Its arguments are serialized into Airflow's database (encrypted there, the token too).
    """

    def __init__(self, url: str, token: str, run_id: int, poll_s: float = 5.0,
                 deadline: float | None = None) -> None:
        super().__init__()
        self.url, self.token, self.run_id = url, token, run_id
        self.poll_s, self.deadline = poll_s, deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{__name__}.SynclineRunTrigger",
                {"url": self.url, "token": self.token, "run_id": self.run_id,
                 "poll_s": self.poll_s, "deadline": self.deadline})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as http:
            while True:
                try:
                    response = await http.get(f"/api/runs/{self.run_id}")
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    yield TriggerEvent({"run_id": self.run_id, "error": f"{exc}"})
                    return
                run = response.json()["run"]
                if run["status"] in FINISHED:
                    yield TriggerEvent({"run_id": self.run_id, "run": run})
                    return
                if self.deadline is not None and time.time() >= self.deadline:
                    yield TriggerEvent({"run_id": self.run_id, "run": run, "timed_out": True})
                    return
                await asyncio.sleep(self.poll_s)


class SynclineRunOperator(BaseOperator):  # type: ignore[misc]
    """Run a Syncline sync on the Syncline server and fail the task if the run does."""

    template_fields = ("sync",)

    def __init__(self, *, sync: str, conn_id: str = "syncline_default", url: str | None = None,
                 token: str | None = None, full: bool = False, deferrable: bool = False,
                 poll_s: float = 5.0, timeout_s: float | None = None,
                 max_rejected: int | None = None, max_rejected_percent: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sync, self.conn_id, self.url, self.token = sync, conn_id, url, token
        self.full, self.deferrable, self.poll_s, self.timeout_s = (full, deferrable, poll_s,
                                                                     timeout_s)
        self.max_rejected, self.max_rejected_percent = max_rejected, max_rejected_percent

    def server(self) -> tuple[str, str]:
        """The URL and token: given, else from the Airflow connection."""
        if self.url and self.token:
            return self.url, self.token
        conn = BaseHook.get_connection(self.conn_id)
        host = str(conn.host or "")
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
        return self.url or host, self.token or str(conn.password or "")

    def execute(self, context: Any) -> dict[str, Any]:
        url, token = self.server()
        with SynclineClient(url, token) as client:
            try:
                run_id = client.trigger(self.sync, full=self.full)
                self.log.info("Syncline run %s of sync %s: %s/runs/%s", run_id, self.sync, url,
                              run_id)
                if self.deferrable:
                    deadline = None if self.timeout_s is None else time.time() + self.timeout_s
                    self.defer(trigger=SynclineRunTrigger(url, token, run_id, self.poll_s,
                                                          deadline),
                               method_name="execute_complete")
                run = client.wait(run_id, poll_s=self.poll_s, timeout_s=self.timeout_s)
            except SynclineError as exc:
                raise AirflowException(str(exc)) from exc
        return self._judge(run)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Back from the triggerer with the finished run (or why it could not be followed)."""
        if "error" in event:
            raise AirflowException(f"run {event['run_id']} of sync `{self.sync}` could not be "
                                   f"followed: {event['error']}")
        if event.get("timed_out"):
            raise AirflowException(f"run {event['run_id']} of sync `{self.sync}` still "
                                   f"{event['run']['status']} after {self.timeout_s:g} s")
        return self._judge(event["run"])

    def _judge(self, run: dict[str, Any]) -> dict[str, Any]:
        check = RunCheck(max_rejected=self.max_rejected,
                         max_rejected_percent=self.max_rejected_percent)
        problem = check.verdict(run)
        if problem is not None:
            raise AirflowException(problem)
        self.log.info("Syncline run %s of sync %s succeeded: %s accepted, %s rejected",
                      run["id"], self.sync, run["accepted"], run["rejected"] + run["invalid"])
        return run
