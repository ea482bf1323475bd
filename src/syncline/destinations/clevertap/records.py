"""Row values → CleverTap record values (pure functions, fast).

Standard fields are normalised only where a user expects it (gender words, Y/N from booleans);
a value that still breaks a rule is left as is so the validator rejects it with CleverTap's code.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from syncline.destinations.clevertap.rules import STANDARD_PROFILE_FIELDS

__all__ = [
    "STANDARD_PROFILE_FIELDS",
    "clevertap_date",
    "epoch_seconds",
    "event_record",
    "normalise_standard",
    "profile_record",
    "to_boolean",
    "to_number",
    "to_string",
]

_MS_THRESHOLD = 100_000_000_000  # beyond year 5138 in seconds: must be milliseconds
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_GENDER = {"m": "M", "male": "M", "f": "F", "female": "F"}
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


def normalise_standard(field: str, value: Any) -> Any:
    """Gender words → M/F; Employed/Married booleans or yes/no → Y/N; anything else unchanged."""
    if field == "Gender" and isinstance(value, str):
        return _GENDER.get(value.strip().lower(), value)
    if field in _YN_FIELDS:
        try:
            return "Y" if to_boolean(value) else "N"
        except ValueError:
            return value
    return value


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
