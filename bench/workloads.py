"""The workloads. Each appends ``Result``s and notes to a shared ``Bench``.

Syncline always runs as ``syncline run|plan SYNC --json`` in a child process (measured with
wait4). Every tool's initial run in W1 and W3 gets a fresh receiver of its own, once the sandbox
(faithful: validates and stores every record) and once the minimal sink (receiver cost
excluded), so no tool meets profiles another left behind. "DuckDB alone" rows are the physical
anchor (``bench/anchor.py``): the engine's own time for the same JSON or the same diff.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson

from bench import datagen, peers
from bench import project as sl
from bench.measure import run_measured
from bench.results import Result
from bench.servers import Receiver

__all__ = [
    "Bench",
    "Sizes",
    "ideal",
    "run_syncline",
    "size",
    "w1_w2_profiles",
    "w2_large",
    "w3_events",
    "w5_ceiling",
    "w5_latency",
    "w7_scale",
]


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int = 1_000_000
    large: int = 10_000_000
    orders: int = 1_000_000
    postgres: int = 1_000_000
    latency: int = 500_000
    scale: tuple[int, ...] = (1_000_000, 10_000_000, 30_000_000)
    scale_out_workers: tuple[int, ...] = (1, 2, 3)
    """W8: the Celery worker counts measured (the embedded default is measured after them)."""
    scale_out_syncs: int = 40
    scale_out_rounds: int = 2
    """W8: minutes measured per setup, each a backlog of every sync due at once."""

    @classmethod
    def quick(cls) -> Sizes:
        return cls(users=5_000, large=20_000, orders=5_000, postgres=5_000, latency=5_000,
                   scale=(5_000, 10_000, 30_000), scale_out_workers=(1,), scale_out_syncs=4,
                   scale_out_rounds=1)  # fmt: skip


@dataclass
class Bench:
    work: Path
    sizes: Sizes
    peers: bool
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)
    """Figures the targets are checked against (``w1_cpu_per_m``, ``w2_plan_s``, ...)."""
    sections: list[str] = field(default_factory=list)
    """Markdown sections of their own, for figures the results table has no columns for (W8)."""

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


Tool = Literal["Syncline", "drt", "dlt"]
RX_STEP = {"sandbox": "→ sandbox", "sink": "→ minimal sink"}


def run_tool(b: Bench, tool: Tool, rx: Receiver, wl: str, step: str, rows: int,
             kind: peers.PeerKind, db: Path, state: Path, spec: sl.SyncSpec,
             cursor: bool = False) -> Result:  # fmt: skip
    """One tool's run against ``rx``, from the state kept in ``state`` (fresh when it is new).

    Syncline gets its own project there, and a sync named after the folder: on a DuckDB source
    the snapshot lives in the warehouse file (``diff: source``), one table per sync name, so a
    distinct name is a fresh snapshot. drt gets its project (its cursor state stays, the URL
    follows the receiver); dlt its pipeline folder.
    """
    if tool == "Syncline":
        sync = syncline_sync(kind, state)
        proj = state / "syncline"
        if not (proj / "syncline.yml").exists():
            sl.write_project(proj, {"type": "duckdb", "path": str(db)}, {sync: spec})
        return run_syncline(b, rx, wl, step, rows, proj, sync)
    rx.mark()
    if tool == "drt":
        peers.write_drt_project(state / "drt", db, rx.url, kind, cursor=cursor)
        m = peers.drt_run(b.work, state / "drt")
    else:
        m = peers.dlt_run(b.work, state / "dlt", db, rx.url, kind, cursor=cursor)
    if m.returncode != 0:
        b.notes.append(f"{wl} {tool} {step}: exited {m.returncode}: {m.stderr[-300:]!r}")
    return b.add(Result.of(wl, tool, step, rows, m, rx.since_mark()))


def syncline_sync(kind: peers.PeerKind, state: Path) -> str:
    """``users_syncline_sandbox`` and the like: one snapshot per state folder."""
    base = "users" if kind == "profile" else "orders"
    return f"{base}_{state.name.lower().replace('-', '_')}"


def each_tool_fresh(b: Bench, wl: str, step: str, rows: int, kind: peers.PeerKind, db: Path,
                    d: Path, spec: sl.SyncSpec, cursor: bool = False
                    ) -> dict[tuple[str, str], Result]:  # fmt: skip
    """Every tool's initial run, each against its own fresh receiver: the sandbox, then the
    minimal sink (receiver cost excluded). Nobody meets profiles another tool left behind.

    Answers the results by (tool, receiver); each tool's sandbox state stays in
    ``d/<tool>-sandbox`` for the incremental runs that follow.
    """
    tools: list[Tool] = ["Syncline", "drt", "dlt"] if b.peers else ["Syncline"]
    out: dict[tuple[str, str], Result] = {}
    receivers: tuple[Literal["sandbox", "sink"], ...] = ("sandbox", "sink")
    for kind_rx in receivers:
        for tool in tools:
            with Receiver(kind_rx) as rx:
                label, state = f"{step} {RX_STEP[kind_rx]}", d / f"{tool}-{kind_rx}"
                out[tool, kind_rx] = run_tool(b, tool, rx, wl, label, rows, kind, db, state,
                                              spec, cursor)  # fmt: skip
    return out


def w1_w2_profiles(b: Bench) -> None:
    """W1 (initial 1M profiles, every tool, sandbox and sink) and W2 at 1M (1% changed,
    nothing changed), with DuckDB's own JSON writing and bare diff as the anchor."""
    n = b.sizes.users
    wl = f"W2 ({size(n)})"
    d = b.fresh("w1")
    db = d / "warehouse.duckdb"
    datagen.make_users(db, n)
    spec = sl.profile_sync()
    runs = each_tool_fresh(b, "W1", "initial run", n, "profile", db, d, spec, cursor=True)
    step = "write the records as JSON (COPY … FORMAT JSON)"
    anchor_json = anchor(b, "W1", step, n, "json", db, d)
    _facts(b, "w1", runs, anchor_json)
    anchor(b, wl, "", n, "diff-prepare", db, d)
    changed = datagen.change_users(db, 1, 1)
    diff = anchor(b, wl, "bare diff query (key, hash) vs snapshot", n, "diff", db, d)
    state = d / "Syncline-sandbox"
    proj, sync = state / "syncline", syncline_sync("profile", state)
    with Receiver("sandbox") as rx:
        r = run_syncline(b, rx, wl, "run, 1% changed", n, proj, sync, plan=True)
        r.ideal = ideal(r.sent, changed)
        b.facts["w2_1m_plan_over_diff"] = (r.plan_s or 0.0) / max(diff.wall_s, 1e-9)
        r2 = run_syncline(b, rx, wl, "run, nothing changed", n, proj, sync, plan=True)
        r2.ideal = ideal(r2.sent, 0)
        b.facts["w2_rss_1m"] = max(r.rss_mb, r2.rss_mb)
    if b.peers:
        for tool in ("drt", "dlt"):
            with Receiver("sandbox") as rx:
                use = run_tool(b, tool, rx, wl, "run, 1% changed (cursor updated_at)", n,
                               "profile", db, d / f"{tool}-sandbox", spec, cursor=True)  # fmt: skip
            b.notes.append(
                f"W2: {tool} has no diff; with its cursor on `updated_at` it sent "
                f"{use.sent:,} records for {changed:,} changed rows; without a cursor "
                f"column it re-sends all {n:,} (its W1 row)."
            )


