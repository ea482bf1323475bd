from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from syncline.destinations.clevertap.records import (
    clevertap_date,
    epoch_seconds,
    event_record,
    normalise_phone,
    normalise_standard,
    phone_region_error,
    profile_record,
    standard_normaliser,
    to_boolean,
    to_number,
    to_string,
)

EPOCH = 1_700_000_000


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2023, 11, 14, 22, 13, 20),
        dt.datetime(2023, 11, 15, 0, 13, 20, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        EPOCH,
        EPOCH * 1000,
        "2023-11-14T22:13:20Z",
        "1700000000",
        Decimal(EPOCH),
    ],
    ids=["naive", "aware", "s", "ms", "iso", "digits", "decimal"],
)
def test_epoch_seconds(value: object) -> None:
    assert epoch_seconds(value) == EPOCH
    assert clevertap_date(value) == f"$D_{EPOCH}"


def test_epoch_seconds_of_date_and_bad_values() -> None:
    assert epoch_seconds(dt.date(1970, 1, 2)) == 86_400
    for bad in ("yesterday", True, [1], None):
        with pytest.raises(ValueError):
            epoch_seconds(bad)


def test_number_boolean_string() -> None:
    assert to_number("42") == 42 and to_number("4.5") == 4.5 and to_number(Decimal("3.00")) == 3
    assert to_number(Decimal("3.25")) == 3.25
    for bad in ("aa", True, [1]):
        with pytest.raises(ValueError):
            to_number(bad)
    for truthy in (True, 1, "true", "YES", "y"):
        assert to_boolean(truthy) is True
    for falsy in (False, 0, "false", "No", "n"):
        assert to_boolean(falsy) is False
    for bad in ("maybe", 2, 1.5):
        with pytest.raises(ValueError):
            to_boolean(bad)
    assert to_string(3.0) == "3" and to_string(dt.date(2020, 1, 2)) == "2020-01-02"
    with pytest.raises(ValueError):
        to_string({"a": 1})


def test_standard_normalisation_leaves_bad_values() -> None:
    assert normalise_standard("Gender", "female") == "F"
    assert normalise_standard("Gender", "M") == "M"
    assert normalise_standard("Gender", "other") == "other"
    assert normalise_standard("Married", True) == "Y"
    assert normalise_standard("Employed", "no") == "N"
    assert normalise_standard("Employed", "sometimes") == "sometimes"
    assert normalise_standard("Phone", "123") == "123"


@pytest.mark.parametrize(
    ("raw", "region", "sent"),
    [("+44 20 7946 0002", None, "+442079460002"), ("(415) 555-0001", "US", "+14155550001"),
     ("9876500001", "IN", "+919876500001"), ("9876500001", "in", "+919876500001"),
     ("+44 20 7946 0002", "IN", "+442079460002"), ("0044 20 7946 0002", "IN", "+442079460002"),
     ("+1 (415) 555.0001", None, "+14155550001"), (" +14155550001 ", None, "+14155550001"),
     ("+6834002", None, "+6834002"),
     # cannot be read: left for the rule to reject (no region; too short for the region)
     ("9876500001", None, "9876500001"), ("98765", "IN", "98765"), ("phone", "US", "phone"),
     # international but not a possible number: only cleaned of separators
     ("+999 12", None, "+99912")],
)  # fmt: skip
def test_phones_become_e164(raw: str, region: str | None, sent: str) -> None:
    assert normalise_phone(raw, region) == sent


def test_phone_region_must_be_a_country() -> None:
    assert phone_region_error("IN") is None and phone_region_error("us") is None
    assert "ISO 3166" in (phone_region_error("XX") or "")


def test_common_spellings_are_normalised() -> None:
    gender = standard_normaliser("Gender")
    assert gender is not None
    assert [gender(v) for v in ("male", "Female", "m", "F", " MAN ", "woman", "x")] == [
        "M", "F", "M", "F", "M", "F", "x"]  # fmt: skip
    email = standard_normaliser("Email")
    assert email is not None and email("  ann@example.com \t") == "ann@example.com"
    phone = standard_normaliser("Phone", phone_region="IN")
    assert phone is not None and phone(9876500001) == "+919876500001"
    married = standard_normaliser("Married")
    assert married is not None and married(True) == "Y" and married("no") == "N"
    assert standard_normaliser("Name") is None and standard_normaliser("MSG-email") is None


def test_record_shapes() -> None:
    assert profile_record("identity", 13, {"Name": "A"}) == {
        "identity": "13", "type": "profile", "profileData": {"Name": "A"},
    }  # fmt: skip
    record = event_record("identity", "u1", "Charged", {"Amount": 1}, EPOCH)
    assert record == {
        "identity": "u1", "type": "event", "ts": EPOCH, "evtName": "Charged",
        "evtData": {"Amount": 1},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "values", "by_column"),
    [("Email", ["a@example.com", " b@example.com\t", None, "\x1cc@example.com\x1f"], True),
     ("Email", ["é@example.com ", "a@example.com"], False),
     ("Phone", ["+14155550001", None, "+442079460002"], True),
     ("Phone", ["+14155550001", "+1 415 555 0002"], False),
     ("Gender", ["M", "F", None], True), ("Gender", ["M", "female"], False)],
)  # fmt: skip
def test_by_column_is_exactly_the_per_value_normalisation(
    field: str, values: list[str | None], by_column: bool
) -> None:
    normalise = standard_normaliser(field, phone_region="IN")
    assert normalise is not None
    done = normalise.by_column(pa.array(values, pa.string()))
    assert (done is not None) == by_column
    per_value = [None if v is None else normalise(v) for v in values]
    if done is not None:
        assert done.to_pylist() == per_value
