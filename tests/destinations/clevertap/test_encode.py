"""Bodies encoded by column say exactly what the records' dicts say, encoded by orjson.

Tables are generated (types, nulls, unicode, quotes, backslashes and control characters,
multi-values, ``$delete``, dates at the edges of the years we send, NaN, whole floats), built by
the engine's ``RecordBuilder`` and encoded both ways: the records as the builder used to make
them (one dict per row, nulls left out) through ``CleverTapClient.encode``, and the columns
through ``encode_rows`` + ``encode_body``. The two bodies must parse to the same JSON, value
for value and type for type (an int stays an int, a float a float).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.config.models import SyncConfig
from syncline.destinations.base import Record, RecordColumns
from syncline.destinations.clevertap.encode import encode_body, encode_rows
from syncline.engine.builder import BuiltBatch, RecordBuilder
from syncline.engine.mapping import resolve_mapping
from syncline.sources.base import Column

_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['say "hi"', "back\\slash", "tab\there", "nl\nx", "\x00\x01\x1f", "é中😀",
                     "\u2028\u2029", "", " ", "$D_12", "null", "M", "F"]),
)  # fmt: skip
_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, 3.0, 1e15, 1e16, 1e20, 1e-7, 5e-324, 0.1, 3600.68]),
)
_date = st.one_of(
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.sampled_from([dt.date(1900, 1, 1), dt.date(1899, 12, 31), dt.date(2200, 12, 31),
                     dt.date(2201, 1, 1), dt.date(1970, 1, 1)]),
)  # fmt: skip
_stamp = st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(2210, 1, 1))
_tags = st.lists(st.one_of(st.none(), _text), max_size=4)
_ids = st.one_of(st.sampled_from(["u1", "u2", "é", 'q"uote', "b\\s"]), st.text(min_size=1,
                                                                                 max_size=6))

PROFILE_COLUMNS = [
    Column("user_id", "VARCHAR"), Column("name", "VARCHAR"), Column("email", "VARCHAR"),
    Column("gender", "VARCHAR"), Column("score", "DOUBLE"), Column("small", "FLOAT"),
    Column("visits", "BIGINT"), Column("vip", "BOOLEAN"), Column("signup", "DATE"),
    Column("seen", "TIMESTAMP"), Column("tags", "VARCHAR[]"), Column("note", "VARCHAR"),
    Column("price", "DECIMAL(10,2)"),
]  # fmt: skip


def _profile_table(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    schema = pa.schema([
        ("user_id", pa.string()), ("name", pa.string()), ("email", pa.string()),
        ("gender", pa.string()), ("score", pa.float64()), ("small", pa.float32()),
        ("visits", pa.int64()), ("vip", pa.bool_()), ("signup", pa.date32()),
        ("seen", pa.timestamp("us")), ("tags", pa.list_(pa.string())), ("note", pa.string()),
        ("price", pa.decimal128(10, 2)),
    ])  # fmt: skip
    return pa.RecordBatch.from_pylist(rows, schema=schema)


_profile_row = st.fixed_dictionaries({
    "user_id": _ids, "name": st.none() | _text, "email": st.none() | _text,
    "gender": st.none() | st.sampled_from(["M", "F", "male", "x"]), "score": st.none() | _float,
    "small": st.none() | _float.filter(lambda f: not math.isfinite(f) or abs(f) < 1e38),
    "visits": st.none() | st.integers(-(2**63), 2**63 - 1), "vip": st.none() | st.booleans(),
    "signup": st.none() | _date, "seen": st.none() | _stamp, "tags": st.none() | _tags,
    "note": st.none() | _text,
    "price": st.none() | st.decimals(min_value=-10**7, max_value=10**7, places=2,
                                     allow_nan=False, allow_infinity=False),
})  # fmt: skip


def _sync(**kw: Any) -> SyncConfig:
    base: dict[str, Any] = {
        "source": "s", "model": {"table": "main.t"}, "destination": "d", "object": "profile",
        "sync_key": "user_id", "mappings": {"sync_all": True},
    }  # fmt: skip
    return SyncConfig.model_validate({**base, **kw})


def _old_records(built: BuiltBatch) -> dict[int, Record]:
    """The records as the builder made them before encoding by column: ``dict(zip(...))`` per
    row over the converted columns, nulls then removed, dropped fields popped."""
    c = built.columns
    fields = tuple(c.properties)
    values = list(c.properties.values())
    n = len(c.identities)
    data = [dict(zip(fields, row, strict=True)) for row in zip(*values, strict=True)] if fields \
        else [{} for _ in range(n)]  # fmt: skip
    for field, column in zip(fields, values, strict=True):
        for i, v in enumerate(column):
            if v is None:
                del data[i][field]
    for i, faults in built.dropped.items():
        for name, _ in faults:
            data[i].pop(name, None)
    out: dict[int, Record] = {}
    for i in range(n):
        if i in built.rejections:
            continue
        if c.object == "profile":
            out[i] = {c.identity_field: c.identities[i], "type": "profile",
                      "profileData": data[i]}  # fmt: skip
            continue
        if c.items is not None and c.items[i] is not None:
            data[i]["Items"] = c.items[i]
        record: Record = {c.identity_field: c.identities[i], "type": "event",
                          "evtName": (c.event_names or [])[i]}  # fmt: skip
        if c.timestamps is not None:
            record["ts"] = c.timestamps[i]
        record["evtData"] = data[i]
        out[i] = record
    return out


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON values of equal types (an int is not a float here, -0.0 keeps its sign)."""
    assert type(a) is type(b), (where, a, b)
    if isinstance(a, dict):
        assert list(a) == list(b), (where, a, b)
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), (where, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b), (where, a, b)
    else:
        assert a == b, (where, a, b)