def _facts(b: Bench, wl: str, runs: dict[tuple[str, str], Result], anchor_: Result | None) -> None:
    """Figures for the targets: Syncline's and dlt's CPU and rate, to the minimal sink (the
    receiver costs nothing there) and to the sandbox."""
    for (tool, rx), r in runs.items():
        key = f"{wl}_{tool.lower()}_{rx}"
        b.facts[f"{key}_cpu_per_m"], b.facts[f"{key}_rate"] = r.cpu_per_million, r.rate
    if anchor_ is not None and anchor_.cpu_s:
        b.facts[f"{wl}_over_duckdb"] = runs["Syncline", "sink"].cpu_s / anchor_.cpu_s


def anchor(b: Bench, wl: str, step: str, rows: int, op: str, db: Path, d: Path) -> Result:
    """DuckDB alone (``bench/anchor.py`` in a child process, timed around the query)."""
    m = run_measured([sys.executable, "-m", "bench.anchor", op, str(db), str(d / "anchor")],
                     cwd=Path(__file__).parent.parent).check(f"anchor {op}")  # fmt: skip
    got = orjson.loads(m.stdout)
    r = Result(wl, "DuckDB alone", step, rows, 0, got["wall_s"], got["cpu_s"], m.peak_rss_mb)
    if op != "diff-prepare":
        r.ideal = f"{int(got['rows']):,} rows out"
        b.add(r)
    return r


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
    anchor(b, wl, "", n, "diff-prepare", db, d)
    changed = datagen.change_users(db, 1, 1)
    diff = anchor(b, wl, "bare diff query (key, hash) vs snapshot", n, "diff", db, d)
    with Receiver("sandbox") as rx:
        r = run_syncline(b, rx, wl, "run, 1% changed", n, proj, "users", plan=True)
        r.ideal = ideal(r.sent, changed)
        b.facts["w2_plan_s"] = r.plan_s or 0.0
        b.facts["w2_plan_over_diff"] = (r.plan_s or 0.0) / max(diff.wall_s, 1e-9)
        b.facts["w2_rss_10m"] = r.rss_mb
        r = run_syncline(b, rx, wl, "run, nothing changed", n, proj, "users", plan=True)
        r.ideal = ideal(r.sent, 0)
        b.facts["w2_nothing_s"] = r.wall_s
        b.facts["w2_rss_10m"] = max(b.facts["w2_rss_10m"], r.rss_mb)


