from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncline.destinations.clevertap.rules import (
    Violation,
    error_text,
    parse_error_text,
    validate_all,
    validate_record,
)

NOW = 1_700_000_000.0


def profile(**data: Any) -> dict[str, Any]:
    return {"type": "profile", "identity": "u1", "profileData": data}


def event(name: Any = "Product viewed", **data: Any) -> dict[str, Any]:
    return {"type": "event", "identity": "u1", "evtName": name, "evtData": data}


CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("type", {"identity": "1", "type": "x"}, 524, "Data neither event nor profile"),
    ("identity", {"type": "profile", "profileData": {}}, 523, "Missing identity"),
    ("identity-null", {"type": "event", "identity": "null", "evtName": "a"}, 523,
     "Missing identity"),
    ("objectId", {"type": "profile", "objectId": "a b", "profileData": {}}, 526,
     "objectId invalid"),
    ("ts0", {**profile(), "ts": 0}, 525, "Timestamp should be present in the Unix Epoch format"),
    ("ts-ms", {**profile(), "ts": 1_700_000_000_000}, 525,
     "Timestamp should be present in the Unix Epoch format"),
    ("evtName", event(name=""), 509,
     "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory"),
    ("restricted", event(name="App Launched"), 513,
     "Event Name is incorrect. ErrorCode: 513 - Trying to raise a restricted system event"),
    ("nested", event(x={"a": 1}), 512,
     "Event data is incorrect. ErrorCode: 512 - Invalid event structure"),
    ("bad-key", event(**{"a.b": 1}), 512,
     "Event data is incorrect. ErrorCode: 512 - Invalid event structure"),
    ("long-value", event(x="v" * 513), 512,
     "Event data is incorrect. ErrorCode: 512 - Invalid event structure"),
    ("props", event(**{f"k{i}": i for i in range(257)}), 522,
     "Event data is incorrect. ErrorCode: 522 - Event properties limit exceeded"),
    ("gender", profile(Gender="Male"), 514, "Profile data is incorrect. Gender is not valid"),
    ("email", profile(Email="$$$$$"), 515, "Profile data is incorrect. Email is not valid"),
    ("phone", profile(Phone="+44+441234"), 516,
     "Profile data is incorrect. Phone number is not valid"),
    ("employed", profile(Employed="yes"), 517,
     "Profile data is incorrect. Employed needs to be Y/N"),
    ("education", profile(Education="PhD"), 518,
     "Profile data is incorrect. Education needs to be School/College/Graduate."),
    ("married", profile(Married="maybe"), 519,
     "Profile data is incorrect. Married needs to be Y/N"),
    ("age", profile(Age="aa"), 520, "Profile data is incorrect. Age is invalid"),
    ("profileData", {"type": "profile", "identity": "1"}, 512,
     "Profile data is incorrect. Invalid profile structure"),
]  # fmt: skip


