"""The crash-and-fault soak: its quick size runs, and its checks do catch what they look for."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
from bench.soak import SoakResult, _check_counts, _compare, main

from syncline.store import StateStore


def test_quick_soak_passes_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "SOAK.md"
    assert main(["--quick", "--work", str(tmp_path), "--out", str(out)]) == 0
    text = out.read_text()
    assert "duplicates: 0 → ok" in text
    assert "of which outside the in-doubt set: 0 → ok" in text
    assert "all checks passed" in text


def _summary(**counts: int) -> dict[str, object]:
    base = {"run_id": 1, "status": "succeeded", "planned": {"new": 10, "changed": 0},
            "sent": 10, "accepted": 10, "rejected": 0, "failed": 0, "in_doubt": 0}
    return base | counts


def test_counts_that_do_not_add_up_are_reported() -> None:
    assert _check_counts(_summary()) is None
    assert _check_counts(_summary(sent=8, accepted=7, rejected=1, failed=1, in_doubt=1)) is None
    assert _check_counts(_summary(sent=8, accepted=8)) is not None  # two records unaccounted
    assert _check_counts(_summary(sent=12, accepted=12, status="failed")) is not None


def test_duplicates_and_losses_outside_in_doubt_are_found(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite3"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE events (data TEXT)")
        con.executemany("INSERT INTO events VALUES (?)",
                        [(orjson.dumps({"order_id": i}).decode(),) for i in (1, 2, 2, 5)])
    root = tmp_path / "project"
    (root / ".syncline").mkdir(parents=True)
    store = StateStore(f"sqlite:///{root / '.syncline' / 'state.db'}")
    store.add_in_doubt(store.start_run("orders"), ["3"], "skipped")
    store.close()
    result = SoakResult(rows=5)
    _compare(result, db, root)
    assert (result.delivered, result.duplicates, result.in_doubt) == (3, 1, 1)
    assert (result.missing, result.lost_outside_in_doubt) == (2, 1)  # 4 was never reported
    assert not result.ok
