"""A small client of Syncline's REST API for orchestrators: trigger a run, poll it, judge it.

The server runs the sync (it holds the credentials, the state and the lease); the orchestrator
only asks for a run and waits, so a task retried by the orchestrator never runs a sync twice at
once (the server answers 409 while a run of that sync is going).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from syncline.errors import ConfigError, RunFailedError

__all__ = ["RunCheck", "SynclineClient", "rejected_percent"]

SUCCEEDED = ("succeeded", "succeeded_with_rejections")
"""A run that completed (the second: some rows rejected; `RunCheck` limits how many)."""
FINISHED = (*SUCCEEDED, "failed", "cancelled")


@dataclass(frozen=True)
class RunCheck:
    """When a finished run fails the task besides its own failure: too many rows rejected.

    Rejected rows are those CleverTap refused plus those refused locally (``invalid``); the
    percentage is of the rows the run had to send (new + changed). ``None``: no limit.
    """

    max_rejected: int | None = None
    max_rejected_percent: float | None = None

    def verdict(self, run: dict[str, Any]) -> str | None:
        """Why `run` fails the task, or None if it passes."""
        where = f"run {run.get('id')} of sync `{run.get('sync')}`"
        if run.get("status") not in SUCCEEDED:
            return f"{where} {run.get('status')}: {run.get('error') or 'no reason recorded'}"
        rejected = int(run.get("rejected", 0)) + int(run.get("invalid", 0))
        if self.max_rejected is not None and rejected > self.max_rejected:
            return f"{where} rejected {rejected} rows, more than max_rejected={self.max_rejected}"
        percent = rejected_percent(run)
        if self.max_rejected_percent is not None and percent > self.max_rejected_percent:
            return (f"{where} rejected {rejected} rows ({percent:.1f}%), more than "
                    f"max_rejected_percent={self.max_rejected_percent:g}")
        return None


def rejected_percent(run: dict[str, Any]) -> float:
    """Rejected (by CleverTap or locally) as a percentage of the rows the run had to send."""
    to_send = int(run.get("planned_new", 0)) + int(run.get("planned_changed", 0))
    rejected = int(run.get("rejected", 0)) + int(run.get("invalid", 0))
    return 100.0 * rejected / to_send if to_send else 0.0


class SynclineClient:
    """``POST /api/syncs/{name}/runs`` and ``GET /api/runs/{id}`` with a bearer token."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s,
                                  headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SynclineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def trigger(self, sync: str, *, full: bool = False) -> int:
        """Start a run of `sync`; its id."""
        answer = self._call("POST", f"/api/syncs/{sync}/runs", json={"full": full})
        return int(answer["run_id"])

    def run(self, run_id: int) -> dict[str, Any]:
        """The run's record: status, counts, error."""
        run: dict[str, Any] = self._call("GET", f"/api/runs/{run_id}")["run"]
        return run

    def wait(self, run_id: int, *, poll_s: float = 5.0,
             timeout_s: float | None = None) -> dict[str, Any]:
        """Poll until the run has finished; RunFailedError if it takes longer than `timeout_s`."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            run = self.run(run_id)
            if run["status"] in FINISHED:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise RunFailedError(f"run {run_id} of sync `{run.get('sync')}` still "
                                     f"{run['status']} after {timeout_s:g} s; see {self.url}"
                                     f"/runs/{run_id}")
            time.sleep(poll_s)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RunFailedError(f"Syncline at {self.url} cannot be reached ({exc})") from exc
        if response.status_code in (401, 403):
            raise ConfigError(f"Syncline at {self.url} refused the token ({response.status_code})"
                              "; create one on the dashboard (API tokens)")
        if response.status_code >= 400:
            raise RunFailedError(f"{method} {self.url}{path}: {response.status_code} "
                                 f"{_detail(response)}")
        body: dict[str, Any] = response.json()
        return body


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("error") or body.get("detail") or body)[:300]
