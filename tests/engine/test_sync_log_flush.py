"""The sync log's bulk writes into DuckDB: what the runner's once-a-second flush writes, and
that every row keeps its segment's values (bench/PROFILING.md, round two: W6 sync log)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb

from syncline.config.synclog import SyncLogConfig
from syncline.engine.diff.store import DuckDBStore
from syncline.engine.synclog import ROW_GROUP, SyncLog


def _log(tmp_path: Path) -> tuple[SyncLog, DuckDBStore]:
    store = DuckDBStore(duckdb.connect(), tmp_path / "diff.duckdb")
    log = SyncLog(store, SyncLogConfig(enabled=True), "users", 7, "upsert")
    log.open()
    return log, store


def _rows(store: DuckDBStore) -> list[tuple[object, ...]]:
    return store.query("SELECT run_id, sync, sync_key, operation, outcome, code, message, "
                       "column_name FROM syncline.sync_log ORDER BY sync_key")


def test_the_runners_flush_writes_whole_row_groups_and_the_last_one_the_rest(
        tmp_path: Path) -> None:
    log, store = _log(tmp_path)
    half = ROW_GROUP // 2 + 10
    log.add([f"a{i:06}" for i in range(half)], "accepted")
    log.flush(whole_groups=True)  # less than a row group: it waits
    assert (log.written, _rows(store)) == (0, [])
    log.add([f"b{i:06}" for i in range(half)], "accepted")
    log.add(["c"], "rejected", "E1", "bad email", "email")
    log.flush(whole_groups=True)
    assert log.written == ROW_GROUP == len(_rows(store))
    log.flush()  # the run's end: everything left
    rows = _rows(store)
    assert log.written == len(rows) == 2 * half + 1 and log.error is None
    assert len({r[2] for r in rows}) == len(rows)  # no key twice, none lost
    assert Counter(r[4] for r in rows) == {"accepted": 2 * half, "rejected": 1}
    assert rows[-1] == (7, "users", "c", "upsert", "rejected", "E1", "bad email", "email")
    assert {r[:2] + r[3:] for r in rows[:-1]} == {
        (7, "users", "upsert", "accepted", None, None, None)}


def test_each_segment_keeps_its_own_values_and_time(tmp_path: Path) -> None:
    log, store = _log(tmp_path)
    log.add(["1", "2"], "accepted")
    log.add(["3"], "failed", message="timeout", operation="delete")
    log.add([None], "invalid", "null_key", "no key", "user_id")
    log.add(["4", "5", "6"], "in_doubt", message="reset")
    log.flush()
    got = store.query("SELECT sync_key, operation, outcome, code, message, column_name, "
                      "logged_at FROM syncline.sync_log")
    assert len(got) == 7
    by_key = {r[0]: r[1:6] for r in got}
    assert by_key == {
        "1": ("upsert", "accepted", None, None, None),
        "2": ("upsert", "accepted", None, None, None),
        "3": ("delete", "failed", None, "timeout", None),
        None: ("upsert", "invalid", "null_key", "no key", "user_id"),
        "4": ("upsert", "in_doubt", None, "reset", None),
        "5": ("upsert", "in_doubt", None, "reset", None),
        "6": ("upsert", "in_doubt", None, "reset", None)}
    times = {r[0]: r[6] for r in got}
    assert times["1"] == times["2"] and times["4"] == times["5"] == times["6"]
    assert times["1"] <= times["3"] <= times[None] <= times["4"]