def w3_events(b: Bench) -> None:
    """W3: 1M orders as Charged events with Items, every tool, sandbox and sink."""
    n = b.sizes.orders
    d = b.fresh("w3")
    db = d / "warehouse.duckdb"
    datagen.make_orders(db, n, b.sizes.users)
    runs = each_tool_fresh(b, "W3", "initial run (events)", n, "event", db, d, sl.event_sync())
    _facts(b, "w3", runs, None)


def w5_latency(b: Bench) -> None:
    """W5: each upload answered after 300 ms, then 1,000 ms; 15 in flight.

    The ceiling is 15 uploads of 1,000 records per latency: 50,000 records/s at 300 ms,
    15,000 at 1,000 ms. Each latency runs against the sandbox, then against the minimal sink
    (latency and the 15-in-flight rule only: what the engine reaches when the receiver costs
    nothing).
    """
    n = b.sizes.latency
    d = b.fresh("w5")
    db = d / "warehouse.duckdb"
    datagen.make_users(db, n)
    for latency in (300, 1000):
        sync = f"users_{latency}"  # its own snapshot (in the warehouse file): a fresh start
        proj = sl.write_project(
            d / f"syncline-{latency}",
            {"type": "duckdb", "path": str(db)},
            {sync: sl.profile_sync(in_flight=15)},
        )
        with Receiver("sandbox", latency_ms=latency) as rx:
            step = f"sandbox, {latency:,} ms latency, 15 in flight"
            _w5_facts(b, latency, "sandbox", run_syncline(b, rx, "W5", step, n, proj, sync))
        with Receiver("sink", latency_ms=latency) as sink:
            step = f"minimal sink, {latency:,} ms latency, --full"
            r = run_syncline(b, sink, "W5", step, n, proj, sync, extra=("--full",))
            _w5_facts(b, latency, "sink", r)


def _w5_facts(b: Bench, latency: int, receiver: str, r: Result) -> None:
    """Record one W5 run's shares of the ceiling (``w5_<latency>_<receiver>_...``) and the
    uploads its receiver refused with 429, and write the shares into its row."""
    ceiling = w5_ceiling(latency)
    r.ideal = _w5_share(r, ceiling)
    key = f"w5_{latency}_{receiver}"
    b.facts[f"{key}_share"] = r.rate / ceiling
    if r.delivery_s:
        b.facts[f"{key}_delivery_share"] = r.sent / r.delivery_s / ceiling
    b.facts[f"{key}_429"] = float(r.use.refused if r.use is not None else 0)


def w5_ceiling(latency_ms: int) -> float:
    """Records/s when 15 uploads of 1,000 records are always in flight, each answered after
    ``latency_ms``: the most CleverTap's 15-in-flight rule lets through."""
    return 15 * 1000 * 1000 / latency_ms


def _w5_share(r: Result, ceiling: float) -> str:
    """Share of the ceiling end to end, and while delivering (first upload to last answer, as
    the run's summary reports it): start-up and the plan are not delivery."""
    text = f"{r.rate / ceiling:.0%} of {ceiling:,.0f}/s end to end"
    if r.delivery_s:
        text += f"; {r.sent / r.delivery_s / ceiling:.0%} while delivering ({r.delivery_s:.2f} s)"
    return text


def w7_scale(b: Bench) -> None:
    """W7: the scale curve. At each size (1M, 10M, 30M): the initial run and a run with 1%
    changed, both to the minimal sink, each with its plan timed apart; so plan time, CPU and
    peak RSS can be read against the size. Each size's files are removed before the next."""
    for n in b.sizes.scale:
        wl = f"W7 ({size(n)})"
        d = b.fresh("w7")
        db = d / "warehouse.duckdb"
        datagen.make_users(db, n)
        proj = sl.write_project(
            d / "syncline", {"type": "duckdb", "path": str(db)}, {"users": sl.profile_sync()}
        )
        with Receiver("sink") as sink:
            r = run_syncline(b, sink, wl, "initial run → minimal sink", n, proj, "users",
                             plan=True)  # fmt: skip
            b.facts[f"w7_rss_initial_{n}"] = r.rss_mb
            changed = datagen.change_users(db, 1, 1)
            r = run_syncline(b, sink, wl, "run, 1% changed → minimal sink", n, proj, "users",
                             plan=True)  # fmt: skip
            r.ideal = ideal(r.sent, changed)
            b.facts[f"w7_rss_incremental_{n}"] = r.rss_mb
        shutil.rmtree(d, ignore_errors=True)
