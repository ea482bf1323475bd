"""The column screen never misses a record the exact rules reject (false alarms are allowed).

Records are assembled from the columns the way the engine's RecordBuilder does; every row that
``validate_record`` rejects must be among the screen's suspects.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncline.destinations.base import RecordColumns
from syncline.destinations.clevertap import rules, screen
from syncline.destinations.clevertap.rules import checks

NOW = time.time()

_texts = st.sampled_from([
    "", " ", "M", "F", "male", "Y", "N", "School", "ann@example.com", "bad@", "+14155550100",
    "0044 20", "12", "1e3", "nan", "x" * 128, "x" * 129, "é" * 200, "é" * 300, "a\u00a0b@x.io",
    "ok@example.com\n", "Paris", "a\x0bb@example.com", "a\x1cb@example.com", "+14155550100\n",
    "é@example.com", "a b@example.com",
]) | st.text(max_size=20)  # fmt: skip
_values = st.one_of(
    st.none(), _texts, st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers()),
    # what on_null: clear and multi-value columns send
    st.just({"$delete": 1}), st.just({"$set": [str(i) for i in range(101)]}),
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$set", "$add", "$remove"]),
              st.lists(st.text(max_size=3), max_size=3)),
)
_fields = st.sampled_from([
    "Name", "Email", "Phone", "Gender", "Employed", "Married", "Education", "Age", "DOB",
    "MSG-email", "city", "plan", "a.b", "$x", "tag#", "k" * 121, "Items", "ok key",
])  # fmt: skip
# mostly valid identities and names: a bad one makes the row a suspect whatever its data
_good_ids = st.sampled_from(["u1", "u2", "id_9", "A-7"])
_identities = _good_ids | _good_ids | st.sampled_from(
    ["", " ", "null", "NaN", " u2 ", "x" * 1024, "bad id!", "-1"]) | st.text(max_size=8)
_names = st.sampled_from(["Charged", "Viewed"]) | st.sampled_from(
    ["charged", "App Launched", "", " ", "Bad.Name", "Discarded One", None, 7])
_stamps = st.one_of(st.none(), st.integers(-5, 2 * 10**12), st.floats(0, 2e9),
                    st.booleans(), st.just(int(NOW) + 10 * 86_400), st.just("1700000000"))
_item = st.dictionaries(st.sampled_from(["name", "price", "a.b", "k" * 121]),
                        st.one_of(st.integers(), _texts), max_size=3)
_items = st.one_of(st.none(), st.lists(_item, max_size=3))


def _profile(field: str, identity: str, data: dict[str, Any]) -> dict[str, Any]:
    return {field: identity, "type": "profile", "profileData": data}


def _data(properties: dict[str, list[Any]], i: int) -> dict[str, Any]:
    return {f: v[i] for f, v in properties.items() if v[i] is not None}


def _with_arrays(columns: RecordColumns) -> RecordColumns:
    """The same columns with Arrow arrays for the text ones, as the engine passes them."""
    arrays = {f: pa.array(v, pa.string()) for f, v in columns.properties.items()
              if all(x is None or type(x) is str for x in v)}
    return dataclasses.replace(columns, arrays=arrays)


def _assert_screened(columns: RecordColumns, records: list[dict[str, Any]], **kw: Any) -> None:
    """No rejected record escapes, whether or not the screen gets Arrow arrays."""
    for cols in (columns, _with_arrays(columns)):
        _assert_screened_once(cols, records, **kw)


def _assert_screened_once(columns: RecordColumns, records: list[dict[str, Any]], **kw: Any) -> None:
    suspects = screen.suspects(columns, now=NOW, **kw)
    for i, record in enumerate(records):
        violation = rules.validate_record(record, now=NOW, **kw)
        assert violation is None or i in suspects, (record, violation)


@st.composite
def _batches(draw: st.DrawFn) -> tuple[list[str], dict[str, list[Any]]]:
    n = draw(st.integers(1, 6))
    fields = draw(st.lists(_fields, max_size=4, unique=True))
    # a column is usually of one kind (all text, all numbers) and sometimes mixed
    kinds = [_values, _texts, st.none() | _texts, st.integers() | st.floats(), st.booleans()]
    properties = {f: draw(st.lists(draw(st.sampled_from(kinds)), min_size=n, max_size=n))
                  for f in fields}
    identities = draw(st.lists(_identities, min_size=n, max_size=n))
    return identities, properties


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=_batches(), field=st.sampled_from(["identity", "objectId"]))
def test_profiles_no_rejected_record_escapes(
    batch: tuple[list[str], dict[str, list[Any]]], field: str
) -> None:
    identities, properties = batch
    records = [_profile(field, ident, _data(properties, i)) for i, ident in enumerate(identities)]
    _assert_screened(RecordColumns("profile", field, identities, properties), records)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=_batches(), data=st.data(), max_props=st.sampled_from([1, 3, 256]))
def test_events_no_rejected_record_escapes(
    batch: tuple[list[str], dict[str, list[Any]]], data: st.DataObject, max_props: int,
) -> None:
    identities, properties = batch
    n = len(identities)
    names = data.draw(st.lists(_names, min_size=n, max_size=n))
    stamps = data.draw(st.one_of(st.none(), st.lists(_stamps, min_size=n, max_size=n)))
    items = data.draw(st.one_of(st.none(), st.lists(_items, min_size=n, max_size=n)))
    records = []
    for i, ident in enumerate(identities):
        record: dict[str, Any] = {"identity": ident, "type": "event", "evtName": names[i]}
        if stamps is not None:
            record["ts"] = stamps[i]
        evt = _data(properties, i)
        if items is not None and items[i] is not None:
            evt["Items"] = items[i]
        record["evtData"] = evt
        records.append(record)
    columns = RecordColumns("event", "identity", identities, properties,
                            event_names=names, timestamps=stamps, items=items)
    _assert_screened(columns, records, max_event_properties=max_props,
                     discarded_events=frozenset({"Discarded One"}))


def test_a_clean_batch_has_no_suspects() -> None:
    """The point of the screen: valid data is not checked record by record."""
    n = 1000
    properties: dict[str, list[Any]] = {
        "Name": [f"User {i}" for i in range(n)],
        "Email": [f"user{i}@example.com" for i in range(n)],
        "Phone": [f"+1415{i:07d}" for i in range(n)],
        "Gender": ["M", "F"] * (n // 2),
        "score": [i / 7 for i in range(n)],
        "vip": [None, True] * (n // 2),
    }
    columns = RecordColumns("profile", "identity", [f"u{i}" for i in range(n)], properties)
    assert screen.suspects(columns, now=NOW) == set()
    bad = dict(properties, Gender=["M"] * (n - 1) + ["male"])
    columns = RecordColumns("profile", "identity", [f"u{i}" for i in range(n)], bad)
    assert screen.suspects(columns, now=NOW) == {n - 1}


def test_one_bad_value_in_a_clean_column_is_found() -> None:
    """Each column-wide shortcut still finds a single bad row (the rarer cases, by example)."""
    cases: dict[str, tuple[list[Any], list[Any]]] = {
        "Age": ([30, 41.5, 7], [30, float("inf"), 7]),
        "city": (["Paris", "é" * 128, "Lagos"], ["Paris", "é" * 300, "Lagos"]),
        "Email": (["a@example.com"] * 3, ["a@example.com", "a@example", "b@example.com"]),
        "Gender": (["M", "F", "F"], ["M", "female", "F"]),
        # RE2 (the Arrow path) reads \s as ASCII space only; Python also as VT and NBSP
        "Email ": (["a@example.com"] * 3, ["a@example.com", "a\x0bb@example.com", "c@ex.io"]),
        "Email  ": (["a@example.com"] * 3, ["a@example.com", "a\u00a0b@example.com", "c@ex.io"]),
        "Email   ": (["a@example.com"] * 3, ["a@example.com", "a\x1fb@example.com", "c@ex.io"]),
        "Phone": (["+14155550100"] * 3, ["+14155550100", "14155550100", "+14155550101"]),
    }
    for name, (clean, bad) in cases.items():
        field = name.strip()
        for values, expected in ((clean, set()), (bad, {1})):
            columns = RecordColumns("profile", "identity", ["u1", "u2", "u3"], {field: values})
            assert screen.suspects(columns, now=NOW) == expected, (field, values)
            assert screen.suspects(_with_arrays(columns), now=NOW) == expected, (field, values)
            records = [_profile("identity", f"u{i}", {field: v}) for i, v in enumerate(values)]
            assert [rules.validate_record(r) is not None for r in records] == [
                i in expected for i in range(3)]


def test_cleared_and_multi_value_columns_are_judged_by_column() -> None:
    """`on_null: clear` and multi-value columns send operator objects; bad ones are suspects."""
    delete, tags = {"$delete": 1}, {"$set": ["a", "b"]}
    properties: dict[str, list[Any]] = {
        "Email": ["a@example.com", delete, delete],
        "Gender": [delete, "F", "M"],
        "tags": [tags, delete, {"$set": [str(i) for i in range(101)]}],
    }
    columns = RecordColumns("profile", "identity", ["u1", "u2", "u3"], properties)
    assert screen.suspects(columns, now=NOW) == {2}


# -- Items judged on the Arrow column ------------------------------------------------------------

_ITEM_TYPES = {"text": pa.string(), "int": pa.int64(), "float": pa.float64(),
               "bool": pa.bool_(), "null": pa.null(), "big text": pa.large_string()}
_ITEM_VALUES = {
    "text": st.none() | _texts, "big text": st.none() | _texts,
    "int": st.none() | st.integers(-(2**62), 2**62),
    "float": st.none() | st.floats(allow_nan=True, allow_infinity=True),
    "bool": st.none() | st.booleans(), "null": st.none(),
}


@st.composite
def _item_arrays(draw: st.DrawFn) -> pa.Array:
    """A LIST of STRUCT column as a warehouse gives it: null rows, null items and values,
    long text, bad field names, and now and then a row of more than 256 items."""
    names = draw(st.lists(st.sampled_from(["name", "price", "qty", "a.b", "k" * 121, "ok key",
                                           "é" * 40, "", "Items"]), max_size=3, unique=True))
    kinds = [draw(st.sampled_from(sorted(_ITEM_TYPES))) for _ in names]
    item = st.fixed_dictionaries({n: _ITEM_VALUES[k] for n, k in zip(names, kinds, strict=True)})
    row = st.lists(item | st.none() if draw(st.booleans()) else item, max_size=3)
    rows = draw(st.lists(st.none() | row if draw(st.booleans()) else row, min_size=1,
                         max_size=5))
    if draw(st.integers(0, 9)) == 0:
        rows.append([draw(item)] * draw(st.sampled_from([256, 257])))
    kind = pa.struct([pa.field(n, _ITEM_TYPES[k]) for n, k in zip(names, kinds, strict=True)])
    array = pa.array(rows, pa.list_(kind))
    return array.slice(1) if len(array) > 1 and draw(st.booleans()) else array  # an offset


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array=_item_arrays(), names=st.data())
def test_the_arrow_items_screen_gives_the_per_record_verdicts(
    array: pa.Array, names: st.DataObject,
) -> None:
    """On the Arrow column, Items are judged as ``items_ok`` judges each record's list: the
    column is fine exactly when every row's list is, and then only the rows that are not
    Charged events are suspects."""
    items = array.to_pylist()
    per_record = all(checks.items_ok(row) for row in items if row is not None)
    assert screen._arrow_items_fine(array) is per_record, items
    n = len(items)
    event_names = names.draw(st.lists(st.sampled_from(["Charged", "charged", "Viewed"]),
                                      min_size=n, max_size=n))
    columns = RecordColumns("event", "identity", ["u1"] * n, {}, event_names=event_names,
                            items=items, items_array=array)
    records = [{"identity": "u1", "type": "event", "evtName": name,
                "evtData": {} if row is None else {"Items": row}}
               for name, row in zip(event_names, items, strict=True)]
    suspects = screen.suspects(columns, now=NOW)
    rejected = {i for i, r in enumerate(records) if rules.validate_record(r, now=NOW)}
    assert rejected <= suspects
    if per_record:  # nothing else to suspect in these records: the verdicts are the rules'
        assert suspects == rejected, (items, event_names)


def _orders(n: int, name: str = "Charged") -> tuple[RecordColumns, list[dict[str, Any]]]:
    """W3's shape: Charged events with 1-3 Items of text, numbers and a boolean."""
    items = [[{"id": f"sku-{i}-{j}", "price": 9.5 + j, "qty": j + 1, "gift": j == 2}
              for j in range(i % 3 + 1)] for i in range(n)]
    columns = RecordColumns(
        "event", "identity", [f"u{i}" for i in range(n)], {"Currency": ["EUR"] * n},
        event_names=[name] * n, timestamps=[int(NOW) - i for i in range(n)], items=items,
        items_array=pa.array(items),
    )
    records = [{"identity": f"u{i}", "type": "event", "evtName": name, "ts": int(NOW) - i,
                "evtData": {"Currency": "EUR", "Items": items[i]}} for i in range(n)]
    return columns, records


