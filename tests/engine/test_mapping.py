from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from syncline.config.models import SyncConfig
from syncline.engine.builder import RecordBuilder
from syncline.engine.mapping import resolve_mapping
from syncline.errors import ConfigError, ModelError
from syncline.sources.base import Column

USERS = [
    Column("user_id", "VARCHAR"), Column("Full_Name", "VARCHAR"), Column("email", "VARCHAR"),
    Column("sex", "VARCHAR"), Column("birthday", "DATE"), Column("plan", "VARCHAR"),
    Column("score", "DECIMAL(10,2)"), Column("vip", "BOOLEAN"),
]  # fmt: skip


def _sync(**kw: Any) -> SyncConfig:
    base: dict[str, Any] = {
        "source": "s", "model": {"table": "main.t"}, "destination": "d", "object": "profile",
        "sync_key": "user_id",
    }  # fmt: skip
    return SyncConfig.model_validate({**base, **kw})


def test_sync_all_matches_standard_fields_and_infers_types() -> None:
    mapping = resolve_mapping("users", _sync(), USERS)
    fields = {f.field: (f.column, f.type) for f in mapping.fields}
    assert fields == {
        "Name": ("Full_Name", "string"), "Email": ("email", "string"),
        "Gender": ("sex", "string"), "DOB": ("birthday", "date"), "plan": ("plan", "string"),
        "score": ("score", "number"), "vip": ("vip", "boolean"),
    }  # fmt: skip
    assert mapping.column_for("DOB") == "birthday"
    assert mapping.hash_columns[0] == "user_id"


def test_new_column_changes_fingerprint_and_hash_columns() -> None:
    before = resolve_mapping("users", _sync(), USERS)
    after = resolve_mapping("users", _sync(), [*USERS, Column("city", "VARCHAR")])
    assert before.fingerprint != after.fingerprint
    assert "city" in after.hash_columns and "city" not in before.hash_columns
    again = resolve_mapping("users", _sync(), USERS)
    assert again.fingerprint == before.fingerprint


def test_explicit_columns_and_missing_column() -> None:
    sync = _sync(mappings={"columns": [
        {"from": "plan", "to": "Plan"}, {"from": "score", "to": "Score", "type": "string"},
        {"constant": "crm", "to": "Source"},
    ]})  # fmt: skip
    mapping = resolve_mapping("users", sync, USERS)
    assert [(f.field, f.type) for f in mapping.fields] == [
        ("Plan", "string"),
        ("Score", "string"),
        ("Source", "string"),
    ]
    assert set(mapping.hash_columns) == {"user_id", "plan", "score"}
    bad = _sync(mappings={"columns": [{"from": "plann", "to": "Plan"}]})
    with pytest.raises(ModelError, match=r"sync `users`.*`plann`.*user_id, Full_Name"):
        resolve_mapping("users", bad, USERS)


def test_profile_records_nulls_and_bad_values() -> None:
    sync = _sync(mappings={"sync_all": True, "columns": [
        {"from": "plan", "to": "Plan", "send_nulls": True},
    ]})  # fmt: skip
    mapping = resolve_mapping("users", sync, USERS)
    batch = pa.RecordBatch.from_pylist([
        {"user_id": "u1", "Full_Name": "Ann", "email": None, "sex": "female",
         "birthday": dt.date(1970, 1, 2), "plan": None, "score": None, "vip": True},
        {"user_id": "u2", "Full_Name": "Bob", "email": "b@x.io", "sex": "m",
         "birthday": None, "plan": "pro", "score": None, "vip": None},
    ])  # fmt: skip
    rows = RecordBuilder(sync, mapping).build(batch).rows()
    assert rows[0] == ("u1", {"identity": "u1", "type": "profile", "profileData": {
        "Plan": {"$delete": 1}, "Name": "Ann", "Gender": "F", "DOB": "$D_86400", "vip": True,
    }}, None)  # fmt: skip
    assert rows[1][1] is not None and rows[1][1]["profileData"]["Gender"] == "M"
    nested = _sync(mappings={"columns": [{"from": "tags", "to": "Tags"}]})
    cols = [Column("user_id", "VARCHAR"), Column("tags", "VARCHAR[]")]
    out = RecordBuilder(nested, resolve_mapping("n", nested, cols)).build(
        pa.RecordBatch.from_pylist([{"user_id": "u3", "tags": ["a", "b"]}])
    ).rows()
    assert out[0][1] is not None and out[0][1]["profileData"] == {"Tags": {"$set": ["a", "b"]}}


