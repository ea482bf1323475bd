"""The five workloads. Each appends ``Result``s and notes to a shared ``Bench``.

Syncline always runs as ``syncline run|plan SYNC --json`` in a child process (measured with
wait4); the receiver is a fresh sandbox per workload (in memory), or the minimal sink where a
big initial load only has to establish the snapshot.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench import datagen, peers
from bench import project as sl
from bench.measure import Measured
from bench.results import Result
from bench.servers import Receiver, ReceiverUse

__all__ = [
    "Bench",
    "Sizes",
    "ideal",
    "run_syncline",
    "w1_w2_profiles",
    "w2_large",
    "w3_events",
    "w5_latency",
]


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int = 1_000_000
    large: int = 10_000_000
    orders: int = 1_000_000
    postgres: int = 1_000_000
    latency: int = 500_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(users=5_000, large=20_000, orders=5_000, postgres=5_000, latency=5_000)


@dataclass
class Bench:
    work: Path
    sizes: Sizes
    peers: bool
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)
    """Figures the targets are checked against (``w1_cpu_per_m``, ``w2_plan_s``, ...)."""

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def add(self, result: Result) -> Result:
        self.results.append(result)
        print(
            f"  {result.workload} {result.tool} {result.step}: {result.sent:,} sent in "
            f"{result.wall_s:.1f}s, {result.cpu_s:.1f} CPU-s, {result.rss_mb:.0f} MB",
            flush=True,
        )
        return result


def run_syncline(
    b: Bench,
    rx: Receiver,
    wl: str,
    step: str,
    rows: int,
    proj: Path,
    sync: str,
    plan: bool = False,
    extra: tuple[str, ...] = (),
    **kw: object,
) -> Result:
    """Optionally time ``syncline plan``, then measure ``syncline run`` against ``rx``."""
    plan_s = sl.syncline("plan", sync, proj, rx.url).wall_s if plan else None
    rx.mark()
    m = sl.syncline("run", sync, proj, rx.url, *extra)
    s = sl.summary(m)
    if s.get("status") != "succeeded" or s.get("failed") or s.get("rejected"):
        b.notes.append(
            f"{wl} {step}: status {s.get('status')}, rejected {s.get('rejected')}, "
            f"failed {s.get('failed')}: {s.get('error')}"
        )
    use = rx.since_mark()
    kw.setdefault("delivery_s", s.get("delivery_s") or None)
    if use.refused:
        b.notes.append(f"{wl} {step}: {use.refused} uploads refused with 429 (over 15 in flight)")
    return b.add(Result.of(wl, "Syncline", step, rows, m, use, plan_s=plan_s, **kw))


def _peers_run(
    b: Bench, rx: Receiver, kind: peers.PeerKind, db: Path, lite: Path, state: Path, cursor: bool
) -> dict[str, tuple[Measured, ReceiverUse]]:
    """Run drt then dlt against ``rx``; answer each one's measurement and records received."""
    out: dict[str, tuple[Measured, ReceiverUse]] = {}
    rx.mark()
    drt_project = state / "drt"
    if not (drt_project / "drt_project.yml").exists():
        peers.write_drt_project(drt_project, db, rx.url, kind, cursor=cursor)
    m = peers.drt_run(b.work, drt_project)
    out["drt"] = (m, rx.since_mark())
    rx.mark()
    m2 = peers.dlt_run(b.work, state / "dlt", lite, rx.url, kind, cursor=cursor)
    out["dlt"] = (m2, rx.since_mark())
    for tool, (mm, _) in out.items():
        if mm.returncode != 0:
            b.notes.append(f"{tool} ({kind}) exited {mm.returncode}: {mm.stderr[-300:]!r}")
    return out


def _add_peers(
    b: Bench, wl: str, step: str, rows: int, runs: dict[str, tuple[Measured, ReceiverUse]]
) -> None:
    for tool, (m, use) in runs.items():
        b.add(Result.of(wl, tool, step, rows, m, use))


def w1_w2_profiles(b: Bench) -> None:
    """W1 (initial 1M profiles, Syncline vs peers) and W2 at 1M (1% changed, nothing changed)."""
    n = b.sizes.users
    wl = f"W2 ({size(n)})"
    d = b.fresh("w1")
    db, lite = d / "warehouse.duckdb", d / "warehouse.sqlite"
    datagen.make_users(db, n)
    proj = sl.write_project(
        d / "syncline", {"type": "duckdb", "path": str(db)}, {"users": sl.profile_sync()}
    )
    with Receiver("sandbox") as rx:
        r = run_syncline(b, rx, "W1", "initial run", n, proj, "users")
        b.facts["w1_rate"], b.facts["w1_cpu_per_m"] = r.rate, r.cpu_per_million
        if b.peers:
            datagen.to_sqlite(db, "users", lite)
            runs = _peers_run(b, rx, "profile", db, lite, d / "peers", cursor=True)
            _add_peers(b, "W1", "initial run", n, runs)
            b.facts["w1_peer_rate"] = max(u.records / m.wall_s for m, u in runs.values())
        changed = datagen.change_users(db, 1, 1)
        r = run_syncline(b, rx, wl, "run, 1% changed", n, proj, "users", plan=True)
        r.ideal = ideal(r.sent, changed)
        r2 = run_syncline(b, rx, wl, "run, nothing changed", n, proj, "users", plan=True)
        r2.ideal = ideal(r2.sent, 0)
        b.facts["w2_rss_1m"] = max(r.rss_mb, r2.rss_mb)
        if b.peers:
            datagen.to_sqlite(db, "users", lite)
            runs = _peers_run(b, rx, "profile", db, lite, d / "peers", cursor=True)
            _add_peers(b, wl, "run, 1% changed (cursor updated_at)", n, runs)
            for tool, (_, use) in runs.items():
                b.notes.append(
                    f"W2: {tool} has no diff; with its cursor on `updated_at` it sent "
                    f"{use.records:,} records for {changed:,} changed rows; without a cursor "
                    f"column it re-sends all {n:,} (its W1 row)."
                )


