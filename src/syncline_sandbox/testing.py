"""``SandboxServer``: the sandbox on a free loopback port in a background thread, for tests.

Everyone's tests (client, engine, CLI) use it to talk to a real HTTP server::

    with SandboxServer([Account("ACC", {"PASS"})]) as sandbox:
        httpx.post(f"{sandbox.url}/1/upload", ...)
        assert sandbox.events("ACC", name="Charged")
"""

from __future__ import annotations

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

__all__ = ["SandboxServer"]


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