def _events(items_sql: str, tmp_path: Path) -> list[Any]:
    tmp_path.mkdir(exist_ok=True)
    db = tmp_path / "e.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"""CREATE TABLE orders AS SELECT * FROM (VALUES
            ('o1', 'u1', TIMESTAMP '1970-01-02 00:00:00', 9.5, {items_sql}),
            ('o2', 'u2', NULL, 1.0, NULL)) t(order_id, user_id, ordered_at, amount, items)""")
        cols = [Column(str(r[0]), str(r[1])) for r in con.execute("DESCRIBE orders").fetchall()]
        batch = con.sql("SELECT * FROM orders").to_arrow_table().to_batches()[0]
    sync = _sync(object="event", sync_key="order_id", identity_column="user_id",
                 event_name="Charged", timestamp_column="ordered_at", items_column="items",
                 mappings={"columns": [{"from": "amount", "to": "Amount"}]})  # fmt: skip
    return RecordBuilder(sync, resolve_mapping("orders", sync, cols)).build(batch).rows()


def test_events_with_items_from_list_of_struct(tmp_path: Path) -> None:
    rows = _events("[{'name': 'Pen', 'quantity': 2}]", tmp_path)
    assert rows[0] == ("o1", {"identity": "u1", "type": "event", "evtName": "Charged",
                              "ts": 86400, "evtData": {"Amount": 9.5,
                              "Items": [{"name": "Pen", "quantity": 2}]}}, None)  # fmt: skip
    assert rows[1][1] is None and rows[1][2] is not None and rows[1][2].column == "ordered_at"


def test_events_with_items_from_json_and_bad_items(tmp_path: Path) -> None:
    good = json.dumps([{"name": "Pen", "price": 1.5}])
    rows = _events(f"'{good}'", tmp_path)
    assert rows[0][1] is not None and rows[0][1]["evtData"]["Items"] == [
        {"name": "Pen", "price": 1.5}
    ]
    nested = json.dumps([{"name": "Pen", "tags": ["a"]}])
    rows = _events(f"'{nested}'", tmp_path / "nested")
    assert rows[0][1] is None and rows[0][2] is not None and "nested" in rows[0][2].message
    many = json.dumps([{"n": i} for i in range(257)])
    rows = _events(f"'{many}'", tmp_path / "many")
    assert rows[0][2] is not None and "257 items" in rows[0][2].message


def test_items_with_decimal_and_date_values_are_sent_as_json_scalars(tmp_path: Path) -> None:
    # a DECIMAL price used to stay a Python Decimal and fail CleverTap's rule (512)
    rows = _events("[{'name': 'Pen', 'price': CAST(12.5 AS DECIMAL(22, 1)), "
                   "'qty': CAST(2 AS DECIMAL(10, 0)), 'on': DATE '2026-01-02'}]", tmp_path)
    record, rejection = rows[0][1], rows[0][2]
    assert rejection is None and record is not None
    (item,) = record["evtData"]["Items"]
    assert item == {"name": "Pen", "price": 12.5, "qty": 2, "on": "2026-01-02"}
    assert (type(item["price"]), type(item["qty"])) == (float, int)  # not Decimal: JSON numbers


def test_decimals_arrive_as_the_numbers_in_the_warehouse() -> None:
    columns = [Column("user_id", "VARCHAR"), Column("ltv", "DECIMAL(12,2)")]
    mapping = resolve_mapping("users", _sync(), columns)
    batch = pa.record_batch(
        [pa.array(["1", "2"]),
         pa.array([Decimal("3600.68"), Decimal("0.10")], pa.decimal128(12, 2))],
        names=["user_id", "ltv"],
    )
    records = [r for _, r, _ in RecordBuilder(_sync(), mapping).build(batch).rows()]
    assert [r["profileData"]["ltv"] for r in records if r] == [3600.68, 0.1]


@pytest.mark.parametrize(
    ("name", "code"),
    [("App Launched", "513"), ("notification sent", "513"), ("Bad.Name", "512"), ("", "509")],
    ids=["restricted", "restricted-any-case", "forbidden-character", "empty"],
)
def test_constant_event_names_are_checked_against_cleverTap_rules(name: str, code: str) -> None:
    sync = _sync(object="event", sync_key="order_id", identity_column="user_id",
                 event_name=name)
    columns = [Column("order_id", "BIGINT"), Column("user_id", "VARCHAR")]
    with pytest.raises(ConfigError, match=f"sync `orders`: event_name .* \\({code}: "):
        resolve_mapping("orders", sync, columns)
    assert resolve_mapping("orders", _sync(object="event", sync_key="order_id",
                                           identity_column="user_id", event_name="Charged"),
                           columns).fields == ()


def test_items_from_list_of_struct_with_nulls_drop_the_null_keys(tmp_path: Path) -> None:
    rows = _events("[{'name': 'Pen', 'quantity': NULL}, {'name': NULL, 'quantity': 3}]", tmp_path)
    record = rows[0][1]
    assert record is not None
    assert record["evtData"]["Items"] == [{"name": "Pen"}, {"quantity": 3}]


def test_phone_region_per_sync_or_mapping_and_unknown_regions() -> None:
    columns = [Column("user_id", "VARCHAR"), Column("mobile", "VARCHAR"),
               Column("tz", "VARCHAR"), Column("dnd_phone", "VARCHAR")]  # fmt: skip
    mapping = resolve_mapping("users", _sync(phone_region="IN"), columns)
    assert {f.field: f.phone_region for f in mapping.fields}["Phone"] == "IN"
    assert {f.field for f in mapping.fields} == {"Phone", "Timezone", "MSG-dndPhone"}
    batch = pa.RecordBatch.from_pydict({"user_id": ["1", "2"], "mobile": ["98765 00001", None],
                                        "tz": ["Asia/Kolkata", "UTC"], "dnd_phone": ["yes", "0"]})
    built = RecordBuilder(_sync(phone_region="IN"), mapping).build(batch)
    assert [r["profileData"] if r else None for r in built.records] == [
        {"Phone": "+919876500001", "Timezone": "Asia/Kolkata", "MSG-dndPhone": True},
        {"Timezone": "UTC", "MSG-dndPhone": False}]
    per_column = _sync(phone_region="IN", mappings={"columns": [
        {"from": "mobile", "to": "Phone", "phone_region": "US"}]})  # fmt: skip
    built = RecordBuilder(per_column, resolve_mapping("u", per_column, columns)).build(
        pa.RecordBatch.from_pydict({"user_id": ["1"], "mobile": ["(415) 555-0001"]}))
    assert built.records[0] == {"identity": "1", "type": "profile",
                                "profileData": {"Phone": "+14155550001"}}
    misplaced = _sync(mappings={"columns": [{"from": "tz", "to": "tz", "phone_region": "US"}]})
    with pytest.raises(ConfigError, match="`phone_region` is for the Phone field"):
        resolve_mapping("users", misplaced, columns)
    with pytest.raises(ConfigError, match="phone_region `ZZ`"):
        resolve_mapping("users", _sync(phone_region="ZZ"), columns)
    unchanged = resolve_mapping("users", _sync(), columns).fingerprint
    assert resolve_mapping("users", _sync(phone_region="IN"), columns).fingerprint != unchanged


def test_drop_field_leaves_unconvertible_values_out_of_the_record() -> None:
    columns = [Column("user_id", "VARCHAR"), Column("email_opt_in", "VARCHAR")]
    batch = pa.RecordBatch.from_pydict({"user_id": ["1", "2"], "email_opt_in": ["yes", "maybe"]})
    strict = _sync()
    built = RecordBuilder(strict, resolve_mapping("u", strict, columns)).build(batch)
    assert built.records[1] is None and built.rejections[1].column == "email_opt_in"
    lenient = _sync(on_invalid_field="drop_field")
    built = RecordBuilder(lenient, resolve_mapping("u", lenient, columns)).build(batch)
    assert [r["profileData"] if r else None for r in built.records] == [{"MSG-email": True}, {}]
    assert built.rejections == {}
    assert [(f, r.code, r.column) for f, r in built.dropped[1]] == [
        ("MSG-email", "bad_value", "email_opt_in")]


def _wide_batch(n: int) -> tuple[RecordBuilder, pa.RecordBatch]:
    sync = _sync()
    mapping = resolve_mapping("users", sync, USERS)
    batch = pa.RecordBatch.from_pylist([
        {"user_id": f"u{i}", "Full_Name": f"User {i}", "email": f"u{i}@x.io", "sex": "f",
         "birthday": dt.date(1990, 1, 2), "plan": "pro", "score": Decimal("1.50"), "vip": True}
        for i in range(n)
    ])  # fmt: skip
    return RecordBuilder(sync, mapping), batch


def test_records_are_built_without_the_collector_walking_them() -> None:
    """10,000 records used to set off a dozen young collections (profiled in W1); now none
    runs while the dicts are made, and the collector is on again afterwards."""
    import gc

    builder, batch = _wide_batch(10_000)
    seen: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        built = builder.build(batch)
    finally:
        gc.callbacks.remove(count)
    assert len(built.records) == 10_000 and gc.isenabled()
    # column conversion may still allocate a few tracked lists; not one per row
    assert len(seen) <= 2, seen


def test_a_collector_disabled_by_the_host_stays_disabled() -> None:
    import gc

    builder, batch = _wide_batch(10)
    gc.disable()
    try:
        builder.build(batch)
        assert not gc.isenabled()
    finally:
        gc.enable()
