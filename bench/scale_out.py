"""W8, scale-out: how many runs a minute 1, 2 and 3 Celery workers drain, and the embedded
default (one ``syncline serve``, SQLite, in-process runs) on the same many-syncs workload.

Each setup gets a fresh PostgreSQL database (the warehouse, and the state store when scaled
out), the CleverTap sandbox with 3 accounts (in this process), and ``syncs`` profile syncs on
``every 1m`` (5 rows each, one of 300 in batches of 10; every run re-sends its rows). Interval
schedules start when the scheduler does, so all the syncs fall due at the same instant every
minute: each minute is a backlog of ``syncs`` runs at once. Scaled out: the workers
(``--concurrency 2``, threads) start first and the one ``syncline scheduler`` only once they
are ready; Redis is the broker. The setup stops after ``rounds`` minutes' runs have finished.

What is measured, from the state store and the processes:
* drain: from a minute's due instant to the last of its runs finishing; *capacity* is runs
  finished per minute of draining (all rounds' runs over all rounds' drain time): what the
  setup gets through while runs are waiting, which the schedule alone (``syncs`` a minute)
  cannot show;
* start lag: a run's start minus its due instant (its wait in the backlog), p50 / p95 / max;
  embedded, which records no due instants: every sync fell due when the server's scheduler
  started, taken as the first run's start (so its lags are slight underestimates), and every
  minute after;
* fire lag: how late the scheduler recorded a due run (``schedule_fires.fired_at`` minus the
  due instant; the embedded scheduler records none);
* CPU: user + system seconds of the runner processes (the workers; embedded: the server, with
  its scheduler) from the first run on (their start-up left out) per run, and of this process
  per run (the sandbox answering every upload, and the polling); the scheduler process's and
  PostgreSQL's own CPU are not counted. ``cores × 60 s ÷ runner CPU-s per run`` is the most
  runs a minute this machine's cores could give the runners alone: the CPU-bound ceiling.

``python -m bench.scale_out [--workers 1,2,3] [--syncs 40] [--rounds 2]`` prints the table;
``make bench`` (``python -m bench``) writes it into ``bench/RESULTS.md``. Each setup's process
logs stay in ``bench/.work/w8/``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from tests.workers.brokers import REDIS, broker
from tests.workers.fleet import (
    ACCOUNTS,
    PASSCODE,
    SECRET,
    Process,
    apply,
    make_warehouse,
    postgres_database,
    postgres_url,
    spawn,
    stop,
    wait_ready,
    write_project,
)

from bench import pg
from bench.measure import cpu_seconds
from bench.workloads import Bench
from syncline.store import StateStore
from syncline.store import tables as t
from syncline_sandbox.accounts import Account
from syncline_sandbox.testing import SandboxServer

__all__ = ["Setup", "available", "measure_setup", "table", "w8_scale_out"]

MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Setup:
    """One setup's figures (``workers`` 0 is the embedded default)."""

    workers: int
    syncs: int
    rounds: int
    runs: int
    succeeded: int
    drains: tuple[float, ...]
    """Seconds from each minute's due instant to the last of its runs finishing."""
    lags: tuple[float, ...]
    fire_lag_max: float | None
    runner_cpu_s: float
    harness_cpu_s: float
    load: tuple[float, float]
    wall_s: float

    @property
    def name(self) -> str:
        return f"{self.workers} worker(s)" if self.workers else "embedded (`serve`, SQLite)"

    @property
    def capacity(self) -> float:
        """Runs finished per minute of draining a backlog."""
        return self.runs / sum(self.drains) * MINUTE if sum(self.drains) else 0.0

    @property
    def runner_cpu_per_run(self) -> float:
        return self.runner_cpu_s / max(self.runs, 1)

    @property
    def ceiling(self) -> float:
        """Runs a minute all the machine's cores could give the runner processes alone."""
        per_run = self.runner_cpu_per_run
        return (os.cpu_count() or 1) * MINUTE / per_run if per_run else 0.0


