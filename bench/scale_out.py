"""Scale-out: syncs per minute and scheduler lag with 1, 2 and 3 Celery workers, and the same
many-syncs workload on the embedded default (one ``syncline serve``, SQLite, in-process runs).

``python -m bench.scale_out [--workers 1,2,3] [--syncs 40] [--minutes 3] [--out FILE]``
(default ``bench/SCALE_OUT.md``; the main harness rewrites ``RESULTS.md`` whole): each setup gets a
fresh PostgreSQL database (the warehouse, and the state store when scaled out), the CleverTap
sandbox with 3 accounts, and ``--syncs`` profile syncs on ``every 1m`` schedules whose every run
re-sends its rows (5 per sync, one sync of 300). Scaled out: the workers (``--concurrency 2``),
one ``syncline scheduler``, Redis. It prints a Markdown table for ``bench/RESULTS.md``.

What is measured, from the state store once the processes stopped:
* runs/min: succeeded scheduled runs per minute of the window;
* start lag: run start minus its due instant (the queue wait; embedded: minus the sync's first
  start plus whole minutes), p50 / p95 / max;
* round: from a minute's first due instant to the last of that minute's runs finishing, p50 / max;
* CPU: user + system seconds of the worker processes (embedded: the server) per run.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa
from tests.workers.brokers import broker
from tests.workers.test_scale_out import (
    ACCOUNTS,
    PASSCODE,
    SECRET,
    make_warehouse,
    spawn,
    write_project,
)

from bench.measure import cpu_seconds
from syncline.store import StateStore
from syncline.store import tables as t
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _database() -> str:
    name = f"syncline_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return name


def _drop(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_idle(store: StateStore, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            running = conn.execute(sa.select(sa.func.count()).select_from(t.runs)
                                   .where(t.runs.c.status == "running")).scalar()
        if not running:
            return
        time.sleep(0.5)


def _measure(state_url: str, minutes: float, cpu: float, fired: bool) -> dict[str, float]:
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        runs = list(conn.execute(sa.select(t.runs).where(t.runs.c.trigger == "schedule")
                                 .order_by(t.runs.c.id)))
        fires = {r.run_id: r.due_at for r in conn.execute(sa.select(t.schedule_fires))} \
            if fired else {}
    store.close()
    by_sync: dict[str, list[sa.Row[tuple[object, ...]]]] = defaultdict(list)
    for run in runs:
        by_sync[run.sync].append(run)
    lags: list[float] = []
    rounds: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    first_due = min((fires[r.id] for r in runs if r.id in fires), default=None) if fired else \
        min((r.started_at for r in runs), default=None)
    for sync_runs in by_sync.values():
        base = sync_runs[0].started_at
        for k, run in enumerate(sync_runs):
            due = fires.get(run.id) if fired else base + timedelta(minutes=k)
            if due is None or run.finished_at is None or first_due is None:
                continue
            lags.append((run.started_at - due).total_seconds())
            index = round((due - first_due).total_seconds() / 60)
            rounds[index].append((due, run.finished_at))
    round_s = [(max(f for _, f in r) - min(d for d, _ in r)).total_seconds()
               for r in rounds.values()]
    ok = [r for r in runs if r.status == "succeeded"]
    return {"runs_per_min": len(ok) / minutes, "runs": len(runs), "succeeded": len(ok),
            "lag_p50": _pct(lags, 0.5), "lag_p95": _pct(lags, 0.95), "lag_max": max(lags or [0]),
            "round_p50": statistics.median(round_s or [0]), "round_max": max(round_s or [0]),
            "cpu_per_run": cpu / max(len(runs), 1)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one(workers: int, syncs: int, minutes: float) -> dict[str, float]:
    """One setup: ``workers`` Celery workers, or 0 for the embedded default."""
    database = _database()
    source_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    try:
        make_warehouse(source_url, syncs)
        with tempfile.TemporaryDirectory() as tmp, \
                SandboxServer([Account(a, {PASSCODE}) for a in ACCOUNTS]) as sandbox, \
                broker("redis") as queue:
            root = Path(tmp) / "project"
            root.mkdir()
            write_project(root, database, sandbox.url, syncs)
            env = {**os.environ, "SYNCLINE_SECRET_KEY": SECRET, "CLEVERTAP_PASSCODE": PASSCODE}
            if workers:
                env.update(SYNCLINE_STATE_URL=source_url, SYNCLINE_BROKER_URL=queue.url,
                           SYNCLINE_QUEUE=queue.queue)
                state_url = source_url
            else:
                env.pop("SYNCLINE_STATE_URL", None)
                env.pop("SYNCLINE_BROKER_URL", None)
                state_url = f"sqlite:///{root / '.syncline' / 'state.db'}"
            subprocess.run([sys.executable, "-m", "syncline", "apply", "--project", str(root)],
                           env=env, check=True, capture_output=True)
            log = Path(tmp)
            if workers:
                runners = [spawn(["worker", "--project", str(root), "--concurrency", "2"], env,
                                 log / f"w{i}.log") for i in range(workers)]
                others = [spawn(["scheduler", "--project", str(root)], env, log / "s.log")]
            else:
                runners = [spawn(["serve", "--project", str(root), "--port",
                                  str(_free_port())], env, log / "serve.log")]
                others = []
            time.sleep(minutes * 60)
            _stop(others)
            if workers:
                _wait_idle(StateStore(state_url))
            cpu = sum(cpu_seconds(p.pid) for p in runners)
            _stop(runners)
            return _measure(state_url, minutes, cpu, fired=bool(workers))
    finally:
        _drop(database)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--syncs", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--embedded", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "SCALE_OUT.md")
    args = parser.parse_args(argv)
    setups = [int(n) for n in args.workers.split(",") if n] + ([0] if args.embedded else [])
    lines = [
        "# Scale-out: many syncs on Celery workers and on the embedded default", "",
        f"Written by `python -m bench.scale_out` on {datetime.now().date()}: {args.syncs} "
        f"profile syncs every minute for {args.minutes:g} min, 3 sandbox accounts, nproc "
        f"{os.cpu_count()} (shared with other work). Workers run `--concurrency 2`; one "
        "`syncline scheduler`; Redis; PostgreSQL. See the module docstring for each column.",
        "", "| setup | runs | runs/min | start lag p50 / p95 / max (s) | round p50 / max (s) "
        "| CPU-s per run |", "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for n in setups:
        f = one(n, args.syncs, args.minutes)
        name = f"{n} worker(s)" if n else "embedded (`serve`, SQLite, threads)"
        lines.append(f"| {name} | {f['runs']:.0f} | {f['runs_per_min']:.1f} | "
                     f"{f['lag_p50']:.1f} / {f['lag_p95']:.1f} / {f['lag_max']:.1f} | "
                     f"{f['round_p50']:.1f} / {f['round_max']:.1f} | {f['cpu_per_run']:.2f} |")
        print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