def size(n: int) -> str:
    """1M, 10M, 5k: the size in a workload's label."""
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def ideal(sent: int, changed: int) -> str:
    """Records sent over records that had to be sent (1.00 = exactly the changed rows)."""
    if changed == 0:
        return "ideal 0 sent" if sent == 0 else f"{sent:,} sent, ideal 0"
    return f"{sent / changed:.2f}× ({changed:,} changed)"


def w2_large(b: Bench) -> None:
    """W2 at 10M: load the snapshot through the minimal sink, change 1%, plan and run."""
    n = b.sizes.large
    wl = f"W2 ({size(n)})"
    d = b.fresh("w2")
    db = d / "warehouse.duckdb"
    datagen.make_users(db, n)
    proj = sl.write_project(
        d / "syncline", {"type": "duckdb", "path": str(db)}, {"users": sl.profile_sync()}
    )
    with Receiver("sink") as sink:
        run_syncline(b, sink, wl, "initial load → minimal sink", n, proj, "users")
    changed = datagen.change_users(db, 1, 1)
    with Receiver("sandbox") as rx:
        r = run_syncline(b, rx, wl, "run, 1% changed", n, proj, "users", plan=True)
        r.ideal = ideal(r.sent, changed)
        b.facts["w2_plan_s"] = r.plan_s or 0.0
        b.facts["w2_rss_10m"] = r.rss_mb
        r = run_syncline(b, rx, wl, "run, nothing changed", n, proj, "users", plan=True)
        r.ideal = ideal(r.sent, 0)
        b.facts["w2_nothing_s"] = r.wall_s
        b.facts["w2_rss_10m"] = max(b.facts["w2_rss_10m"], r.rss_mb)


def w3_events(b: Bench) -> None:
    """W3: 1M orders as Charged events with Items, Syncline vs peers."""
    n = b.sizes.orders
    d = b.fresh("w3")
    db, lite = d / "warehouse.duckdb", d / "warehouse.sqlite"
    datagen.make_orders(db, n, b.sizes.users)
    proj = sl.write_project(
        d / "syncline", {"type": "duckdb", "path": str(db)}, {"orders": sl.event_sync()}
    )
    with Receiver("sandbox") as rx:
        r = run_syncline(b, rx, "W3", "initial run (events)", n, proj, "orders")
        b.facts["w3_rate"] = r.rate
        if b.peers:
            datagen.to_sqlite(db, "orders", lite)
            runs = _peers_run(b, rx, "event", db, lite, d / "peers", cursor=False)
            _add_peers(b, "W3", "initial run (events)", n, runs)
            b.facts["w3_peer_rate"] = max(u.records / m.wall_s for m, u in runs.values())


def w5_latency(b: Bench) -> None:
    """W5: the sandbox answers each upload after 300 ms; 15 in flight; vs 50,000 records/s."""
    n = b.sizes.latency
    d = b.fresh("w5")
    db = d / "warehouse.duckdb"
    datagen.make_users(db, n)
    proj = sl.write_project(
        d / "syncline",
        {"type": "duckdb", "path": str(db)},
        {"users": sl.profile_sync(in_flight=15)},
    )
    with Receiver("sandbox", latency_ms=300) as rx:
        r = run_syncline(b, rx, "W5", "sandbox, 300 ms latency, 15 in flight", n, proj, "users")
    r.ideal = _w5_share(r)
    b.facts["w5_share"] = r.rate / 50_000
    if r.delivery_s:
        b.facts["w5_delivery_share"] = r.sent / r.delivery_s / 50_000
    # The same delivery against the minimal sink (latency and the 15-in-flight rule only):
    # what the engine reaches when the receiver costs nothing.
    with Receiver("sink", latency_ms=300) as sink:
        step = "minimal sink, 300 ms latency, --full"
        r = run_syncline(b, sink, "W5", step, n, proj, "users", extra=("--full",))
    r.ideal = _w5_share(r)


def _w5_share(r: Result) -> str:
    """Share of the 50,000/s ceiling end to end, and while delivering (first upload to last
    answer, as the run's summary reports it): start-up and the plan are not delivery."""
    text = f"{r.rate / 50_000:.0%} of 50,000/s end to end"
    if r.delivery_s:
        text += f"; {r.sent / r.delivery_s / 50_000:.0%} while delivering ({r.delivery_s:.2f} s)"
    return text