def available() -> str | None:
    """None when PostgreSQL and Redis answer; else why W8 is skipped."""
    if (why := pg.available()) is not None:
        return why.replace("W4", "W8")
    name, host, port = REDIS
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f"W8 skipped: no {name} at {host}:{port} ({exc.strerror or exc})"
    return None


def w8_scale_out(b: Bench) -> None:
    """W8: every setup in turn, one table of its own in RESULTS.md."""
    setups: list[Setup] = []
    work = b.fresh("w8")
    for workers in (*b.sizes.scale_out_workers, 0):
        print(f"  W8 {workers or 'embedded'}: {b.sizes.scale_out_syncs} syncs, "
              f"{b.sizes.scale_out_rounds} round(s) …", flush=True)  # fmt: skip
        try:
            setups.append(measure_setup(workers, b.sizes.scale_out_syncs,
                                        b.sizes.scale_out_rounds, work))  # fmt: skip
        except Exception as exc:  # one setup that breaks must not hide the others
            name = f"{workers} worker(s)" if workers else "the embedded default"
            b.notes.append(f"W8 with {name} did not complete: {exc}; its logs are in {work}")
            continue
        print(f"  {row(setups[-1])}", flush=True)
    if not setups:
        return
    b.sections.append("\n".join(table(setups)))


def measure_setup(workers: int, syncs: int, rounds: int, work: Path) -> Setup:
    """One setup: ``workers`` Celery workers and a scheduler, or 0 for ``syncline serve``."""
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    logs = work / (f"workers-{workers}" if workers else "embedded")  # kept: the processes' logs
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    with (
        postgres_database("syncline_bench") as database,
        SandboxServer([Account(a, {PASSCODE}) for a in ACCOUNTS]) as sandbox,
        broker("redis") as queue,
    ):
        source_url = postgres_url(database)
        make_warehouse(source_url, syncs)
        root = logs / "project"
        root.mkdir()
        write_project(root, database, sandbox.url, syncs)
        env = {**os.environ, "SYNCLINE_SECRET_KEY": SECRET, "CLEVERTAP_PASSCODE": PASSCODE}
        for name in ("SYNCLINE_STATE_URL", "SYNCLINE_BROKER_URL", "SYNCLINE_QUEUE"):
            env.pop(name, None)
        if workers:
            env.update(SYNCLINE_STATE_URL=source_url, SYNCLINE_BROKER_URL=queue.url,
                       SYNCLINE_QUEUE=queue.queue)  # fmt: skip
            state_url = source_url
        else:
            state_url = f"sqlite:///{root / '.syncline' / 'state.db'}"
        apply(root, env)
        harness_before = _own_cpu()
        if workers:
            worker_logs = [logs / f"worker{i}.log" for i in range(workers)]
            runners = [spawn(["worker", "--project", str(root), "--concurrency", "2"], env, log)
                       for log in worker_logs]  # fmt: skip
            others: list[Process] = []
            try:
                wait_ready(runners, worker_logs)
                others = [spawn(["scheduler", "--project", str(root)], env, logs / "s.log")]
                start_up = _wait_done(state_url, syncs, rounds, runners, others, logs)
                cpu = sum(cpu_seconds(p.pid) for p in runners) - start_up
            finally:
                stop(others)
                stop(runners)
        else:
            # port 0: nothing here calls its API (the state store says when runs end)
            runners = [spawn(["serve", "--project", str(root), "--port", "0"],
                             env, logs / "serve.log")]  # fmt: skip
            try:
                start_up = _wait_done(state_url, syncs, rounds, runners, [], logs)
                cpu = sum(cpu_seconds(p.pid) for p in runners) - start_up
            finally:
                stop(runners)
        harness = _own_cpu() - harness_before
        figures = _figures(state_url, rounds, fired=bool(workers))
    return Setup(workers, syncs, rounds, figures.runs, figures.succeeded, figures.drains,
                 figures.lags, figures.fire_lag_max, runner_cpu_s=cpu, harness_cpu_s=harness,
                 load=(load_before, os.getloadavg()[0]),
                 wall_s=time.perf_counter() - started)  # fmt: skip


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime



