"""The benchmark harness still works: --quick runs, exact child measurement, the sink."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from bench.__main__ import main
from bench.measure import run_measured
from bench.servers import AUTH, Receiver

PEERS_VENV = Path(__file__).parents[2] / "bench" / ".work" / "peers-venv" / "bin" / "python"


def test_quick_profiles_and_10m_path_write_results(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    code = main(["--quick", "--only", "W1,W2", "--no-peers", "--work", str(tmp_path / "w"),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    text = out.read_text()
    assert "| nproc | " in text and "--quick" in text
    assert "| W1 | Syncline | initial run | 5,000 | 5,000 |" in text
    # 1% changed: exactly the changed rows were sent; nothing changed: nothing sent.
    assert "| 1.00× (" in text and "ideal 0 sent" in text
    assert "initial load → minimal sink | 20,000 | 20,000 |" in text
    assert "did not complete" not in text


def test_quick_sync_log_overhead_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "W6", "--no-peers", "--work", str(tmp_path / "w"),
                 "--out", str(out)]) == 0  # fmt: skip
    text = out.read_text()
    assert "initial run, with sync log | 5,000 | 5,000 |" in text
    assert "W6 a 1M run with the sync log ≤ 1.10× the time without" in text


@pytest.mark.skipif(not PEERS_VENV.exists(), reason="peers venv not built (make bench builds it)")
def test_quick_events_with_peers(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    assert main(["--quick", "--only", "W3", "--work", str(tmp_path / "w"), "--out", str(out)]) == 0
    text = out.read_text()
    for tool in ("Syncline", "drt", "dlt"):
        assert f"| W3 | {tool} | initial run (events) | 5,000 | 5,000 |" in text, text


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
