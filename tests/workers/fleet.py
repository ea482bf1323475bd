"""Many small syncs run by Syncline processes: shared by the scale-out test and W8 of the
benchmark (``bench/scale_out.py``), so both measure and check the same deployment.

A fresh PostgreSQL database (the warehouse, and the state store when scaled out), a project of
profile syncs on minute schedules over 3 CleverTap (sandbox) accounts, and the ``syncline``
processes started and stopped as an operator would. Nothing here skips or asserts: the test
checks, the benchmark measures.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
ACCOUNTS = ("SCALE-ACC-1", "SCALE-ACC-2", "SCALE-ACC-3")
PASSCODE = "scale-passcode"
SECRET = "scale-out-secret-key-0123456789abcdef"
BIG = "big"
"""The sync whose run is long enough to kill a worker in the middle of it."""

Process = subprocess.Popen[bytes]


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A database of its own on the local PostgreSQL (``prefix`` + a random suffix), dropped
    afterwards with whatever connections are still open to it."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def postgres_url(database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def make_warehouse(url: str, syncs: int) -> None:
    """``users``: 5 rows per sync shard, and 300 rows for the big sync."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE users AS SELECT 'u' || i AS user_id, mod(i, %(n)s) AS shard, "
            "'user' || i || '@example.com' AS email FROM generate_series(1, %(rows)s) i",
            {"n": syncs - 1, "rows": (syncs - 1) * 5})
        conn.exec_driver_sql(
            "CREATE TABLE big AS SELECT 'b' || i AS user_id, 'big' || i || '@example.com' "
            "AS email FROM generate_series(1, 300) i")
    engine.dispose()


def write_project(root: Path, database: str, sandbox_url: str, syncs: int) -> None:
    """``syncs`` profile syncs every minute, one of them ``big``; every run sends all its rows
    again (the model carries the current minute), so every run uploads."""
    lines = ["version: 1", "sources:", "  wh:", "    type: postgres", "    host: 127.0.0.1",
             "    port: 5432", "    user: postgres", f"    database: {database}",
             "destinations:"]
    for i, account in enumerate(ACCOUNTS):
        lines += [f"  ct{i}:", "    type: clevertap", f"    account_id: {account}",
                  "    passcode: ${CLEVERTAP_PASSCODE}", "    region: eu1",
                  f"    endpoint: {sandbox_url}"]
    lines.append("syncs:")
    mapping = ["    mappings:", "      columns:", "        - {from: email, to: Email}",
               "        - {from: minute, to: minute}"]
    for i in range(syncs - 1):
        lines += [f"  s{i:02d}:", "    source: wh",
                  "    model:", "      query: SELECT user_id, email, "
                  f"date_trunc('minute', now())::text AS minute FROM users WHERE shard = {i}",
                  f"    destination: ct{i % len(ACCOUNTS)}", "    object: profile",
                  "    sync_key: user_id", "    schedule: every 1m", *mapping]
    lines += [f"  {BIG}:", "    source: wh", "    model:",
              "      query: SELECT user_id, email, date_trunc('minute', now())::text AS minute "
              "FROM big", f"    destination: ct{len(ACCOUNTS) - 1}", "    object: profile",
              "    sync_key: user_id", "    schedule: every 1m", "    batch_size: 10",
              "    in_flight: 1", *mapping]
    (root / "syncline.yml").write_text("\n".join(lines) + "\n")


def apply(root: Path, env: dict[str, str]) -> None:
    """``syncline apply``: the definitions into the state store ``env`` names."""
    subprocess.run([sys.executable, "-m", "syncline", "apply", "--project", str(root)],
                   env=env, check=True, capture_output=True)


def spawn(args: list[str], env: dict[str, str], log: Path) -> Process:
    """``syncline <args>`` as a child process, its output in ``log``."""
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "syncline", *args], env=env,
                                stdout=handle, stderr=subprocess.STDOUT)


def wait_ready(workers: list[Process], logs: list[Path], timeout: float = 90) -> None:
    """Wait until every Celery worker said it is ready (it then takes tasks), so a measurement
    or a scenario does not start with part of the fleet still importing."""
    deadline = time.monotonic() + timeout
    for worker, log in zip(workers, logs, strict=True):
        while b" ready." not in log.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"worker {worker.pid} did not get ready; its log: {tail}")
            time.sleep(0.2)


def stop(processes: list[Process], timeout: float = 60) -> None:
    """SIGTERM every process still running (a warm shutdown: running runs finish), then wait;
    one that is still there after ``timeout`` seconds is killed."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