def _wait_done(state_url: str, syncs: int, rounds: int, runners: list[Process],
               others: list[Process], logs: Path) -> float:  # fmt: skip
    """Wait until every sync's first ``rounds`` scheduled runs have ended (the first
    ``rounds`` minutes' backlogs: a sync's runs take its lease one after another); answer the
    runners' CPU seconds before the first run started (their start-up, not the runs' cost).

    The last round falls due ``rounds - 1`` minutes after the first; it then has three minutes
    more to drain. A setup that needs longer cannot keep the schedule: it is measured as it
    stands (the table's *runs succeeded* shows how many of the due runs had ended).
    """
    deadline = time.monotonic() + (rounds + 2) * MINUTE
    store = StateStore(state_url)  # `apply` created it: this only reads
    start_up = 0.0
    try:
        while time.monotonic() < deadline:
            for process in runners + others:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args} exited with {process.returncode}; see "
                                       f"{logs}")  # fmt: skip
            cpu = sum(cpu_seconds(p.pid) for p in runners)
            with store.engine.connect() as conn:
                per_sync = conn.execute(
                    sa.select(t.runs.c.sync, sa.func.count()).where(
                        t.runs.c.trigger == "schedule", t.runs.c.status != "running"
                    ).group_by(t.runs.c.sync)).all()  # fmt: skip
                started = conn.execute(sa.select(sa.func.count()).select_from(t.runs).where(
                    t.runs.c.trigger == "schedule")).scalar()  # fmt: skip
            if not started:
                start_up = cpu
            if sum(1 for _, ended in per_sync if ended >= rounds) >= syncs:
                break
            time.sleep(0.5)
        return start_up  # past the deadline, the table shows how many runs had ended
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class _Figures:
    runs: int
    succeeded: int
    drains: tuple[float, ...]
    lags: tuple[float, ...]
    fire_lag_max: float | None


def _figures(state_url: str, rounds: int, fired: bool) -> _Figures:
    """Drain, lag and run counts of the first ``rounds`` minutes, from the state store."""
    store = StateStore(state_url)
    with store.engine.connect() as conn:
        runs = list(conn.execute(sa.select(t.runs).where(t.runs.c.trigger == "schedule")
                                 .order_by(t.runs.c.id)))  # fmt: skip
        fires = list(conn.execute(sa.select(t.schedule_fires))) if fired else []
    store.close()
    due_of = {f.run_id: f.due_at for f in fires if f.run_id is not None}
    if not fired:  # embedded: every sync fell due when the server started, then each minute
        start = min((r.started_at for r in runs), default=None)
        by_sync: dict[str, list[sa.Row[tuple[object, ...]]]] = defaultdict(list)
        for run in runs:
            by_sync[run.sync].append(run)
        for sync_runs in by_sync.values():
            for k, run in enumerate(sync_runs):
                due_of[run.id] = start + timedelta(minutes=k)
    first = min(due_of.values(), default=None)
    kept: dict[int, list[tuple[datetime, sa.Row[tuple[object, ...]]]]] = defaultdict(list)
    for run in runs:
        due = due_of.get(run.id)
        if due is None or first is None or run.finished_at is None:
            continue
        index = round((due - first).total_seconds() / MINUTE)
        if index < rounds:
            kept[index].append((due, run))
    measured = [(due, run) for pairs in kept.values() for due, run in pairs]
    drains = tuple((max(r.finished_at for _, r in pairs) - min(d for d, _ in pairs))
                   .total_seconds() for _, pairs in sorted(kept.items()))  # fmt: skip
    fire_lags = [(f.fired_at - f.due_at).total_seconds() for f in fires
                 if first is not None and f.due_at < first + timedelta(minutes=rounds)]
    return _Figures(runs=len(measured),
                    succeeded=sum(1 for _, r in measured if r.status == "succeeded"),
                    drains=drains,
                    lags=tuple((r.started_at - due).total_seconds() for due, r in measured),
                    fire_lag_max=max(fire_lags) if fired and fire_lags else None)


