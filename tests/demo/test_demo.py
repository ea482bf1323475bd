from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from syncline.config.load import load_project
from syncline.demo.scaffold import init_project
from syncline.demo.warehouse import add_sample_orders, build_sample_warehouse, change_sample_rows
from syncline.engine.builder import RecordBuilder
from syncline.engine.mapping import resolve_mapping
from syncline.errors import ConfigError
from syncline.sources.base import Column

ENV = {"CLEVERTAP_ACCOUNT_ID": "TEST-123-4567", "CLEVERTAP_PASSCODE": "secret"}


def _columns(path: Path, table: str) -> list[Column]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(f"DESCRIBE main.{table}").fetchall()
    return [Column(str(r[0]), str(r[1])) for r in rows]


def test_warehouse_has_users_orders_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    build_sample_warehouse(path, users=2_000, orders=500)
    with duckdb.connect(str(path), read_only=True) as con:
        users = con.execute("SELECT count(*), count(user_id), count(DISTINCT user_id) FROM users")
        assert users.fetchone() == (2_002, 2_001, 2_000)
        assert con.execute("SELECT phone FROM users WHERE user_id='u0000003'").fetchone() == (
            "12345",
        )
        phones = con.execute("SELECT count(*) FILTER (WHERE phone LIKE '+%'), "
                             "count(*) FILTER (WHERE regexp_full_match(phone, '98\\d{3} \\d{5}')) "
                             "FROM users").fetchone()
        assert phones is not None and sum(phones) == 2_001 and phones[1] > 500  # IN: national
        tags = con.execute("SELECT count(*) FILTER (WHERE len(tags) > 0) FROM users").fetchone()
        assert tags is not None and tags[0] > 1_000
        items = con.execute("SELECT items FROM orders LIMIT 1").fetchone()
        assert items is not None and set(items[0][0]) == {"name", "category", "quantity", "price"}
    before = duckdb.connect(str(path), read_only=True)
    plans = before.execute("SELECT user_id, plan FROM users ORDER BY user_id").fetchall()
    before.close()
    changed = change_sample_rows(path, fraction=0.01)
    assert 5 <= changed <= 60
    with duckdb.connect(str(path), read_only=True) as con:
        after = con.execute("SELECT user_id, plan FROM users ORDER BY user_id").fetchall()
    assert sum(a != b for a, b in zip(plans, after, strict=True)) == changed
    add_sample_orders(path, 10)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT order_id) FROM orders").fetchone() == (510,)


def test_scaffold_loads_resolves_and_builds(tmp_path: Path) -> None:
    path = init_project(tmp_path / "proj", users=500)
    assert (tmp_path / "proj" / ".gitignore").read_text() == ".syncline/\n"
    loaded = load_project(tmp_path / "proj", env=ENV)
    dest = loaded.project.destinations["clevertap_prod"]
    assert dest.region == "eu1" and dest.account_id == "TEST-123-4567"
    db = tmp_path / "proj" / "warehouse.duckdb"
    for name, table in (("users_to_clevertap", "users"), ("orders_to_clevertap", "orders")):
        sync = loaded.project.syncs[name]
        mapping = resolve_mapping(name, sync, _columns(db, table))
        with duckdb.connect(str(db), read_only=True) as con:
            table_ = con.sql(f"SELECT * FROM main.{table} LIMIT 5").to_arrow_table()
            rows = RecordBuilder(sync, mapping).build(table_.to_batches()[0]).rows()
        assert all(record is not None for _, record, _ in rows)
    with pytest.raises(ConfigError, match="already exists"):
        init_project(path.parent)