def test_charged_items_judged_by_column_and_one_name_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A clean batch of Charged events has no suspect and asks for one event-name verdict; a
    bad item, or Items on an event that is not Charged, is still found."""
    verdicts: list[Any] = []
    real = screen._name_verdict

    def counted(name: Any, discarded: frozenset[str]) -> tuple[bool, bool]:
        verdicts.append(name)
        return real(name, discarded)

    monkeypatch.setattr(screen, "_name_verdict", counted)
    columns, records = _orders(1000)
    assert screen.suspects(columns, now=NOW) == set()
    assert verdicts == ["Charged"]
    assert all(rules.validate_record(r, now=NOW) is None for r in records)

    viewed, records = _orders(10, "Viewed")  # Items is then a plain property: a list, refused
    assert screen.suspects(viewed, now=NOW) == set(range(10))
    assert all(rules.validate_record(r, now=NOW) is not None for r in records)

    columns, _ = _orders(10)
    items = columns.items or []
    items[4] = [{"id": "é" * 300, "price": 1.0, "qty": 1, "gift": False}]  # over 512 bytes
    bad = dataclasses.replace(columns, items=items, items_array=pa.array(items))
    assert not screen._arrow_items_fine(bad.items_array)
    assert screen.suspects(bad, now=NOW) == {4}


_identities = st.sampled_from([
    "u1", " u2 ", "", " ", "null", " NULL ", "N/A", "-Inf", "none", "x" * 1023, "x" * 1024,
    " " + "x" * 1023, "u\t3", "u\x0b", "\x1cu", "é", "\u00a0u", "Null\u00a0", "0", "00",
]) | st.text(max_size=12)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_identities, max_size=8))
def test_the_arrow_identity_screen_gives_the_per_record_verdicts(identities: list[str]) -> None:
    """On the Arrow column, identities are fine only when ``identity_ok`` holds for every one,
    and a column of printable ASCII is always judged there (the cheap path is taken)."""
    array = pa.array(identities, pa.string())
    fine = screen._arrow_identities_fine(array, "identity")
    per_record = all(checks.identity_ok(v) for v in identities)
    printable = all(v.isascii() and v.isprintable() for v in identities)
    if fine:
        assert per_record, identities
    if printable and identities:
        assert fine is per_record, identities
    columns = RecordColumns("profile", "identity", identities, {}, identities_array=array)
    rejected = {i for i, v in enumerate(identities) if not checks.identity_ok(v)}
    assert rejected <= screen.suspects(columns, now=NOW)