def _pct(values: Iterable[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


HEAD = ("| setup | runs succeeded | drain per minute's backlog (s) | capacity (runs/min) "
        "| start lag p50 / p95 / max (s) | fire lag max (s) | runner CPU-s per run "
        "| harness CPU-s per run | CPU-bound ceiling (runs/min) | load avg before → after "
        "| wall s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip


def row(s: Setup) -> str:
    lags = f"{_pct(s.lags, 0.5):.1f} / {_pct(s.lags, 0.95):.1f} / {_pct(s.lags, 1):.1f}"
    fire = f"{s.fire_lag_max:.2f}" if s.fire_lag_max is not None else "n/a"
    drains = ", ".join(f"{d:.1f}" for d in s.drains)
    cells = [s.name, f"{s.succeeded} / {s.syncs * s.rounds}", drains, f"{s.capacity:.0f}", lags,
             fire, f"{s.runner_cpu_per_run:.2f}", f"{s.harness_cpu_s / max(s.runs, 1):.2f}",
             f"{s.ceiling:.0f}", f"{s.load[0]:.1f} → {s.load[1]:.1f}", f"{s.wall_s:.0f}"]
    return "| " + " | ".join(cells) + " |"


def table(setups: list[Setup]) -> list[str]:
    """W8's section of RESULTS.md: the conditions, the table, what each column means."""
    s0 = setups[0]
    return [
        "## Scale-out (W8)",
        "",
        f"{s0.syncs} profile syncs on `every 1m` over 3 sandbox accounts, all due at the same "
        f"instant: each minute is a backlog of {s0.syncs} runs, for {s0.rounds} minute(s) per "
        "setup. Workers: `syncline worker --concurrency 2` (threads) each, one `syncline "
        "scheduler`, Redis, PostgreSQL (warehouse and state store); embedded: one `syncline "
        "serve` (SQLite state store, one thread per run) on the same warehouse. Every process, "
        f"PostgreSQL, Redis and the sandbox share this machine's {os.cpu_count()} CPUs (and, "
        "when the load average is above that, other work).",
        "",
        HEAD,
        *(row(s) for s in setups),
        "",
        "*capacity*: the runs of all the minutes measured over the time spent draining their "
        "backlogs (each minute's due instant to its last run's end): what the setup gets "
        "through while runs wait, not the schedule's own rate. *start lag*: a run's start minus "
        "its due instant: the wait in the backlog (embedded, which records no due instants: "
        "from the first run's start, when its scheduler fired, plus whole minutes). *fire "
        "lag*: how late the scheduler recorded the due run. *runner CPU-s*: the worker "
        "processes' (embedded: the server's) user + system CPU per run, from the first run on "
        "(start-up left out); *harness*: this process's, where the sandbox answers every "
        "upload; the scheduler process's and PostgreSQL's CPU are not counted. *CPU-bound "
        "ceiling*: the machine's cores over the runner CPU per run: no setup on this machine "
        "drains faster than that, however many workers it has.",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,3", help="worker counts, e.g. 1,2,3")
    parser.add_argument("--syncs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="minutes measured per setup")
    parser.add_argument("--embedded", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    if (why := available()) is not None:
        print(why, file=sys.stderr)
        return 1
    counts = [int(n) for n in args.workers.split(",") if n] + ([0] if args.embedded else [])
    work = Path(__file__).parent / ".work" / "w8"  # each setup's logs stay there
    setups = []
    for n in counts:
        setups.append(measure_setup(n, args.syncs, args.rounds, work))
        print(row(setups[-1]), flush=True)
    print("\n".join(table(setups)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
