"""CleverTap's record rules as exact checks, in CleverTap's order (``docs/clevertap.md`` §3.2).

type 524 → identity 523 → objectId 526 → ts 525 → events (509, 513, 528, 522, 512) or profiles
(512 structure, then 512 per key and 514–520). CleverTap answers one code per record: the
first fault. :func:`faults` goes on past it and lists every property at fault, so a user sees
all of a row's problems at once and ``drop_field`` can send the rest.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from syncline.destinations.clevertap import multivalue
from syncline.destinations.clevertap.rules.catalog import (
    EMAIL_RE,
    EVENT_KEY_FORBIDDEN,
    FIELD_CHOICES,
    FORBIDDEN_IDENTITIES,
    IDENTITY_KEYS,
    MAX_CHARGED_ITEMS,
    MAX_IDENTITY_LENGTH,
    MAX_KEY_LENGTH,
    MAX_TS_AHEAD_SECONDS,
    MAX_VALUE_BYTES,
    MS_THRESHOLD,
    OBJECT_ID_RE,
    PHONE_RE,
    PROFILE_KEY_FORBIDDEN,
    PROFILE_STRUCTURE_MESSAGE,
    RECORD_TYPES,
    RESTRICTED_EVENT_NAMES,
    FieldRule,
    Violation,
    violation,
)

__all__ = [
    "PROFILE_FIELD_RULES",
    "SHORT",
    "faults",
    "first_bad_key",
    "identity_ok",
    "items_ok",
    "key_ok",
    "normalize_event_name",
    "normalized",
    "record_fault",
    "short_or_scalar",
]

# a string this short is within the byte limit whatever it holds (UTF-8: at most 4 bytes a char)
SHORT: Final = MAX_VALUE_BYTES // 4


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _valid_age(v: Any) -> bool:
    if _is_number(v):
        return math.isfinite(v)
    if isinstance(v, str):
        try:
            return math.isfinite(float(v))
        except ValueError:
            return False
    return False


def _one_of(*allowed: str) -> Callable[[Any], bool]:
    options = frozenset(allowed)
    return lambda v: isinstance(v, str) and v in options


PROFILE_FIELD_RULES: Final[Mapping[str, FieldRule]] = {
    "Gender": FieldRule(514, _one_of(*FIELD_CHOICES["Gender"])),
    "Email": FieldRule(515, lambda v: isinstance(v, str) and bool(EMAIL_RE.match(v))),
    "Phone": FieldRule(516, lambda v: isinstance(v, str) and bool(PHONE_RE.match(v))),
    "Employed": FieldRule(517, _one_of(*FIELD_CHOICES["Employed"])),
    "Education": FieldRule(518, _one_of(*FIELD_CHOICES["Education"])),
    "Married": FieldRule(519, _one_of(*FIELD_CHOICES["Married"])),
    "Age": FieldRule(520, _valid_age),
}


def normalize_event_name(name: str) -> str:
    """CleverTap compares event names ignoring case and spaces (its platform docs)."""
    return "".join(name.split()).lower()


RESTRICTED_NORMALIZED: Final = frozenset(normalize_event_name(n) for n in RESTRICTED_EVENT_NAMES)


def identity_ok(value: Any) -> bool:
    """A usable identity: a string or integer, not blank, not too long, not a refused word."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    text = str(value).strip()
    return 0 < len(text) < MAX_IDENTITY_LENGTH and text.lower() not in FORBIDDEN_IDENTITIES


def _ts_ok(ts: Any, now: float) -> bool:
    if isinstance(ts, bool):
        return False
    if isinstance(ts, float):
        if not ts.is_integer():
            return False
        ts = int(ts)
    elif isinstance(ts, str):
        if not ts.isascii() or not ts.isdigit():
            return False
        ts = int(ts)
    if not isinstance(ts, int):
        return False
    return 1 <= ts < MS_THRESHOLD and ts <= now + MAX_TS_AHEAD_SECONDS


@functools.lru_cache(maxsize=8192)
def key_ok(key: Any, forbidden: frozenset[str]) -> bool:
    """A property key CleverTap takes; cached: a sync sends the same few keys in every record."""
    return (
        isinstance(key, str)
        and 0 < len(key.encode()) <= MAX_KEY_LENGTH
        and not forbidden.intersection(key)
    )


def short_or_scalar(value: Any) -> bool:
    """A string within the byte limit, or a plain scalar (null, boolean, number)."""
    if isinstance(value, str):
        # a UTF-8 character is at most 4 bytes: short strings need no encoding to be measured
        return len(value) <= SHORT or len(value.encode()) <= MAX_VALUE_BYTES
    return value is None or isinstance(value, bool | int | float)