def _assert_same_bodies(built: BuiltBatch) -> None:
    old = _old_records(built)
    rows = sorted(old)
    # the records the builder makes on demand are the old ones
    for i in range(len(built.keys)):
        assert built.records[i] == old.get(i), i
    encoded = encode_rows(built.columns, rows, built.changed())
    assert encoded is not None
    new = orjson.loads(encode_body(encoded))
    _same(orjson.loads(orjson.dumps({"d": [old[i] for i in rows]})), new)
    # any cut of the rows, as the runner cuts requests, gives the same records
    if len(encoded) > 1:
        half = len(encoded) // 2
        left = orjson.loads(encode_body(encoded[:half]))["d"]
        right = orjson.loads(encode_body(encoded[half:]))["d"]
        _same(left + right, new["d"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_profile_row, min_size=1, max_size=12),
       clear=st.booleans(), drop=st.booleans(),
       multi=st.sampled_from(["set", "add", "remove"]))  # fmt: skip
def test_profile_bodies_by_column_match_the_records(
    rows: list[dict[str, Any]], clear: bool, drop: bool, multi: str
) -> None:
    sync = _sync(
        on_null="clear" if clear else "skip",
        on_invalid_field="drop_field" if drop else "reject_record",
        mappings={"sync_all": True, "columns": [
            {"from": "tags", "to": "tags", "multi_value": "set" if clear else multi},
            {"from": "note", "to": "Note", "type": "number"},  # text as numbers: some fail
            {"constant": 'crm "2"', "to": "Source"},
        ]},
    )  # fmt: skip
    built = RecordBuilder(sync, resolve_mapping("u", sync, PROFILE_COLUMNS)).build(
        _profile_table(rows))
    _assert_same_bodies(built)


_item = st.fixed_dictionaries({"name": _text, "price": _float, "qty": st.integers(0, 9)})
EVENT_COLUMNS = [
    Column("order_id", "VARCHAR"), Column("user_id", "VARCHAR"), Column("at", "TIMESTAMP"),
    Column("value", "DOUBLE"), Column("currency", "VARCHAR"), Column("promo", "BOOLEAN"),
    Column("name", "VARCHAR"),
]  # fmt: skip
_event_row = st.fixed_dictionaries({
    "order_id": _ids, "user_id": _ids, "at": st.none() | _stamp, "value": st.none() | _float,
    "currency": st.none() | _text, "promo": st.none() | st.booleans(),
    "name": st.none() | st.sampled_from(["Charged", "Viewed", 'Odd "one"']),
    "items": st.none() | st.lists(_item, max_size=3),
})  # fmt: skip


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_event_row, min_size=1, max_size=12), by_column=st.booleans(),
       with_items=st.booleans(), with_ts=st.booleans())  # fmt: skip
