"""The benchmark harness still works: --quick runs, exact child measurement, the sink."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest
from bench.__main__ import main, targets
from bench.measure import run_measured
from bench.scale_out import Setup
from bench.servers import AUTH, Receiver
from tests.servers import need_postgres, need_server
from tests.workers.brokers import REDIS

PEERS_VENV = Path(__file__).parents[2] / "bench" / ".work" / "peers-venv" / "bin" / "python"


@pytest.mark.slow  # minutes of CPU: under pytest-xdist it starts first, with a longer timeout
@pytest.mark.timeout(600)
def test_quick_runs_every_workload_of_the_fair_comparison(tmp_path: Path) -> None:
    """W1, W2, W3, W5 and W7 at --quick sizes: every new row and target is written.

    With the peers' venv built (``make bench`` builds it), drt and dlt run too.
    """
    out = tmp_path / "RESULTS.md"
    peers = [] if PEERS_VENV.exists() else ["--no-peers"]
    code = main(["--quick", "--only", "W1,W2,W3,W5,W7", *peers, "--work", str(tmp_path / "w"),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    text = out.read_text()
    assert "| nproc | " in text and "--quick" in text
    # figures compare only on equal libraries (a DuckDB release moved W1's CPU once)
    assert "| libraries | duckdb " in text and "pyarrow " in text and "httpx " in text
    assert "| load average (1/5/15 min) when written | " in text
    assert "did not complete" not in text and "exited" not in text, text
    tools = ("Syncline", "drt", "dlt") if not peers else ("Syncline",)
    # Every tool, to its own fresh sandbox and to its own fresh minimal sink, sends every row:
    # none meets a snapshot (or profiles) another run left behind.
    for tool in tools:
        for receiver in ("sandbox", "minimal sink"):
            assert f"| W1 | {tool} | initial run → {receiver} | 5,000 | 5,000 |" in text, text
            assert f"| W3 | {tool} | initial run (events) → {receiver} | 5,000 | 5,000 |" in text
    # W2: exactly the changed rows, then nothing; the anchor counts the same changed rows.
    assert "| 1.00× (" in text and "ideal 0 sent" in text
    assert "initial load → minimal sink | 20,000 | 20,000 |" in text
    assert "| W1 | DuckDB alone | write the records as JSON (COPY … FORMAT JSON) | 5,000 | 0 |" \
        in text  # fmt: skip
    diff = [line for line in text.splitlines() if "bare diff query" in line and "(5k)" in line]
    changed = next(line for line in text.splitlines()
                   if "| W2 (5k) | Syncline | run, 1% changed |" in line)  # fmt: skip
    assert diff and changed.split("|")[5].strip() + " rows out" in diff[0]
    # W5 at both latencies; W7's curve at three sizes, initial and incremental.
    assert "| W5 | Syncline | sandbox, 1,000 ms latency, 15 in flight | 5,000 | 5,000 |" in text
    assert "of 15,000/s end to end" in text
    for n in ("5k", "10k", "30k"):
        assert f"| W7 ({n}) | Syncline | initial run → minimal sink |" in text
        assert f"| W7 ({n}) | Syncline | run, 1% changed → minimal sink |" in text
    for target in ("W1 Syncline CPU ≤ 4 s per 1M profile rows", "W3 Syncline CPU ≤ 10 s",
                   "W7 peak RSS flat, initial runs", "W7 peak RSS flat, incremental runs",
                   "W5 at 300 ms latency, 50,000 records/s ceiling (minimal sink)",
                   "W5 at 1,000 ms latency, 15,000 records/s ceiling (minimal sink)",
                   "over DuckDB's own JSON writing"):  # fmt: skip
        assert target in text, target
    if not peers:
        assert "Peers' venv: drt-core " in text and ", dlt " in text
        assert "W1 Syncline CPU ≤ 0.5× the tuned dlt's" in text
        assert "W3 Syncline rate ≥ 1.5× the tuned dlt's" in text


def test_targets_read_the_minimal_sink_runs_against_the_tuned_dlt() -> None:
    facts = {
        "w1_syncline_sink_cpu_per_m": 3.5, "w1_syncline_sandbox_cpu_per_m": 4.5,
        "w1_dlt_sink_cpu_per_m": 8.0, "w3_syncline_sink_cpu_per_m": 11.0,
        "w3_syncline_sandbox_cpu_per_m": 12.0, "w3_syncline_sink_rate": 90_000.0,
        "w3_dlt_sink_rate": 50_000.0, "w3_syncline_sandbox_rate": 60_000.0,
        "w3_dlt_sandbox_rate": 50_000.0, "w7_rss_initial_1000000": 400.0,
        "w7_rss_initial_30000000": 520.0,
    }  # fmt: skip
    lines = targets(facts)
    assert "(minimal sink): 3.50 s → **met** (to the sandbox: 4.50 s)" in lines[0]
    assert "0.44× → **met**" in lines[1]
    assert "11.00 s → **missed**" in lines[2]
    assert "1.80× → **met** (to the sandbox: 1.20×)" in lines[3]
    assert "1M 400 MB, 30M 520 MB (1.30× from smallest to largest) → **missed**" in lines[4]


def test_w2_and_memory_targets_are_issue_18s() -> None:
    """The plan within 2× DuckDB's bare diff, nothing changed at 10M in 3 s, 400 MB."""
    facts = {"w2_plan_s": 5.0, "w2_plan_over_diff": 1.9, "w2_nothing_s": 3.2,
             "w2_rss_1m": 300.0, "w2_rss_10m": 401.0, "w7_rss_initial_1000000": 390.0,
             "w7_rss_initial_10000000": 400.0}  # fmt: skip
    lines = targets(facts)
    assert lines[0].endswith("5.00 s, 1.9× → **met**"), lines[0]
    assert lines[1] == "W2 nothing-changed run of 10M ≤ 3 s: 3.20 s → **missed**"
    assert lines[2] == "W2 peak RSS ≤ 400 MB: 1M 300 MB, 10M 401 MB → **missed**"
    assert lines[3].startswith("W7 peak RSS flat, initial runs, ≤ 400 MB at every size")
    assert lines[3].endswith("→ **met**"), lines[3]