@pytest.mark.parametrize(("record", "code", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_each_code_has_its_message(record: dict[str, Any], code: int, message: str) -> None:
    v = validate_record(record, now=NOW)
    assert v is not None
    assert (v.code, v.message) == (code, message)


def test_valid_records_pass() -> None:
    good = profile(Name="Jack", Email="jack@gmail.com", Phone="+14155551234", Gender="M",
                   Employed="Y", Education="Graduate", Married="N", Age="18",
                   DOB="$D_1487576752", Tags=["a", "b"], Score={"$incr": 1})  # fmt: skip
    assert validate_record({**good, "ts": 1468308340}, now=NOW) is None
    items = [{"Category": "books", "Quantity": 1}] * 3
    assert validate_record(event("Charged", Amount=300, Items=items), now=NOW) is None
    assert validate_record({"type": "event", "FBID": "3", "evtName": "x"}, now=NOW) is None


def test_phone_numbers() -> None:
    for bad in ("223", "123", "+44+441234", "14155551234"):
        assert validate_record(profile(Phone=bad), now=NOW) == Violation(
            516, "Profile data is incorrect. Phone number is not valid", "Phone"
        )
    assert validate_record(profile(Phone="+35922333232"), now=NOW) is None


def test_phone_rule_is_not_stricter_than_documented() -> None:
    """CleverTap documents "+[country code][phone number]": short national numbers (Niue's
    +683 4002) and numbers written with separators pass; a second "+" or none still fails."""
    for good in ("+6834002", "+1 415-555-1234", "+44 (20) 7946.0002", "+91 98765 00001"):
        assert validate_record(profile(Phone=good), now=NOW) is None, good
    for bad in ("+0123456", "+1", "+44+441234", "+1 415 555 1234 5678 9012", "+1-", "phone"):
        assert validate_record(profile(Phone=bad), now=NOW) is not None, bad


def test_event_property_limit_defaults_to_the_documented_100() -> None:
    assert validate_record(event(**{f"k{i}": i for i in range(100)}), now=NOW) is None
    v = validate_record(event(**{f"k{i}": i for i in range(101)}), now=NOW)
    assert v is not None and v.code == 522
    assert validate_record(event(**{f"k{i}": i for i in range(101)}), now=NOW,
                           max_event_properties=256) is None


def test_validate_all_lists_every_field_at_fault() -> None:
    record = profile(Gender="x", Email="a@example.com", Phone="12", Age="old", ok="fine")
    found = validate_all(record, now=NOW)
    assert [(v.code, v.field, v.in_data) for v in found] == [
        (514, "Gender", True), (516, "Phone", True), (520, "Age", True)]
    assert found[0] == validate_record(record, now=NOW)
    assert validate_all({"type": "profile", "profileData": {"Gender": "x"}}, now=NOW) == [
        Violation(523, "Missing identity", "identity")]
    bad_props = validate_all(event(**{"a.b": 1, "ok": 2, "n": {"x": 1}}), now=NOW)
    assert [(v.code, v.field) for v in bad_props] == [(512, "a.b"), (512, "n")]


def test_discarded_events_ignore_case_and_spaces() -> None:
    v = validate_record(event("sign up"), discarded_events=frozenset({"SignUp"}), now=NOW)
    assert v is not None and v.code == 528


def test_ts_rules() -> None:
    assert validate_record({**profile(), "ts": "1468308340"}, now=NOW) is None
    assert validate_record({**profile(), "ts": NOW + 2 * 86400}, now=NOW) is not None
    assert validate_record({**profile(), "ts": True}, now=NOW) is not None


def test_charged_items_limit() -> None:
    too_many = [{"q": 1}] * 257
    v = validate_record(event("Charged", Items=too_many), now=NOW)
    assert v is not None and (v.code, v.field) == (512, "Items")
    assert validate_record(event("Other", Items=[{"q": 1}]), now=NOW) is not None


def test_error_text_separators() -> None:
    p = validate_record(profile(Email="1234"), now=NOW)
    e = validate_record(event(name=None), now=NOW)
    t = validate_record({**profile(), "ts": 0}, now=NOW)
    edu = validate_record(profile(Education="x"), now=NOW)
    assert p and e and t and edu
    assert (
        error_text(p, 2)
        == "Profile data is incorrect. Email is not valid.Skipped record number : 2"
    )
    assert error_text(e, 2) == (
        "Event Name is incorrect. ErrorCode: 509 - Event name is mandatory. "
        "Skipped record number : 2"
    )
    assert error_text(t, 1) == (
        "Timestamp should be present in the Unix Epoch format. Skipped record number : 1"
    )
    assert error_text(edu, 3).endswith("Graduate..Skipped record number : 3")


@given(st.sampled_from([c[1] for c in CASES]), st.integers(min_value=1, max_value=1000))
def test_parse_error_text_inverts_error_text(record: dict[str, Any], number: int) -> None:
    v = validate_record(record, now=NOW)
    assert v is not None
    assert parse_error_text(error_text(v, number)) == (v.message, number)


def test_parse_error_text_without_suffix() -> None:
    assert parse_error_text("something else") == ("something else", None)


@given(st.text(max_size=30))
def test_random_identities_never_crash(identity: str) -> None:
    v = validate_record({"type": "event", "identity": identity, "evtName": "x"}, now=NOW)
    assert v is None or v.code == 523


# The validator answers most records through a fast path for plain dicts; any other Mapping
# takes only the exact checks. Both must give the same answer for every record.
_words = st.sampled_from(["", " ", "x", "a.b", "#t", "M", "F", "Male", "Y", "N", "School", "PhD",
                          "null", " u1 ", "ann@example.com", "bad@", "+14155551234", "+1", "31",
                          "Charged", " charged", "App Launched", "Items", "ü" * 130, "v" * 513,
                          "k" * 121, "$D_1487576752", "1700000000"])  # fmt: skip
_keys = st.one_of(_words, st.sampled_from(["Name", "Email", "Phone", "Gender", "Employed",
                                           "Education", "Married", "Age", "p"]))  # fmt: skip
_scalars = st.one_of(_words, st.integers(-2, 2 * 10**12), st.booleans(), st.none(),
                     st.floats(allow_nan=False))  # fmt: skip
_flat = st.dictionaries(_keys, _scalars, max_size=5)
_values = st.one_of(
    _scalars,
    _flat,
    st.dictionaries(st.sampled_from(["$add", "$incr", "$bogus"]), _scalars, max_size=2),
    st.lists(st.one_of(_flat, _scalars), max_size=3),
)


@st.composite
def _records(draw: st.DrawFn) -> Any:
    record: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(["identity", "objectId", "FBID", "ts"]))):
        record[key] = draw(st.one_of(_scalars, st.sampled_from(["ab_1", 1_700_000_000])))
    record["type"] = draw(st.sampled_from(["profile", "event", "token", None]))
    if draw(st.booleans()):
        record["evtName"] = draw(_words)
    for key in ("evtData", "profileData"):
        if draw(st.booleans()):
            record[key] = draw(st.one_of(st.dictionaries(_keys, _values, max_size=6), _scalars))
    return record


