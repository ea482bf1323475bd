"""``python -m bench.soak [--quick]``: crash-and-fault soak of event syncs (not run in CI).

Each round appends new orders to the warehouse and starts ``syncline run orders`` in its own
process while the sandbox injects 5xx answers, 429s and dropped connections; most rounds are
killed with SIGKILL at a random moment. A last run, faults off, settles what was left. Then
the soak checks Syncline's promises for events (policy ``in_doubt: skip``):

- no order reached CleverTap twice (duplicates: must be 0);
- every order missing at CleverTap was reported in doubt (losses outside the in-doubt set: 0);
- the counts of every run that ended add up: planned = sent + failed + in doubt + rejected
  locally, sent = accepted + rejected by CleverTap;
- no upload was refused for going beyond 15 in flight (the sandbox's ``throttled``).

The full size is 30 rounds of 50,000 events; ``--quick`` (3 rounds of 2,000) only shows the
harness works. The report goes to stdout (and ``--out``); the exit code is 1 if a check failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson

from bench.project import write_project
from bench.servers import ACCOUNT, PASSCODE
from syncline.store import StateStore
from syncline_sandbox.accounts import Account
from syncline_sandbox.faults import Faults
from syncline_sandbox.testing import SandboxServer

__all__ = ["Sizes", "SoakResult", "main", "soak"]

SYNC = "orders"


@dataclass(frozen=True)
class Sizes:
    rounds: int = 30
    events: int = 50_000
    batch_size: int = 1000
    kill_share: float = 0.8
    """Share of the rounds killed at a random moment (the others run to their end)."""
    faults: Faults = field(default_factory=lambda: Faults(
        latency_ms=20, error_rate=0.02, burst_429=41, drop_rate=0.01, seed=11))


QUICK = Sizes(rounds=3, events=2_000, batch_size=100, kill_share=0.67,
              faults=Faults(latency_ms=30, error_rate=0.03, burst_429=7, drop_rate=0.03, seed=11))


@dataclass
class SoakResult:
    rows: int = 0
    delivered: int = 0
    duplicates: int = 0
    in_doubt: int = 0
    missing: int = 0
    lost_outside_in_doubt: int = 0
    killed: int = 0
    finished: int = 0
    throttled: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    bad_counts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.duplicates == 0 and self.lost_outside_in_doubt == 0 and not self.bad_counts
                and self.throttled == 0)  # fmt: skip

    def report(self, sizes: Sizes) -> str:
        def mark(good: bool) -> str:
            return "ok" if good else "**FAILED**"

        lines = [
            f"# Crash-and-fault soak: {sizes.rounds} event runs of {sizes.events:,} events",
            "",
            f"- rounds killed with SIGKILL: {self.killed}, run to their end: {self.finished} "
            f"(plus one settling run), {self.seconds:.0f} s in all",
            f"- uploads tried, and faults injected among them: {self.faults}",
            f"- orders in the warehouse: {self.rows:,}; at CleverTap: {self.delivered:,}",
            f"- duplicates: {self.duplicates} → {mark(self.duplicates == 0)}",
            f"- reported in doubt: {self.in_doubt:,}; missing at CleverTap: {self.missing:,}, "
            f"of which outside the in-doubt set: "
            f"{self.lost_outside_in_doubt} → {mark(self.lost_outside_in_doubt == 0)}",
            f"- counts that do not add up: {len(self.bad_counts)} → {mark(not self.bad_counts)}",
            *[f"  - {bad}" for bad in self.bad_counts[:20]],
            f"- uploads refused for > 15 in flight (`throttled`): {self.throttled} → "
            f"{mark(self.throttled == 0)}",
            "",
            f"Result: {'all checks passed' if self.ok else 'FAILED'}",
        ]
        return "\n".join(lines) + "\n"


def _project(root: Path, sizes: Sizes) -> None:
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("CREATE TABLE orders (order_id BIGINT, user_id VARCHAR, amount DOUBLE)")
    sync = {
        "source": "warehouse", "model": {"table": "main.orders"}, "destination": "clevertap",
        "object": "event", "sync_key": "order_id", "identity_column": "user_id",
        "event_name": "Order", "in_flight": 15, "batch_size": sizes.batch_size,
        "in_doubt": "skip",
        "mappings": {"columns": [{"from": "order_id", "to": "order_id", "type": "number"},
                                 {"from": "amount", "to": "amount", "type": "number"}]},
    }  # fmt: skip
    write_project(root, {"type": "duckdb", "path": "warehouse.duckdb"}, {SYNC: sync})


def _add_orders(root: Path, first: int, count: int) -> None:
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute(f"INSERT INTO orders SELECT i, 'u' || (i % 5000)::VARCHAR, (i % 997) / 10.0 "
                    f"FROM range({first}, {first + count}) t(i)")  # fmt: skip


def _start(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "syncline", "run", SYNC, "--project", str(root), "--json"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _kill_while_delivering(proc: subprocess.Popen[bytes], sandbox: SandboxServer,
                           after_s: float) -> None:
    """SIGKILL ``proc`` ``after_s`` seconds after its first upload reached the sandbox."""
    plan = sandbox.state.plan(ACCOUNT)
    seen = plan.uploads
    while proc.poll() is None and plan.uploads == seen:
        time.sleep(0.005)
    deadline = time.monotonic() + after_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)


def _finish(proc: subprocess.Popen[bytes]) -> dict[str, Any] | None:
    out, _ = proc.communicate()
    try:
        data: dict[str, Any] = orjson.loads(out)
    except orjson.JSONDecodeError:
        return None
    return data


def _check_counts(summary: dict[str, Any]) -> str | None:
    """Why a finished run's counts do not add up, or None."""
    planned = summary["planned"]["new"] + summary["planned"]["changed"]
    sent, accepted, rejected = summary["sent"], summary["accepted"], summary["rejected"]
    rejected_locally = rejected - (sent - accepted)
    ends = sent + summary["failed"] + summary["in_doubt"] + rejected_locally
    if summary["status"] == "succeeded" and ends != planned:
        return f"run {summary['run_id']}: planned {planned} but sent+failed+in doubt+" \
               f"rejected locally = {ends}"  # fmt: skip
    if rejected_locally < 0 or ends > planned:
        return f"run {summary['run_id']}: more records accounted for ({ends}) than planned " \
               f"({planned})"  # fmt: skip
    return None


