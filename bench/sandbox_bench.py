"""Benchmark the sandbox on its own: records/s and the server process's CPU seconds.

Run: ``.venv/bin/python -m bench.sandbox_bench [--quick]``. The sandbox runs in its own process
(``python -m syncline_sandbox`` with ``--data`` in a temp dir) so its CPU is measured apart from
the load generator's; batches are pre-encoded so the client side stays cheap.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

AUTH = {"X-CleverTap-Account-Id": "BENCH", "X-CleverTap-Passcode": "bench",
        "Content-Type": "application/json"}  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (psutil is not installed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def batches(kind: str, count: int, size: int) -> list[bytes]:
    out = []
    for b in range(count):
        if kind == "profile":
            d = [{"type": "profile", "identity": f"u{b}-{i}", "ts": 1_700_000_000,
                  "profileData": {"Name": f"User {i}", "Email": f"u{i}@example.com",
                                  "Phone": "+14155551234", "Gender": "F", "Score": i}}
                 for i in range(size)]  # fmt: skip
        else:
            d = [{"type": "event", "identity": f"u{i}", "evtName": "Product viewed",
                  "ts": 1_700_000_000, "evtData": {"Product": f"p{i}", "Price": 9.99}}
                 for i in range(size)]  # fmt: skip
        out.append(orjson.dumps({"d": d}))
    return out


def run(url: str, bodies: list[bytes], threads: int) -> float:
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:

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
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds)")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    count, size = (4, 200) if args.quick else (40, 1000)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        cmd = [sys.executable, "-m", "syncline_sandbox", "--port", str(port), "--data", data,
               "--account", "BENCH:bench", "--log-level", "warning"]  # fmt: skip
        proc = subprocess.Popen(cmd)
        try:
            wait_ready(url, proc)
            rows = []
            for kind in ("profile", "event"):
                bodies = batches(kind, count, size)
                cpu0 = cpu_seconds(proc.pid)
                wall = run(url, bodies, args.threads)
                cpu = cpu_seconds(proc.pid) - cpu0
                n = count * size
                rows.append((kind, n, wall, n / wall, cpu, n / cpu if cpu else float("inf")))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print("| kind | records | wall s | records/s | sandbox CPU s | records per CPU-s |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, n, wall, rate, cpu, per_cpu in rows:
        print(f"| {kind} | {n:,} | {wall:.2f} | {rate:,.0f} | {cpu:.2f} | {per_cpu:,.0f} |")


if __name__ == "__main__":
    main()