@given(
    _records(),
    st.sampled_from([frozenset(), frozenset({"charged"}), frozenset({"x"})]),
    st.sampled_from([2, 256]),
)
def test_fast_path_agrees_with_exact_checks(
    record: dict[str, Any], discarded: frozenset[str], max_props: int
) -> None:
    options: dict[str, Any] = {"now": NOW, "discarded_events": discarded,
                               "max_event_properties": max_props}  # fmt: skip
    exact = validate_record(MappingProxyType(record), **options)
    assert validate_record(record, **options) == exact
    assert validate_record(record, **options) == exact  # again, with the shape caches warm


def test_fast_path_agrees_on_typical_records() -> None:
    items = [{"product_id": "p1", "name": "Product 1", "price": 9.5, "quantity": 2}]
    charged = {"type": "event", "identity": "u1", "evtName": "Charged", "ts": 1_690_000_000,
               "evtData": {"Amount": 9.5, "Items": items}}  # fmt: skip
    user = {"identity": "u1", "type": "profile", "profileData": {
        "Name": "User 1", "Email": "user1@example.com", "Phone": "+14150000001", "Gender": "M",
        "score": 12.34, "signup_date": "$D_1600000000"}}  # fmt: skip
    variants: list[dict[str, Any]] = [
        charged, user, {**user, "ts": NOW + 86_401}, {**charged, "evtName": "charged."},
        {**charged, "evtData": {"Items": [*items, {"x": [1]}]}},
        {**charged, "evtData": {"Items": items * 257}},
        {**user, "profileData": {"Gender": "X"}}, {**user, "identity": "NULL"},
        {**user, "profileData": {"Email": {"$set": "bad"}, "Age": [1]}}]  # fmt: skip
    for record in variants:
        exact = validate_record(MappingProxyType(record), now=NOW)
        assert validate_record(record, now=NOW) == exact, record
    assert validate_record(charged, now=NOW) is None and validate_record(user, now=NOW) is None
