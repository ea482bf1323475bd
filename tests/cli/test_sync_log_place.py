"""The run page's sync log query, worked out from the definition alone, reads the run's rows in
each real warehouse (DuckDB, SQLite, PostgreSQL, MariaDB), and names the DuckDB diff file when
the diff runs locally."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from syncline.config.load import load_project
from syncline.engine.synclog_place import sync_log_place
from tests.cli.test_sql_sources import ACCOUNTS, SQLProject
from tests.cli.test_sql_sources import project as project  # the parametrized fixture
from tests.cli.test_sync_log import SYNC_LOG, read_sync_log


def test_the_shown_query_reads_the_runs_rows(project: SQLProject) -> None:
    project.configure({"": ("source", ACCOUNTS[0]), "_local": ("local", ACCOUNTS[1])})
    config = project.root / "syncline.yml"
    config.write_text(config.read_text() + SYNC_LOG)
    loaded = load_project(project.root, env=project.env).project
    for sync in ("users", "users_local"):
        run = project.run(sync)
        place = sync_log_place(loaded, sync, run["run_id"])
        assert place is not None
        local = sync == "users_local" or project.warehouse.kind == "duckdb"
        assert (place.local_file is not None) == local, place
        duck_file = (None if place.local_file is None
                     else project.root / place.local_file)
        rows = read_sync_log(project, place.query, duck_file)
        assert len(rows) == run["sync_log_rows"] == run["accepted"] + run["rejected"]
        assert Counter(str(r[2]) for r in rows) == {"accepted": run["accepted"],
                                                    "rejected": run["rejected"]}


def test_no_place_when_the_sync_keeps_no_log(tmp_path: Path) -> None:
    (tmp_path / "syncline.yml").write_text(
        "version: 1\nsources:\n  pg: {type: postgres, url: 'postgresql://u@h/analytics', "
        "read_only: true}\n  my: {type: mysql, host: h, database: shop, user: u}\n"
        "destinations:\n  ct: {type: clevertap, account_id: A, passcode: p, region: eu1}\n"
        "syncs:\n"
        "  quiet: {source: pg, model: {table: t}, destination: ct, object: profile, "
        "sync_key: id}\n"
        "  ro: {source: pg, model: {table: t}, destination: ct, object: profile, sync_key: id, "
        "sync_log: {enabled: true}}\n"
        "  shop: {source: my, model: {table: t}, destination: ct, object: profile, sync_key: "
        "id, sync_log: {enabled: true, schema: ops}}\n")
    loaded = load_project(tmp_path, env={}).project
    assert sync_log_place(loaded, "quiet", 1) is None
    assert sync_log_place(loaded, "missing", 1) is None
    read_only = sync_log_place(loaded, "ro", 7)
    assert read_only is not None and read_only.local_file == ".syncline/diff/ro.duckdb"
    assert "run_id = 7" in read_only.query and "sync = 'ro'" in read_only.query
    shop = sync_log_place(loaded, "shop", 3)
    assert shop is not None and shop.local_file is None
    assert shop.table == "`ops`.`shop__sync_log`" and "source `my` (mysql)" in shop.where
