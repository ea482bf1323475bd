"""Benchmark the sandbox on its own: records/s and the server process's CPU seconds.

Run: ``.venv/bin/python -m bench.sandbox_bench [--quick] [--records N] [--data]``. The sandbox
runs in its own process (``python -m syncline_sandbox``, in memory like ``bench/servers.py``
unless ``--data``) so its CPU is measured apart from the load generator's. Records have the
shapes the engine sends in W1 (profiles, 9 properties) and W3 (Charged events with 1–3 Items),
with distinct identities for profiles and repeated ones for events (as W3's orders of 1M users);
bodies are pre-encoded and posted 15 in flight so the client side stays cheap.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from syncline_sandbox.testing import listening_port

AUTH = {"X-CleverTap-Account-Id": "BENCH-ACC", "X-CleverTap-Passcode": "bench-pass",
        "Content-Type": "application/json"}  # fmt: skip
BATCH = 1000


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (psutil is not installed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(i: int) -> dict[str, Any]:
    """A W1 record as the engine builds it (dates as ``$D_`` epoch seconds)."""
    return {"identity": f"u{i}", "type": "profile", "profileData": {
        "Name": f"User {i}", "Email": f"user{i}@example.com", "Phone": f"+1415{i % 10**7:07d}",
        "Gender": "MF"[i % 2], "city": ("Paris", "Berlin", "Mumbai")[i % 3],
        "plan": ("free", "pro", "team")[i % 3], "score": (i * 7919 % 100000) / 100,
        "signup_date": f"$D_{1577836800 + i % 1500 * 86400}",
        "updated_at": f"$D_{1704067200 + i}"}}  # fmt: skip


def charged(i: int, users: int) -> dict[str, Any]:
    """A W3 record: a Charged event of one of ``users`` users with 1–3 Items."""
    h = i * 2654435761 % 2**32
    items = [{"product_id": f"p{(h + k) % 5000}", "name": f"Product {(h + k) % 5000}",
              "price": ((h + k) % 10000) / 100, "quantity": 1 + (h + k) % 4}
             for k in range(1 + h % 3)]  # fmt: skip
    return {"identity": f"u{h % users}", "type": "event", "evtName": "Charged",
            "ts": 1735689600 + h % 31536000,
            "evtData": {"Transaction Value": (h % 50000) / 100, "Currency": "USD",
                        "Discount Applied": h % 4 == 0, "Items": items}}  # fmt: skip


def batches(kind: str, records: int) -> list[bytes]:
    make = profile if kind == "profile" else (lambda i: charged(i, records))
    return [
        orjson.dumps({"d": [make(i) for i in range(start, min(start + BATCH, records))]})
        for start in range(0, records, BATCH)
    ]


def run(url: str, bodies: list[bytes], threads: int) -> float:
    limits = httpx.Limits(max_connections=threads)
    with httpx.Client(base_url=url, headers=AUTH, timeout=120, limits=limits) as client:

        def post(body: bytes) -> None:
            r = client.post("/1/upload", content=body)
            r.raise_for_status()
            assert r.json()["status"] == "success", r.text[:200]

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(post, bodies))
        return time.perf_counter() - started


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the sandbox exited before it was ready")
        try:
            if httpx.get(f"{url}/v1/connect", headers=AUTH).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not become ready in 20 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny run (20,000 records a kind)")
    parser.add_argument("--records", type=int, default=1_000_000, help="records of each kind")
    parser.add_argument("--threads", type=int, default=15, help="uploads in flight")
    parser.add_argument("--data", action="store_true", help="SQLite file instead of memory")
    parser.add_argument("--kinds", default="profile,event")
    args = parser.parse_args()
    records = 20_000 if args.quick else args.records
    with tempfile.TemporaryDirectory() as data:
        # port 0: the sandbox binds a free port and says which (`listening_port`)
        cmd = [sys.executable, "-m", "syncline_sandbox", "--port", "0",
               "--account", "BENCH-ACC:bench-pass:eu1"]  # fmt: skip
        if args.data:
            cmd += ["--data", data]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{listening_port(proc)}"
            wait_ready(url, proc)
            rows = []
            for kind in args.kinds.split(","):
                bodies = batches(kind, records)
                cpu0 = cpu_seconds(proc.pid)
                wall = run(url, bodies, args.threads)
                cpu = cpu_seconds(proc.pid) - cpu0
                rows.append((kind, records, wall, records / wall, cpu))
            stats = httpx.get(f"{url}/_sandbox/accounts/BENCH-ACC/stats").json()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print("| kind | records | wall s | records/s | sandbox CPU s | CPU s per 1M records |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, n, wall, rate, cpu in rows:
        print(f"| {kind} | {n:,} | {wall:.2f} | {rate:,.0f} | {cpu:.2f} | {cpu / n * 1e6:.2f} |")
    print("stats:", {k: v for k, v in stats.items() if k != "events"}, stats.get("events"))


if __name__ == "__main__":
    main()
