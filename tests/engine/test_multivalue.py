"""Real CRM columns: arrays, JSON, types Syncline cannot send, nulls to clear, NaN, odd dates."""

from __future__ import annotations

from typing import Any

import duckdb
import pydantic
import pytest

from syncline.config.models import SyncConfig
from syncline.engine.builder import RecordBuilder
from syncline.engine.column_types import column_kind
from syncline.engine.mapping import resolve_mapping
from syncline.errors import ConfigError
from syncline.sources.base import Column
from tests.engine.test_mapping import USERS, _sync

Rows = list[tuple[str, dict[str, Any] | None, Any]]


def _duck(select: str) -> tuple[list[Column], Any]:
    """The columns (DuckDB's type names) and the one Arrow batch of a DuckDB query."""
    with duckdb.connect() as con:
        rel = con.sql(select)
        cols = [Column(str(d[0]), str(d[1])) for d in rel.description]
        batch = rel.to_arrow_table().to_batches()[0]
    return cols, batch


def _rows(sync: SyncConfig, select: str) -> Rows:
    cols, batch = _duck(select)
    return [
        (key, None if record is None else record["profileData"], rejection)
        for key, record, rejection in RecordBuilder(sync, resolve_mapping("crm", sync, cols))
        .build(batch)
        .rows()
    ]


@pytest.mark.parametrize(("type_name", "kind"), [
    ("VARCHAR[]", "array"), ("INTEGER[3]", "array"), ("text[]", "array"), ("_int4", "array"),
    ("STRUCT(a INTEGER)[]", "unsupported"), ("JSON", "json"), ("jsonb", "json"),
    ("STRUCT(a INTEGER)", "unsupported"), ("MAP(VARCHAR, INTEGER)", "unsupported"),
    ("INTERVAL", "unsupported"), ("BLOB", "unsupported"), ("bytea", "unsupported"),
    ("BIGINT", "scalar"), ("uuid", "scalar"), ("DECIMAL(10,2)", "scalar"),
])  # fmt: skip
def test_column_kinds(type_name: str, kind: str) -> None:
    assert column_kind(type_name) == kind


def test_sync_all_sends_arrays_as_set_and_skips_what_it_cannot_send_with_one_warning() -> None:
    rows = _rows(_sync(), """SELECT * FROM (VALUES
        ('u1', ['vip', 'beta', 'vip', NULL], [3, 1], {'a': 1}, INTERVAL 1 DAY, 'x'::BLOB,
         '{"k": 1}'::JSON),
        ('u2', [], NULL, NULL, NULL, NULL, NULL))
        t(user_id, tags, lucky, address, tenure, photo_bytes, attributes)""")
    # unique values, nulls dropped, numbers as text; an empty array is a null (not sent)
    assert rows == [
        ("u1", {"tags": {"$set": ["vip", "beta"]}, "lucky": {"$set": ["3", "1"]}}, None),
        ("u2", {}, None),
    ]
    cols, _ = _duck("SELECT {'a': 1} AS address, INTERVAL 1 DAY AS tenure, '{}'::JSON AS j, "
                    "'u' AS user_id")  # fmt: skip
    warnings = resolve_mapping("crm", _sync(), cols).warnings
    assert len(warnings) == 3
    assert "`address` (STRUCT(a INTEGER)) is not sent" in warnings[0] and "CAST" in warnings[0]
    assert "`tenure` (INTERVAL)" in warnings[1]
    assert "`j` (JSON)" in warnings[2] and "multi_value: set" in warnings[2]


def test_excluded_columns_of_any_type_leave_the_model_alone() -> None:
    sync = _sync(mappings={"sync_all": True, "exclude": ["address", "tenure"]})
    cols, _ = _duck("SELECT 'u' AS user_id, {'a': 1} AS address, INTERVAL 1 DAY AS tenure")
    mapping = resolve_mapping("crm", sync, cols)
    assert mapping.fields == () and mapping.warnings == ()


def test_a_mapping_naming_a_column_that_cannot_be_sent_is_a_config_error() -> None:
    cols = [Column("user_id", "VARCHAR"), Column("photo", "BLOB"), Column("tags", "VARCHAR[]"),
            Column("attrs", "JSON")]  # fmt: skip
    explicit = _sync(mappings={"columns": [{"from": "photo", "to": "Photo bytes"}]})
    with pytest.raises(ConfigError, match=r"sync `crm`: column `photo` has type BLOB.*CAST"):
        resolve_mapping("crm", explicit, cols)
    event: dict[str, Any] = {"object": "event", "identity_column": "user_id", "event_name": "X"}
    tags = _sync(**event, mappings={"columns": [{"from": "tags", "to": "Tags"}]})
    with pytest.raises(ConfigError, match=r"column `tags` is an array.*only profiles"):
        resolve_mapping("crm", tags, cols)
    attrs = _sync(**event, mappings={"columns": [{"from": "attrs", "to": "Attrs"}]})
    with pytest.raises(ConfigError, match=r"column `attrs` is JSON.*`type: string`"):
        resolve_mapping("crm", attrs, cols)
    as_text = _sync(**event, mappings={"columns": [{"from": "attrs", "to": "A", "type": "string"}]})
    assert resolve_mapping("crm", as_text, cols).fields[0].json is False
    warnings = resolve_mapping("crm", _sync(**event), cols).warnings
    assert "`tags` (VARCHAR[]) is not sent: event properties are scalars" in warnings[1]