@functools.lru_cache(maxsize=64)
def normalized(names: frozenset[str]) -> frozenset[str]:
    """Event names as CleverTap compares them."""
    return frozenset(normalize_event_name(n) for n in names)


def _flat_ok(data: Mapping[str, Any], forbidden: frozenset[str]) -> str | None:
    """The first key whose name or scalar value breaks a rule, or None."""
    for key, value in data.items():
        if not key_ok(key, forbidden) or not short_or_scalar(value):
            return str(key)
    return None


def items_ok(items: Any) -> bool:
    """A Charged event's ``Items``: a short list of flat objects."""
    if not isinstance(items, list) or len(items) > MAX_CHARGED_ITEMS:
        return False
    return all(isinstance(i, dict) and _flat_ok(i, EVENT_KEY_FORBIDDEN) is None for i in items)


def _event_faults(
    record: Mapping[str, Any], max_props: int, discarded: frozenset[str], every: bool
) -> list[Violation]:
    name = record.get("evtName")
    if not isinstance(name, str) or not name.strip():
        return [violation(509, "evtName")]
    norm = normalize_event_name(name)
    if norm in RESTRICTED_NORMALIZED:
        return [violation(513, "evtName")]
    if discarded and norm in normalized(discarded):
        return [violation(528, "evtName")]
    if EVENT_KEY_FORBIDDEN.intersection(name) or len(name.encode()) > MAX_KEY_LENGTH:
        return [violation(512, "evtName")]
    data = record.get("evtData", {})
    if not isinstance(data, dict):
        return [violation(512, "evtData")]
    if len(data) > max_props:
        return [violation(522, "evtData")]
    found: list[Violation] = []
    for key, value in data.items():
        if key == "Items" and norm == "charged" and isinstance(value, list):
            ok = items_ok(value)
        else:
            ok = key_ok(key, EVENT_KEY_FORBIDDEN) and short_or_scalar(value)
        if not ok:
            found.append(violation(512, str(key), in_data=True))
            if not every:
                break
    return found


def _profile_value_ok(value: Any) -> bool:
    if isinstance(value, dict):
        return multivalue.operator_ok(value)
    if isinstance(value, list):
        return multivalue.multi_value_problem(value) is None
    return short_or_scalar(value)


def _profile_faults(record: Mapping[str, Any], every: bool) -> list[Violation]:
    data = record.get("profileData")
    if not isinstance(data, dict):
        return [Violation(512, PROFILE_STRUCTURE_MESSAGE, "profileData")]
    rules = PROFILE_FIELD_RULES
    bad_key = first_bad_key(tuple(data), PROFILE_KEY_FORBIDDEN)
    found: list[Violation] = []
    for key, value in data.items():
        short_text = type(value) is str and len(value) <= SHORT
        if (bad_key is not None and not key_ok(key, PROFILE_KEY_FORBIDDEN)) or not (
            short_text or _profile_value_ok(value)
        ):
            found.append(Violation(512, PROFILE_STRUCTURE_MESSAGE, str(key), True))
        elif key in rules and not isinstance(value, dict) and not rules[key].check(value):
            found.append(violation(rules[key].code, key, in_data=True))
        else:
            continue
        if not every:
            break
    return found


@functools.lru_cache(maxsize=1024)
def first_bad_key(keys: tuple[Any, ...], forbidden: frozenset[str]) -> Any:
    """The first key breaking a key rule, or None: one check per record shape, not per record."""
    return next((k for k in keys if not key_ok(k, forbidden)), None)


def record_fault(record: Any, *, now: float) -> Violation | None:
    """The fault of the record as a whole (type, identity, objectId, ts), or None."""
    if not isinstance(record, Mapping):
        return violation(524, "type")
    if record.get("type") not in RECORD_TYPES:
        return violation(524, "type")
    if not any(identity_ok(record.get(k)) for k in IDENTITY_KEYS):
        return violation(523, "identity")
    if "objectId" in record:
        oid = record["objectId"]
        if not isinstance(oid, str) or not OBJECT_ID_RE.match(oid):
            return violation(526, "objectId")
    if "ts" in record and not _ts_ok(record["ts"], now):
        return violation(525, "ts")
    return None


def faults(
    record: Any, *, max_event_properties: int, discarded_events: frozenset[str], now: float,
    every: bool = True,
) -> list[Violation]:  # fmt: skip
    """The rules ``record`` breaks, first as CleverTap would name it; [] when it is valid.

    A fault of the record as a whole stops the checks (CleverTap looks no further); faults of
    single properties are all listed when ``every`` is true.
    """
    whole = record_fault(record, now=now)
    if whole is not None:
        return [whole]
    kind = record.get("type")
    if kind == "event":
        return _event_faults(record, max_event_properties, discarded_events, every)
    if kind == "profile":
        return _profile_faults(record, every)
    return []
