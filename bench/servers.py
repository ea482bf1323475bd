"""The receiving ends, each in its own process so their CPU is reported apart from Syncline's.

``Receiver`` wraps either the sandbox (``python -m syncline_sandbox``, faithful: validates and
stores every record) or the minimal sink (``python -m bench.sink``: latency and counting only).
Both start on ``--port 0`` and say which port they got (`listening_port`), so no other process
can take the port between its choice and the bind.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from bench.measure import cpu_seconds
from syncline_sandbox.testing import listening_port

__all__ = ["ACCOUNT", "PASSCODE", "Receiver", "ReceiverUse"]

ACCOUNT = "BENCH-ACC"
PASSCODE = "bench-pass"
AUTH = {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE}


@dataclass(slots=True)
class ReceiverUse:
    """What the receiver saw and spent between two ``mark``s."""

    uploads: int = 0
    records: int = 0
    bytes: int | None = None
    """Request bytes received: the sink counts head and body, the sandbox upload bodies (its
    ``bytes_received``); None only against a sandbox too old to count them."""
    cpu_s: float = 0.0
    refused: int = 0
    """Uploads answered 429 for going beyond 15 in flight (the sink's ``refused_429``, the
    sandbox's ``throttled``)."""


def _refused(stats: dict[str, Any]) -> int:
    return int(stats.get("refused_429", stats.get("throttled", 0)))


@dataclass
class Receiver:
    """A sandbox or sink process on a loopback port; use as a context manager."""

    kind: Literal["sandbox", "sink"]
    latency_ms: float = 0.0
    port: int = 0
    """0 until started: then the port the server bound."""
    proc: subprocess.Popen[bytes] | None = None
    _mark: tuple[dict[str, Any], float] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        if self.kind == "sandbox":
            # info: uvicorn's "running on" line (listening_port passes on only the rest)
            argv = [sys.executable, "-m", "syncline_sandbox", "--port", "0",
                    "--account", f"{ACCOUNT}:{PASSCODE}:eu1", "--log-level", "info"]  # fmt: skip
        else:
            argv = [sys.executable, "-m", "bench.sink", "--port", "0",
                    "--latency-ms", str(self.latency_ms)]  # fmt: skip
        self.proc = subprocess.Popen(argv, cwd=Path(__file__).parent.parent,
                                     stderr=subprocess.PIPE)
        try:
            self.port = listening_port(self.proc, timeout=30)
        except RuntimeError:
            self.__exit__()
            raise
        self._wait_ready()
        if self.kind == "sandbox" and self.latency_ms:
            self.set_latency(self.latency_ms)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the {self.kind} exited before it was ready ({self.proc.args!r})"
                )
            try:
                if httpx.get(f"{self.url}/v1/connect", headers=AUTH, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the {self.kind} did not answer on {self.url} within 30 s")

    def set_latency(self, latency_ms: float) -> None:
        """Sandbox only: every upload waits ``latency_ms`` before it is answered."""
        r = httpx.put(f"{self.url}/_sandbox/accounts/{ACCOUNT}/faults",
                      json={"latency_ms": latency_ms}, timeout=10)  # fmt: skip
        r.raise_for_status()

    def stats(self) -> dict[str, Any]:
        path = f"/_sandbox/accounts/{ACCOUNT}/stats" if self.kind == "sandbox" else "/_stats"
        r = httpx.get(self.url + path, timeout=60)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def mark(self) -> None:
        """Start counting: later ``since_mark`` answers the difference."""
        assert self.proc is not None
        self._mark = (self.stats(), cpu_seconds(self.proc.pid))

    def since_mark(self) -> ReceiverUse:
        assert self.proc is not None and self._mark is not None
        before, cpu0 = self._mark
        after = self.stats()
        sent = after.get("bytes_received")  # both count them; a sandbox before 2026-11 did not
        return ReceiverUse(
            uploads=int(after["uploads"]) - int(before["uploads"]),
            records=int(after["records_received"]) - int(before["records_received"]),
            bytes=int(sent) - int(before["bytes_received"]) if sent is not None else None,
            cpu_s=cpu_seconds(self.proc.pid) - cpu0,
            refused=_refused(after) - _refused(before),
        )  # fmt: skip
