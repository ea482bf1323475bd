"""A real ``syncline serve`` in a subprocess, over a small project, for the orchestrator tests.

The project: a DuckDB warehouse (``tests/server/served.py``'s users, one with a phone CleverTap
refuses) and syncs applied to the server's store with ``syncline apply``; a user and an API
token made in that store; the CleverTap sandbox on a loopback port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from syncline.server.auth.security import create_token, create_user
from syncline.store import StateStore
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer, listening_port
from tests.server.served import ACCOUNT, PASSCODE, make_warehouse

SRC = Path(__file__).resolve().parents[2] / "src"
SECRET = "integration-secret-key-0123456789abcdef"

PROJECT = """\
version: 1
sources:
  wh: {{type: duckdb, path: wh.duckdb}}
destinations:
  ct:
    type: clevertap
    account_id: {account}
    passcode: ${{CT_PASSCODE}}
    region: eu1
    endpoint: {endpoint}
  ct_wrong:
    type: clevertap
    account_id: {account}
    passcode: not-the-passcode
    region: eu1
    endpoint: {endpoint}
syncs:
  users:
    source: wh
    model: {{table: main.users}}
    destination: ct
    object: profile
    sync_key: user_id
  refused:
    source: wh
    model: {{table: main.users}}
    destination: ct_wrong
    object: profile
    sync_key: user_id
"""


@dataclass(frozen=True)
class Serving:
    url: str
    token: str
    root: Path


@contextmanager
def serving(tmp: Path) -> Iterator[Serving]:
    """`syncline serve` on a free loopback port until the block ends (then SIGTERM, waited)."""
    root = tmp / "project"
    root.mkdir()
    make_warehouse(root / "wh.duckdb")
    env = {**os.environ, "SYNCLINE_SECRET_KEY": SECRET, "CT_PASSCODE": PASSCODE,
           "PYTHONPATH": str(SRC)}
    env.pop("SYNCLINE_STATE_URL", None)
    with SandboxServer([Account(ACCOUNT, {PASSCODE})]) as sandbox:
        (root / "syncline.yml").write_text(PROJECT.format(account=ACCOUNT, endpoint=sandbox.url))
        subprocess.run([sys.executable, "-m", "syncline", "apply", "--project", str(root)],
                       env=env, check=True, capture_output=True, timeout=120)
        token = _token(root)
        server = subprocess.Popen(
            [sys.executable, "-m", "syncline", "serve", "--port", "0", "--project",
             str(root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{listening_port(server)}"
            _wait_healthy(url, server)
            yield Serving(url, token, root)
        finally:
            server.terminate()
            server.wait(30)


def _token(root: Path) -> str:
    url = f"sqlite:///{root / '.syncline' / 'state.db'}"
    StateStore(url).close()
    engine = create_engine(url)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as session:
            _, token = create_token(session, create_user(session, "ops", "a long password!"),
                                    "orchestrator")
            session.commit()
    finally:
        engine.dispose()
    return token


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"syncline serve exited with code {server.returncode} (its stderr is above)")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("syncline serve did not answer /api/health within 60 s")