def test_w5_targets_are_issue_18s_at_both_latencies() -> None:
    """95% while delivering, 90% end to end and no 429, read from the minimal sink's run at
    300 ms and at 1,000 ms, with the sandbox's figures beside them."""
    facts = {"w5_300_sink_share": 0.91, "w5_300_sink_delivery_share": 0.94,
             "w5_300_sink_429": 0.0, "w5_300_sandbox_share": 0.6,
             "w5_300_sandbox_delivery_share": 0.8, "w5_300_sandbox_429": 2.0,
             "w5_1000_sink_share": 0.89, "w5_1000_sink_delivery_share": 0.97,
             "w5_1000_sink_429": 1.0}  # fmt: skip
    at_300, at_1000 = targets(facts)
    assert at_300 == (
        "W5 at 300 ms latency, 50,000 records/s ceiling (minimal sink): ≥ 95% while "
        "delivering: 94% → **missed**; ≥ 90% end to end: 91% → **met**; no 429: 0 refused → "
        "**met** (to the sandbox: 80% while delivering, 60% end to end, 2 refused)")
    assert at_1000 == (
        "W5 at 1,000 ms latency, 15,000 records/s ceiling (minimal sink): ≥ 95% while "
        "delivering: 97% → **met**; ≥ 90% end to end: 89% → **missed**; no 429: 1 refused → "
        "**missed**")


def test_quick_sync_log_overhead_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "W6", "--no-peers", "--work", str(tmp_path / "w"),
                 "--out", str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "initial run, with sync log | 5,000 | 5,000 |" in text
    assert "W6 a 1M run with the sync log ≤ 1.10× the time without" in text


def test_quick_scale_out_writes_its_own_table(tmp_path: Path) -> None:
    """W8 at --quick: one worker and the embedded default each drain a backlog of 4 due syncs,
    every run succeeds, and the section says what each setup got through."""
    need_postgres()
    need_server(*REDIS)
    out = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "W8", "--no-peers", "--work", str(tmp_path / "w"),
                 "--out", str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "did not complete" not in text and "skipped" not in text, text
    section = text.split("## Scale-out (W8)")[1].split("## Targets")[0]
    assert "a backlog of 4 runs" in section and "CPU-bound ceiling" in section
    rows = {line.split(" | ")[0]: line.split(" | ") for line in section.splitlines()
            if line.startswith(("| 1 worker", "| embedded"))}  # fmt: skip
    assert set(rows) == {"| 1 worker(s)", "| embedded (`serve`, SQLite)"}, section
    for cells in rows.values():
        assert cells[1] == "4 / 4", cells  # every due run ran and succeeded
        assert float(cells[3]) > 0 and float(cells[6]) > 0, cells  # capacity, CPU per run
    assert float(rows["| 1 worker(s)"][5]) >= 0  # the scheduler recorded its fires
    assert rows["| embedded (`serve`, SQLite)"][5] == "n/a"


def test_scale_out_capacity_is_the_backlog_over_its_drain_time() -> None:
    setup = Setup(workers=2, syncs=40, rounds=2, runs=80, succeeded=80, drains=(30.0, 10.0),
                  lags=(0.0, 5.0), fire_lag_max=0.1, runner_cpu_s=16.0, harness_cpu_s=4.0,
                  load=(1.0, 2.0), wall_s=90.0)  # fmt: skip
    assert setup.capacity == 120.0  # 80 runs in 40 s of draining, not the schedule's 40/min
    assert setup.runner_cpu_per_run == 0.2
    assert setup.ceiling == pytest.approx((os.cpu_count() or 1) * 60 / 0.2)


def test_wait4_measures_the_child_cpu_and_memory() -> None:
    burn = "x = bytearray(150 * 1024 * 1024)\nimport time\nt = time.process_time()\n" \
           "while time.process_time() - t < 0.3: pass"  # fmt: skip
    m = run_measured([sys.executable, "-c", burn]).check("burner")
    assert m.cpu_s >= 0.3
    assert m.peak_rss_mb >= 150
    # The parent's own peak must not leak into the child's (ru_maxrss does, after vfork+exec).
    ballast = bytearray(b"x" * (300 * 1024 * 1024))
    small = run_measured([sys.executable, "-c", "import time; time.sleep(0.2)"]).check("small")
    assert small.peak_rss_mb < 100, small.peak_rss_mb
    del ballast
    failed = run_measured([sys.executable, "-c", "import sys; sys.exit('boom')"])
    with pytest.raises(RuntimeError, match="boom"):
        failed.check("child")


def test_sink_counts_records_and_bytes() -> None:
    body = b'{"d":[{"type":"profile","identity":"a"},{"type":"profile","identity":"b"}]}'
    with Receiver("sink") as sink, httpx.Client(headers=AUTH) as client:
        sink.mark()
        answer = client.post(f"{sink.url}/1/upload", content=body)
        assert answer.json() == {"status": "success", "processed": 2, "unprocessed": []}
        use = sink.since_mark()
    assert (use.uploads, use.records) == (1, 2)
    assert use.bytes is not None and use.bytes > len(body)