def test_multi_value_add_remove_and_a_scalar_column_as_one_value() -> None:
    sync = _sync(mappings={"columns": [
        {"from": "tags", "to": "Tags", "multi_value": "add"},
        {"from": "old", "to": "Tags gone", "multi_value": "remove"},
        {"from": "plan", "to": "Plans", "multi_value": "add"},
    ]})  # fmt: skip
    rows = _rows(sync, "SELECT 'u1' AS user_id, ['a'] AS tags, ['b', 'c'] AS old, 'pro' AS plan")
    assert rows[0][1] == {
        "Tags": {"$add": ["a"]}, "Tags gone": {"$remove": ["b", "c"]}, "Plans": {"$add": ["pro"]},
    }  # fmt: skip


def test_multi_value_limits_reject_the_row_naming_the_column() -> None:
    rows = _rows(_sync(), """SELECT * FROM (VALUES
        ('u1', range(101)::VARCHAR[]), ('u2', [repeat('é', 257)]), ('u3', range(100)::VARCHAR[]))
        t(user_id, tags)""")
    assert rows[0][1] is None and rows[0][2].column == "tags"
    assert "column `tags`: 101 values; a multi-value property holds at most 100" in (
        rows[0][2].message)  # fmt: skip
    assert rows[1][1] is None and "514 bytes" in rows[1][2].message
    assert rows[2][1] is not None and len(rows[2][1]["tags"]["$set"]) == 100


def test_json_column_arrays_scalars_objects_and_as_text() -> None:
    sync = _sync(mappings={"columns": [
        {"from": "attrs", "to": "Interests"},
        {"from": "attrs", "to": "Raw", "type": "string"},
    ]})  # fmt: skip
    rows = _rows(sync, """SELECT * FROM (VALUES ('u1', '["golf", "chess"]'::JSON),
        ('u2', '"solo"'::JSON), ('u3', '{"plan": "pro"}'::JSON), ('u4', NULL::JSON))
        t(user_id, attrs)""")
    assert rows[0][1] == {"Interests": {"$set": ["golf", "chess"]}, "Raw": '["golf", "chess"]'}
    assert rows[1][1] == {"Interests": "solo", "Raw": '"solo"'}
    assert rows[2][1] is None and rows[2][2].column == "attrs"
    assert "JSON object" in rows[2][2].message and "attributes->>'plan'" in rows[2][2].message
    assert rows[3][1] == {}


def test_on_null_clear_sends_delete_per_sync_and_per_column() -> None:
    select = "SELECT 'u1' AS user_id, NULL::VARCHAR AS plan, NULL::VARCHAR AS email, " \
             "NULL::VARCHAR[] AS tags"  # fmt: skip
    whole = _sync(on_null="clear")
    assert _rows(whole, select)[0][1] == {
        "plan": {"$delete": 1}, "Email": {"$delete": 1}, "tags": {"$delete": 1},
    }  # fmt: skip
    mixed = _sync(on_null="clear", mappings={"sync_all": True, "columns": [
        {"from": "plan", "to": "plan", "on_null": "skip"}]})  # fmt: skip
    assert _rows(mixed, select)[0][1] == {"Email": {"$delete": 1}, "tags": {"$delete": 1}}
    assert _rows(_sync(), select)[0][1] == {}


def test_on_null_and_multi_value_config_errors_name_the_key() -> None:
    event: dict[str, Any] = {"object": "event", "identity_column": "user_id", "event_name": "X"}
    with pytest.raises(pydantic.ValidationError, match=r"`on_null: clear` is for profile"):
        _sync(**event, on_null="clear")
    with pytest.raises(pydantic.ValidationError, match=r"`Tags`: `multi_value` is for profile"):
        _sync(**event, mappings={"columns": [{"from": "t", "to": "Tags", "multi_value": "set"}]})
    with pytest.raises(pydantic.ValidationError, match=r"applies to `multi_value: set` only"):
        _sync(mappings={"columns": [
            {"from": "t", "to": "T", "multi_value": "add", "on_null": "clear"}]})  # fmt: skip
    with pytest.raises(pydantic.ValidationError, match=r"multi-value property holds strings"):
        _sync(mappings={"columns": [{"from": "t", "to": "T", "multi_value": "set",
                                     "type": "number"}]})  # fmt: skip
    with pytest.raises(pydantic.ValidationError, match=r"`send_nulls` is its old name"):
        _sync(mappings={"columns": [{"from": "t", "to": "T", "send_nulls": True,
                                     "on_null": "skip"}]})  # fmt: skip
    old = _sync(mappings={"columns": [{"from": "t", "to": "T", "send_nulls": True}]})
    assert old.mappings.columns[0].on_null == "clear"