def test_event_bodies_by_column_match_the_records(
    rows: list[dict[str, Any]], by_column: bool, with_items: bool, with_ts: bool
) -> None:
    schema = pa.schema([
        ("order_id", pa.string()), ("user_id", pa.string()), ("at", pa.timestamp("s")),
        ("value", pa.float64()), ("currency", pa.string()), ("promo", pa.bool_()),
        ("name", pa.string()),
        ("items", pa.list_(pa.struct([("name", pa.string()), ("price", pa.float64()),
                                      ("qty", pa.int64())]))),
    ])  # fmt: skip
    batch = pa.RecordBatch.from_pylist(rows, schema=schema)
    sync = SyncConfig.model_validate({
        "source": "s", "model": {"table": "main.o"}, "destination": "d", "object": "event",
        "sync_key": "order_id", "identity_column": "user_id",
        **({"event_name_column": "name"} if by_column else {"event_name": "Charged"}),
        **({"timestamp_column": "at"} if with_ts else {}),
        **({"items_column": "items"} if with_items else {}),
        "mappings": {"columns": [
            {"from": "value", "to": "Amount", "type": "number"},
            {"from": "currency", "to": "Currency"},
            {"from": "promo", "to": "Promo", "type": "boolean"},
        ]},
    })  # fmt: skip
    columns = [*EVENT_COLUMNS, Column("items", "STRUCT(name VARCHAR)[]")]
    built = RecordBuilder(sync, resolve_mapping("o", sync, columns)).build(batch)
    _assert_same_bodies(built)


def test_whole_floats_stay_floats_and_text_is_escaped() -> None:
    columns = RecordColumns(
        "profile", "identity", ["a", 'b"\\'], {"x": [1.0, -0.0], "t": ['q"\\\n', None]},
        arrays={"x": pa.array([1.0, -0.0])},
    )
    body = encode_body(encode_rows(columns, [0, 1], {}) or pa.array([], pa.string()))
    assert body == (b'{"d":[{"identity":"a","type":"profile","profileData":{"x":1.0,'
                    b'"t":"q\\"\\\\\\n"}},{"identity":"b\\"\\\\","type":"profile",'
                    b'"profileData":{"x":-0.0}}]}')  # fmt: skip
    assert encode_body(pa.array([], pa.string())) == b'{"d":[]}'


def test_rows_whose_values_are_all_null_keep_their_place() -> None:
    """Arrow's `skip` null handling drops such rows; the encoder must not."""
    columns = RecordColumns("profile", "identity", ["a", "b", "c"],
                            {"x": [1, None, None], "y": [None, None, "z"]})  # fmt: skip
    rows = orjson.loads(encode_body(encode_rows(columns, [0, 1, 2], {}) or pa.array([])))["d"]
    assert [r["profileData"] for r in rows] == [{"x": 1}, {}, {"y": "z"}]


def test_changed_records_are_encoded_from_their_dict() -> None:
    columns = RecordColumns("profile", "identity", ["a", "b"], {"x": [1, 2]})
    changed = {1: {"identity": "b", "type": "profile", "profileData": {}}}
    rows = orjson.loads(encode_body(encode_rows(columns, [1], changed) or pa.array([])))["d"]
    assert rows == [changed[1]]


@pytest.mark.parametrize("items", [None, [[{"a": 1}], None]])
def test_events_with_a_field_named_items_and_an_items_column_use_the_dicts(
    items: list[Any] | None,
) -> None:
    columns = RecordColumns("event", "identity", ["a", "b"], {"Items": [1, 2]},
                            event_names=["E", "E"], items=items)  # fmt: skip
    encoded = encode_rows(columns, [0, 1], {})
    assert (encoded is None) == (items is not None)
