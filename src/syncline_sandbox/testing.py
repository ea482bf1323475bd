"""``SandboxServer``: the sandbox on a free loopback port in a background thread, for tests.

Everyone's tests (client, engine, CLI) use it to talk to a real HTTP server::

    with SandboxServer([Account("ACC", {"PASS"})]) as sandbox:
        httpx.post(f"{sandbox.url}/1/upload", ...)
        assert sandbox.events("ACC", name="Charged")

A server run as a child process (``syncline sandbox``, ``python -m syncline_sandbox``, the
bench's sink) is started on ``--port 0`` and asked which port it got (`listening_port`): a port
picked by binding and closing a socket in the parent could be taken before the child binds it.
"""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from syncline_sandbox.accounts import Account
from syncline_sandbox.app import create_app
from syncline_sandbox.faults import Faults
from syncline_sandbox.state import SandboxState
from syncline_sandbox.store import Store

__all__ = ["SandboxServer", "listening_port"]


class SandboxServer:
    """Serve a sandbox app with uvicorn on ``127.0.0.1:<free port>`` while in the ``with`` block."""

    def __init__(
        self,
        accounts: Iterable[Account] = (Account("TEST-ACC-0001", {"test-passcode"}),),
        data_dir: Path | None = None,
        faults: Mapping[str, Faults] | None = None,
    ) -> None:
        self.app: Starlette = create_app(accounts, data_dir, faults)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
            lifespan="on",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="sandbox")
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state

    @property
    def store(self) -> Store:
        return self.state.store

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start within 10 s")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def set_faults(self, account: str, faults: Faults | None = None, **settings: Any) -> None:
        """Replace ``account``'s faults (a ``Faults`` or its fields as keywords)."""
        self.state.set_faults(account, faults or Faults(**settings))

    def events(
        self, account: str, name: str | None = None, identity: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored events, oldest first, as ``{key, identity, name, ts, data}``."""
        key = f"identity:{identity}" if identity is not None else None
        return self.store.events(account, name, key)

    def profile(self, account: str, identity: str) -> dict[str, Any] | None:
        """The stored ``profileData`` of the profile with this identity, or None."""
        return self.store.profile(account, f"identity:{identity}")

    def stats(self, account: str) -> dict[str, Any]:
        return self.store.stats(account)


_RUNNING_ON = re.compile(rb"running on https?://[^\s:]+:(\d+)")


def listening_port(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """The port of a server child started on ``--port 0`` with ``stderr=PIPE``, from the line
    it writes once it listens (uvicorn's ``Uvicorn running on http://HOST:PORT``, the sink's
    own). Its other stderr lines go on to ours, except uvicorn's ``INFO:`` chatter, from a
    daemon thread, so the pipe never fills. Raises RuntimeError when the child exits or stays
    silent for ``timeout`` seconds first."""
    assert proc.stderr is not None, "start the server with stderr=subprocess.PIPE"
    found: queue.Queue[int | None] = queue.Queue()

    def relay(stream: Any) -> None:
        reported = False
        for line in stream:
            match = None if reported else _RUNNING_ON.search(line)
            if match:
                reported = True
                found.put(int(match.group(1)))
            elif not line.startswith(b"INFO:"):
                sys.stderr.write(line.decode(errors="replace"))
        if not reported:
            found.put(None)

    threading.Thread(target=relay, args=(proc.stderr,), daemon=True, name="stderr").start()
    try:
        port = found.get(timeout=timeout)
    except queue.Empty:
        port = None
    if port is None:
        raise RuntimeError(f"{proc.args!r} did not report a listening port within {timeout} s "
                           f"(exit code {proc.poll()})")
    return port
