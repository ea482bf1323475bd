"""The whole server as ``syncline serve`` runs it, on a loopback port, for run and browser tests:
a project folder with a DuckDB warehouse, a SQLite state store, a run manager with a
controllable clock, a signed-up user and an API token, and the CleverTap sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import uvicorn
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from syncline.scheduler import ManualClock
from syncline.server.app import uvicorn_config
from syncline.server.auth.security import create_token, create_user
from syncline.server.jobs import RunManager
from syncline.server.project.secrets import SecretBox
from syncline.server.settings import ServerSettings
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

from .answers import Answers

SECRET = "served-secret-key-0123456789abcdef"
USERNAME, PASSWORD = "grace", "a long enough password"
ACCOUNT, PASSCODE = "ACC-SERVED", "served-passcode"
BAD_PHONE_USER = "u007"
USERS = 12


def make_warehouse(path: Path) -> None:
    """``main.users`` (one row with a phone CleverTap refuses) and ``main.orders``."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE users AS SELECT 'u' || lpad(i::VARCHAR, 3, '0') AS user_id, "
            "'user' || i || '@example.com' AS email, 'User ' || i AS name, "
            "'+4477009' || lpad(i::VARCHAR, 5, '0') AS phone, 20 + i AS age "
            f"FROM range(1, {USERS + 1}) t(i)"
        )
        con.execute(f"UPDATE users SET phone = '12' WHERE user_id = '{BAD_PHONE_USER}'")
        con.execute(
            "CREATE TABLE orders AS SELECT 'o' || i AS order_id, "
            "'u' || lpad(((i % 5) + 1)::VARCHAR, 3, '0') AS user_id, 10.5 * i AS amount "
            "FROM range(1, 7) t(i)"
        )


@dataclass
class Served:
    """A running server and what a test needs to drive it."""

    url: str
    token: str
    root: Path
    jobs: RunManager
    clock: ManualClock
    sandbox: SandboxServer
    store: Any
    answers: Answers
    """Checks every API answer against ``/openapi.json`` (``tests/server/answers.py``)."""

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.token}"},
                            event_hooks={"response": [self.answers.hook]})

    def wait_run(self, client: httpx.Client, run_id: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()["run"]
            if run["status"] != "running":
                return run
            assert time.monotonic() < deadline, f"run {run_id} still running: {run}"
            time.sleep(0.05)


@contextmanager
def served(tmp: Path) -> Iterator[Served]:
    """Serve everything until the ``with`` block ends; every thread and file is closed after."""
    from syncline.store import StateStore

    root = tmp / "project"
    root.mkdir()
    make_warehouse(root / "wh.duckdb")
    url = f"sqlite:///{tmp / 'state.db'}"
    StateStore(url).close()  # the migrations create every table, the server's included
    engine = create_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        user = create_user(session, USERNAME, PASSWORD)
        _, token = create_token(session, user, "tests")
        session.commit()
    store = StateStore(url)
    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    box = SecretBox(SECRET)
    jobs = RunManager(root, store, sessions, box, clock=clock)
    settings = ServerSettings(secret_key=SECRET, session_factory=sessions, port=0)
    config = uvicorn_config(replace(settings), jobs)
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    try:
        with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as sandbox:
            thread.start()
            deadline = time.monotonic() + 10
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
                time.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}"
            answers = Answers(httpx.get(f"{url}/api/openapi.json", timeout=30).json())
            yield Served(url, token, root, jobs, clock, sandbox, store, answers)
            server.should_exit = True
            thread.join(15)
    finally:
        server.should_exit = True
        jobs.close()
        store.close()
        engine.dispose()


def destination_body(sandbox: SandboxServer, name: str = "ct") -> dict[str, Any]:
    return {"kind": "destination", "name": name, "config": {
        "type": "clevertap", "account_id": ACCOUNT, "passcode": PASSCODE, "region": "eu1",
        "endpoint": sandbox.url,
    }}


SOURCE_BODY = {"kind": "source", "name": "wh", "config": {"type": "duckdb", "path": "wh.duckdb"}}