def test_nan_and_infinity_are_nulls_never_sent_as_null() -> None:
    select = """SELECT * FROM (VALUES ('u1', 'nan'::DOUBLE, 'NaN'), ('u2', 'inf'::DOUBLE, '-inf'),
        ('u3', 1.5, '2')) t(user_id, score, typed)"""
    sync = _sync(mappings={"sync_all": True, "columns": [
        {"from": "typed", "to": "typed", "type": "number"}]})  # fmt: skip
    rows = _rows(sync, select)
    assert [r[1] for r in rows] == [{}, {}, {"score": 1.5, "typed": 2}]
    cleared = _rows(_sync(on_null="clear", mappings=sync.mappings.model_dump(by_alias=True)),
                    select)  # fmt: skip
    assert cleared[0][1] == {"score": {"$delete": 1}, "typed": {"$delete": 1}}


def test_profile_dates_outside_1900_2200_are_rejected_naming_the_column() -> None:
    sync = _sync(mappings={"sync_all": True, "columns": [
        {"from": "signup_text", "to": "Signup", "type": "date"}]})  # fmt: skip
    rows = _rows(sync, """SELECT * FROM (VALUES
        ('u1', 'infinity'::DATE, '2020-01-01'), ('u2', DATE '1850-03-01', '2020-01-01'),
        ('u3', DATE '2000-01-01', '1899-12-31'), ('u4', DATE '2200-12-31', NULL))
        t(user_id, birthday, signup_text)""")
    assert rows[0][1] is None and rows[0][2].column == "birthday"
    assert rows[0][2].message.startswith("column `birthday`: infinity is outside the years 1900")
    assert rows[1][1] is None and "1850-03-01 is outside" in rows[1][2].message
    assert rows[2][1] is None and rows[2][2].column == "signup_text"
    assert "outside the years 1900-2200" in rows[2][2].message
    assert rows[3][1] == {"DOB": "$D_7289568000"}


def test_fingerprint_of_an_ordinary_mapping_is_unchanged() -> None:
    # computed by the code before on_null and multi-values: upgrading must resend nothing
    assert resolve_mapping("users", _sync(), USERS).fingerprint == "d7cf21888b4038b7"
    cleared = _sync(mappings={"sync_all": True, "columns": [
        {"from": "plan", "to": "Plan", "send_nulls": True}]})  # fmt: skip
    assert resolve_mapping("users", cleared, USERS).fingerprint == "83105a0767b293f3"


def test_values_python_cannot_hold_reject_their_row_instead_of_stopping_the_run() -> None:
    sync = _sync(mappings={"columns": [{"from": "seen", "to": "Seen", "type": "string"}]})
    rows = _rows(sync, "SELECT * FROM (VALUES ('u1', 'infinity'::DATE), ('u2', DATE '2020-01-02'))"
                       " t(user_id, seen)")  # fmt: skip
    assert rows[0][1] is None and rows[0][2].column == "seen" and "infinity" in rows[0][2].message
    assert rows[1][1] == {"Seen": "2020-01-02"}
    event = _sync(object="event", sync_key="id", identity_column="user_id", event_name="Seen",
                  timestamp_column="seen_at", mappings={"columns": [{"from": "id", "to": "id"}]})
    cols, batch = _duck("SELECT * FROM (VALUES ('e1', 'u1', 'infinity'::TIMESTAMP), "
                        "('e2', 'u1', NULL), ('e3', 'u1', TIMESTAMP '2020-01-02 00:00:00')) "
                        "t(id, user_id, seen_at)")  # fmt: skip
    built = RecordBuilder(event, resolve_mapping("e", event, cols)).build(batch)
    assert sorted(built.rejections) == [0, 1] and built.records[2] is not None
    assert built.records[2]["ts"] == 1577923200


def test_arrays_never_feed_a_single_value_standard_field() -> None:
    cols = [Column("user_id", "VARCHAR"), Column("phone", "VARCHAR[]"), Column("plan", "VARCHAR")]
    mapping = resolve_mapping("crm", _sync(), cols)
    assert [(f.field, f.multi) for f in mapping.fields] == [("phone", "set"), ("plan", None)]
    for entry in ({"from": "phone", "to": "Phone"},
                  {"from": "plan", "to": "Name", "multi_value": "add"}):  # fmt: skip
        with pytest.raises(ConfigError, match=r"is a CleverTap standard field with one value"):
            resolve_mapping("crm", _sync(mappings={"columns": [entry]}), cols)


def test_text_sent_as_a_multi_value_may_hold_a_json_array() -> None:
    # MariaDB and SQLite keep JSON as text: an explicit multi_value reads an array in it
    sync = _sync(mappings={"columns": [{"from": "j", "to": "J", "multi_value": "set"}]})
    rows = _rows(sync, """SELECT * FROM (VALUES ('u1', '["a", "b"]'), ('u2', 'solo'),
        ('u3', '{"k": 1}')) t(user_id, j)""")
    assert [r[1] for r in rows[:2]] == [{"J": {"$set": ["a", "b"]}}, {"J": {"$set": ["solo"]}}]
    assert rows[2][1] is None and "JSON object" in rows[2][2].message