def soak(work: Path, sizes: Sizes, *, seed: int = 20261202) -> SoakResult:
    """Run the soak in ``work`` (a new folder) and answer what it found."""
    started = time.monotonic()
    rng = random.Random(seed)
    root = work / "project"
    root.mkdir(parents=True)
    _project(root, sizes)
    result = SoakResult()
    with SandboxServer([Account(ACCOUNT, {PASSCODE})], data_dir=work / "sandbox") as sandbox:
        # dropped connections are faults we inject: uvicorn's complaint about each is noise here
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        env = {**os.environ, "CLEVERTAP_ENDPOINT": sandbox.url, "BENCH_PASSCODE": PASSCODE,
               "SYNCLINE_RETRY_BASE_DELAY_S": "0.05", "SYNCLINE_RETRY_MAX_DELAY_S": "1"}
        env.pop("SYNCLINE_STATE_URL", None)
        sandbox.set_faults(ACCOUNT, sizes.faults)
        delivery_s = sizes.events / 5_000  # a round's delivery; learnt from the rounds that end
        for number in range(sizes.rounds):
            _add_orders(root, 1 + number * sizes.events, sizes.events)
            proc = _start(root, env)
            if rng.random() < sizes.kill_share:
                _kill_while_delivering(proc, sandbox, rng.uniform(0, delivery_s))
            summary = _finish(proc)
            if proc.returncode == -signal.SIGKILL:
                result.killed += 1
                continue
            result.finished += 1
            if summary is not None and summary.get("delivery_s"):
                delivery_s = 0.5 * delivery_s + 0.5 * float(summary["delivery_s"])
            if summary is not None and (bad := _check_counts(summary)) is not None:
                result.bad_counts.append(bad)
        plan = sandbox.state.plan(ACCOUNT)
        result.faults = {"uploads": plan.uploads, **dict(sorted(plan.injected.items()))}
        sandbox.set_faults(ACCOUNT, Faults())
        final = _finish(_start(root, env))
        if final is None or final["status"] != "succeeded":
            result.bad_counts.append(f"the settling run did not succeed: {final}")
        elif (bad := _check_counts(final)) is not None:
            result.bad_counts.append(bad)
        result.throttled = int(sandbox.stats(ACCOUNT)["throttled"])
    result.rows = sizes.rounds * sizes.events
    _compare(result, work / "sandbox" / "sandbox.sqlite3", root)
    result.seconds = time.monotonic() - started
    return result


def _compare(result: SoakResult, sandbox_db: Path, root: Path) -> None:
    """Duplicates and losses: the sandbox's stored events against the warehouse and in-doubt."""
    with sqlite3.connect(sandbox_db) as con:
        counts = dict(con.execute(
            "SELECT CAST(json_extract(data, '$.order_id') AS INTEGER), count(*) FROM events "
            "GROUP BY 1").fetchall())  # fmt: skip
    result.delivered = len(counts)
    result.duplicates = sum(c - 1 for c in counts.values() if c > 1)
    store = StateStore(f"sqlite:///{root / '.syncline' / 'state.db'}")
    try:
        in_doubt = {int(k.sync_key) for run in store.runs(SYNC, limit=1_000_000)
                    for k in store.in_doubt(run.id)}  # fmt: skip
    finally:
        store.close()
    result.in_doubt = len(in_doubt)
    missing = set(range(1, result.rows + 1)) - counts.keys()
    result.missing = len(missing)
    result.lost_outside_in_doubt = len(missing - in_doubt)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak",
                                     description="Crash-and-fault soak of event syncs.")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2,000 events")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--events", type=int, help="override the events per round")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--work", type=Path, help="folder for the run (default: a temporary one)")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.rounds or args.events:
        sizes = Sizes(rounds=args.rounds or sizes.rounds, events=args.events or sizes.events,
                      batch_size=sizes.batch_size, kill_share=sizes.kill_share,
                      faults=sizes.faults)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="syncline-soak-") as tmp:
        work = args.work or Path(tmp)
        result = soak(work / f"soak-{int(time.time())}", sizes, seed=args.seed)
    text = result.report(sizes)
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
