"""Row values → CleverTap record values (pure functions, fast).

Standard fields are normalised where a CRM's values commonly differ from CleverTap's format:
phone numbers become E.164 (``phone_region`` reads national numbers), gender words become M/F,
emails lose surrounding spaces, booleans and yes/no become Y/N for Employed/Married. A value
that still breaks a rule is left as is so the validator rejects it with CleverTap's code.
Normalising is our choice, not CleverTap's: CleverTap refuses ``female`` or ``9876500001``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from syncline.destinations.clevertap.rules import STANDARD_PROFILE_FIELDS
from syncline.lazy import lazy_module

if TYPE_CHECKING:
    import phonenumbers
    import pyarrow.compute as pc
else:  # loaded on first use (syncline/lazy.py): a run with nothing to send never needs them
    pc = lazy_module("pyarrow.compute")
    phonenumbers = lazy_module("phonenumbers")


__all__ = [
    "STANDARD_PROFILE_FIELDS",
    "Normaliser",
    "clevertap_date",
    "epoch_seconds",
    "event_record",
    "normalise_phone",
    "normalise_standard",
    "phone_region_error",
    "profile_record",
    "standard_normaliser",
    "to_boolean",
    "to_number",
    "to_string",
]

_MS_THRESHOLD = 100_000_000_000  # beyond year 5138 in seconds: must be milliseconds
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_GENDER = {"m": "M", "male": "M", "man": "M", "f": "F", "female": "F", "woman": "F"}
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s.()\-]")
_YN_FIELDS = {"Employed", "Married"}


def epoch_seconds(value: object) -> int:
    """Epoch seconds from a datetime (naive = UTC), date, epoch s/ms number or ISO string."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a timestamp")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp())
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
    if isinstance(value, int | float | Decimal):
        number = int(value)
        return number // 1000 if abs(number) >= _MS_THRESHOLD else number
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return epoch_seconds(int(text))
        try:
            return epoch_seconds(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date/time or epoch number") from None
    raise ValueError(f"{value!r} ({type(value).__name__}) is not a date or timestamp")


def clevertap_date(value: object) -> str:
    """CleverTap's date encoding, ``$D_<epoch seconds>``."""
    return f"$D_{epoch_seconds(value)}"


def to_number(value: object) -> int | float:
    """A JSON number; strings are parsed, booleans refused."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        return int(number) if number.is_integer() else number
    raise ValueError(f"{value!r} ({type(value).__name__}) is not a number")


def to_boolean(value: object) -> bool:
    """A boolean from bool, 0/1, true/false, yes/no, y/n (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean (true/false, yes/no, y/n, 0/1)")


def to_string(value: object) -> str:
    """Text; dates become ISO text, whole floats lose their ``.0``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict | tuple):
        raise ValueError(f"{value!r} is a nested value, not a scalar")
    return str(value)


def phone_region_error(region: str) -> str | None:
    """Why ``region`` cannot read phone numbers (not an ISO country code we know), or None."""
    if region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return None
    return (f"phone_region `{region}` is not an ISO 3166 country code that phone numbers can be "
            f"read for; use e.g. IN, US or GB")  # fmt: skip


def normalise_phone(value: str, region: str | None = None) -> str:
    """A phone number in E.164 (``+14155550001``) when it can be read, else ``value`` unchanged.

    Numbers in international form (``+44 20 7946 0002``) are read whatever the region; national
    numbers (``(415) 555-0001``, ``9876500001``) only with ``region`` (ISO country, e.g. ``US``).
    A number that cannot be read keeps its text, so the rule rejects it and says why.
    """
    text = value.strip()
    if _E164.match(text):
        return text  # the common case, and the cheap one
    if not text.startswith("+") and region is None:
        return value
    try:
        number = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if text.startswith("+"):
        return _PHONE_SEPARATORS.sub("", text)
    return value


def normalise_standard(field: str, value: Any, *, phone_region: str | None = None) -> Any:
    """A standard field's value in CleverTap's format where it can be; else unchanged.

    Gender words (male, Female, m, woman...) → M/F; Employed/Married booleans or yes/no → Y/N;
    Email trimmed; Phone → E.164 (see :func:`normalise_phone`).
    """
    if field == "Gender" and isinstance(value, str):
        return _GENDER.get(value.strip().lower(), value)
    if field == "Email" and isinstance(value, str):
        return value.strip()
    if field == "Phone" and isinstance(value, str):
        return normalise_phone(value, phone_region)
    if field in _YN_FIELDS:
        try:
            return "Y" if to_boolean(value) else "N"
        except ValueError:
            return value
    return value


_NORMALISED = frozenset({"Gender", "Email", "Phone", *_YN_FIELDS})


class Normaliser:
    """Converts one standard field's values; ``by_column`` settles a whole Arrow column at once.

    Called per value, it reads booleans as booleans (Employed/Married) and anything else as
    text. Per-value Python is most of a large sync's CPU, so a text column that is already in
    CleverTap's format (every phone E.164, every gender M/F) or that Arrow can trim exactly
    (ASCII emails) is handled by column instead.
    """

    def __init__(self, field: str, phone_region: str | None) -> None:
        self.field, self.phone_region = field, phone_region

    def __call__(self, value: Any) -> Any:
        text = value if isinstance(value, bool) else to_string(value)
        return normalise_standard(self.field, text, phone_region=self.phone_region)

    def by_column(self, array: pa.Array) -> pa.Array | None:
        """The column normalised by Arrow, exactly as per value; None when it cannot tell."""
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            return None
        if self.field == "Email" and pc.all(pc.string_is_ascii(array)).as_py() is not False:
            return pc.utf8_trim(array, characters=_ASCII_SPACE)  # what str.strip removes
        if self.field == "Phone" and _all(pc.match_substring_regex(array, _E164.pattern)):
            return array
        if self.field == "Gender" and _all(pc.is_in(array.drop_null(), value_set=_GENDERS)):
            return array
        return None


_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_GENDERS = pa.array(["M", "F"])


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def standard_normaliser(field: str, *, phone_region: str | None = None) -> Normaliser | None:
    """The converter for a standard profile field whose values are normalised, or None."""
    if field not in _NORMALISED:
        return None
    return Normaliser(field, phone_region)


def profile_record(
    identity_field: str, identity: object, profile_data: dict[str, Any], ts: int | None = None
) -> dict[str, Any]:
    """A ``type: profile`` record; the identity is always sent as a string."""
    record: dict[str, Any] = {identity_field: to_string(identity), "type": "profile"}
    if ts is not None:
        record["ts"] = ts
    record["profileData"] = profile_data
    return record


def event_record(
    identity_field: str, identity: object, evt_name: str, evt_data: dict[str, Any], ts: int | None
) -> dict[str, Any]:
    """A ``type: event`` record."""
    record: dict[str, Any] = {identity_field: to_string(identity), "type": "event"}
    if ts is not None:
        record["ts"] = ts
    record["evtName"] = evt_name
    record["evtData"] = evt_data
    return record
