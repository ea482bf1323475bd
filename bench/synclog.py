"""W6: what the sync log costs. The same 1M-profile initial run to the minimal sink, once
without and once with ``sync_log`` (one row per record written into the DuckDB warehouse); the
issue's bound is 10% slower at most. Each variant gets a fresh project and a fresh sink."""

from __future__ import annotations

from bench import datagen
from bench import project as sl
from bench.servers import Receiver
from bench.workloads import Bench, run_syncline, size


def w6_sync_log(b: Bench) -> None:
    """W6: a 1M initial profile run with and without the sync log."""
    n = b.sizes.users
    wl = f"W6 ({size(n)})"
    results = {}
    for variant, enabled in (("without sync log", False), ("with sync log", True)):
        d = b.fresh(f"w6_{int(enabled)}")
        db = d / "warehouse.duckdb"
        datagen.make_users(db, n)
        spec = sl.profile_sync()
        spec["sync_log"] = {"enabled": enabled}
        proj = sl.write_project(d / "syncline", {"type": "duckdb", "path": str(db)},
                                {"users": spec})
        with Receiver("sink") as sink:
            results[enabled] = run_syncline(b, sink, wl, f"initial run, {variant}", n, proj,
                                            "users")
    b.facts["w6_wall_ratio"] = results[True].wall_s / results[False].wall_s
    b.facts["w6_cpu_ratio"] = results[True].cpu_s / results[False].cpu_s
