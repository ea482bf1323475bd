"""CleverTap's record rules, in one place: used by the sandbox server and by our client's
local validator, so a record Syncline rejects before sending gets the same code and text
CleverTap would have returned (see /work/shared/clevertap-api.md §2–§3, §7).

No I/O here. Field rules are a declarative table (``PROFILE_FIELD_RULES``); the order of checks
follows the spec's §7 item 5: type 524 → identity 523 → objectId 526 → ts 525 → events (509,
513, 528, 522, 512) or profiles (512 structure, then 514–520).

Decisions where CleverTap's behaviour is not documented (spec §8):

* ``Gender`` accepts exactly ``"M"`` or ``"F"`` (SDK docs); "Male"/"Female" are rejected (514).
* ``profileData`` missing or not an object → 512 "Invalid profile structure".
* key names with forbidden characters, keys over 120 bytes, string values over 512 bytes and
  nested values → 512 for events and profiles alike (the fixed DOC-ERR text; ``field`` names
  the key).
* restricted and discarded event names are compared case- and space-insensitively.
* ``ts``: int, integer-valued float or digit string, in ``[1, now + 1 day]``; ≥ 1e12 (ms) → 525.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from syncline.destinations.clevertap import multivalue

__all__ = [
    "MAX_CHARGED_ITEMS",
    "MAX_CONCURRENT_UPLOADS",
    "MAX_KEY_LENGTH",
    "MAX_RECORDS_PER_UPLOAD",
    "MAX_VALUE_BYTES",
    "RESTRICTED_EVENT_NAMES",
    "STANDARD_PROFILE_FIELDS",
    "Violation",
    "error_text",
    "parse_error_text",
    "validate_record",
    "validate_records",
]

MAX_RECORDS_PER_UPLOAD: Final = 1000
MAX_CONCURRENT_UPLOADS: Final = 15
MAX_KEY_LENGTH: Final = 120
MAX_VALUE_BYTES: Final = 512
MAX_CHARGED_ITEMS: Final = 256
MAX_IDENTITY_LENGTH: Final = 1024
MAX_TS_AHEAD_SECONDS: Final = 86_400
MS_THRESHOLD: Final = 10**12

IDENTITY_KEYS: Final = ("identity", "objectId", "FBID", "GPID")
RECORD_TYPES: Final = frozenset({"profile", "event", "token"})
VALUE_OPERATORS: Final = frozenset({"$add", "$remove", "$incr", "$decr", "$delete", "$set"})

# DOC-CSV: identity values CleverTap refuses (compared lower-case).
FORBIDDEN_IDENTITIES: Final = frozenset(
    {
        "undefined", "null", "na", "n/a", "0", "nil", "-1", "infinity", "-infinity", "inf",
        "-inf", "nan", "-nan", "empty", "xxxxxx", "none",
    }
)  # fmt: skip

# DOC-PLAT reserved system events, plus "Web Page Viewed" seen rejected in production (RS).
RESTRICTED_EVENT_NAMES: Final[frozenset[str]] = frozenset(
    {
        "Notification Sent", "Notification Viewed", "Notification Clicked",
        "Notification Delivered", "Notification Replied", "UTM Visited", "App Launched",
        "App Uninstalled", "App Version Changed", "Stayed", "Reply Sent",
        "Experiment Rendered", "Reachable By", "Identity Reset", "Identity Set",
        "Identity Error", "Web Page Viewed",
    }
)  # fmt: skip

STANDARD_PROFILE_FIELDS: Final[Mapping[str, str]] = {
    "Name": "string",
    "Email": "string",
    "Phone": "string",
    "Gender": "string",
    "Employed": "string",
    "Education": "string",
    "Married": "string",
    "Age": "number",
    "DOB": "date",
    "Photo": "string",
    "Identity": "string",
    "Timezone": "string",
    "MSG-email": "boolean",
    "MSG-push": "boolean",
    "MSG-push-all": "boolean",
    "MSG-sms": "boolean",
    "MSG-whatsapp": "boolean",
    "MSG-dndPhone": "boolean",
}

# DOC-PLAT: characters not allowed in event names and property keys ('#' for profiles only).
_EVENT_KEY_FORBIDDEN: Final = frozenset("%><!|&.:;$'\"\\")
_PROFILE_KEY_FORBIDDEN: Final = _EVENT_KEY_FORBIDDEN | {"#"}
_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")
_PHONE_RE: Final = re.compile(r"^\+[1-9][0-9]{7,14}$")
_OBJECT_ID_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUFFIX_RE: Final = re.compile(
    r"^(?P<msg>.*?)(?:\. |\.| )?Skipped record number : (?P<n>\d+)$", re.S
)

_PROFILE: Final = "Profile data is incorrect. "


def _event(code: int, detail: str) -> str:
    return f"Event Name is incorrect. ErrorCode: {code} - {detail}"


def _event_data(code: int, detail: str) -> str:
    return f"Event data is incorrect. ErrorCode: {code} - {detail}"


# code -> exact message before the record-number suffix (observed wording where recorded,
# DOC-ERR short text in the same pattern otherwise; spec §3.2).
MESSAGES: Final[Mapping[int, str]] = {
    509: _event(509, "Event name is mandatory"),
    512: _event_data(512, "Invalid event structure"),
    513: _event(513, "Trying to raise a restricted system event"),
    514: _PROFILE + "Gender is not valid",
    515: _PROFILE + "Email is not valid",
    516: _PROFILE + "Phone number is not valid",
    517: _PROFILE + "Employed needs to be Y/N",
    518: _PROFILE + "Education needs to be School/College/Graduate.",
    519: _PROFILE + "Married needs to be Y/N",
    520: _PROFILE + "Age is invalid",
    522: _event_data(522, "Event properties limit exceeded"),
    523: "Missing identity",
    524: "Data neither event nor profile",
    525: "Timestamp should be present in the Unix Epoch format",
    526: "objectId invalid",
    528: _event(528, "Discarded event is raised"),
    555: "Miscellaneous server error",
}
PROFILE_STRUCTURE_MESSAGE: Final = _PROFILE + "Invalid profile structure"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: CleverTap's code, its message (without the suffix), the key at fault."""

    code: int
    message: str
    field: str | None


def _violation(code: int, field: str | None) -> Violation:
    return Violation(code, MESSAGES[code], field)


def error_text(v: Violation, record_number: int) -> str:
    """The full wire ``error`` string, with CleverTap's exact separator for the message kind.

    Profile messages are glued with "." and no space ("…not valid.Skipped record number : 2";
    518's own trailing period gives its recorded double period); others use ". ".
    """
    sep = "." if v.message.startswith(_PROFILE) else ". "
    return f"{v.message}{sep}Skipped record number : {record_number}"


def parse_error_text(text: str) -> tuple[str, int | None]:
    """Inverse of :func:`error_text`: ``(message, 1-based record number or None)``."""
    m = _SUFFIX_RE.match(text)
    if m is None:
        return text, None
    return m.group("msg"), int(m.group("n"))


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


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A standard profile field's check and the code CleverTap answers when it fails."""

    code: int
    check: Callable[[Any], bool]


# allowed values of the standard fields that take a fixed set (SDK docs)
_FIELD_CHOICES: Final[Mapping[str, frozenset[str]]] = {
    "Gender": frozenset({"M", "F"}),
    "Employed": frozenset({"Y", "N"}),
    "Education": frozenset({"School", "College", "Graduate"}),
    "Married": frozenset({"Y", "N"}),
}

PROFILE_FIELD_RULES: Final[Mapping[str, FieldRule]] = {
    "Gender": FieldRule(514, _one_of(*_FIELD_CHOICES["Gender"])),
    "Email": FieldRule(515, lambda v: isinstance(v, str) and bool(_EMAIL_RE.match(v))),
    "Phone": FieldRule(516, lambda v: isinstance(v, str) and bool(_PHONE_RE.match(v))),
    "Employed": FieldRule(517, _one_of(*_FIELD_CHOICES["Employed"])),
    "Education": FieldRule(518, _one_of(*_FIELD_CHOICES["Education"])),
    "Married": FieldRule(519, _one_of(*_FIELD_CHOICES["Married"])),
    "Age": FieldRule(520, _valid_age),
}


def normalize_event_name(name: str) -> str:
    """CleverTap compares event names ignoring case and spaces (DOC-PLAT)."""
    return "".join(name.split()).lower()


_RESTRICTED_NORMALIZED: Final = frozenset(normalize_event_name(n) for n in RESTRICTED_EVENT_NAMES)


def _identity_ok(value: Any) -> bool:
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
def _key_ok(key: Any, forbidden: frozenset[str]) -> bool:
    # cached: a sync sends the same few keys in every record, and this runs once per key
    return (
        isinstance(key, str)
        and 0 < len(key.encode()) <= MAX_KEY_LENGTH
        and not forbidden.intersection(key)
    )


def _scalar_ok(value: Any) -> bool:
    if isinstance(value, str):
        # a UTF-8 character is at most 4 bytes: short strings need no encoding to be measured
        return len(value) <= MAX_VALUE_BYTES // 4 or len(value.encode()) <= MAX_VALUE_BYTES
    return value is None or isinstance(value, bool | int | float)


@functools.lru_cache(maxsize=64)
def _normalized(names: frozenset[str]) -> frozenset[str]:
    return frozenset(normalize_event_name(n) for n in names)


def _flat_ok(data: Mapping[str, Any], forbidden: frozenset[str]) -> str | None:
    """The first key whose name or scalar value breaks a rule, or None."""
    for key, value in data.items():
        if not _key_ok(key, forbidden) or not _scalar_ok(value):
            return str(key)
    return None


def _items_ok(items: Any) -> bool:
    if not isinstance(items, list) or len(items) > MAX_CHARGED_ITEMS:
        return False
    return all(isinstance(i, dict) and _flat_ok(i, _EVENT_KEY_FORBIDDEN) is None for i in items)


def _check_event(
    record: Mapping[str, Any], max_props: int, discarded: frozenset[str]
) -> Violation | None:
    name = record.get("evtName")
    if not isinstance(name, str) or not name.strip():
        return _violation(509, "evtName")
    norm = normalize_event_name(name)
    if norm in _RESTRICTED_NORMALIZED:
        return _violation(513, "evtName")
    if discarded and norm in _normalized(discarded):
        return _violation(528, "evtName")
    if _EVENT_KEY_FORBIDDEN.intersection(name) or len(name.encode()) > MAX_KEY_LENGTH:
        return _violation(512, "evtName")
    data = record.get("evtData", {})
    if not isinstance(data, dict):
        return _violation(512, "evtData")
    if len(data) > max_props:
        return _violation(522, "evtData")
    for key, value in data.items():
        if key == "Items" and norm == "charged" and isinstance(value, list):
            if not _items_ok(value):
                return _violation(512, key)
        elif not _key_ok(key, _EVENT_KEY_FORBIDDEN) or not _scalar_ok(value):
            return _violation(512, str(key))
    return None


def _profile_value_ok(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_VALUE_BYTES // 4 or len(value.encode()) <= MAX_VALUE_BYTES
    if isinstance(value, dict):
        return multivalue.operator_ok(value)
    if isinstance(value, list):
        return multivalue.multi_value_problem(value) is None
    return _scalar_ok(value)


def _check_profile(record: Mapping[str, Any]) -> Violation | None:
    data = record.get("profileData")
    if not isinstance(data, dict):
        return Violation(512, PROFILE_STRUCTURE_MESSAGE, "profileData")
    rules = PROFILE_FIELD_RULES
    bad_key = _first_bad_key(tuple(data), _PROFILE_KEY_FORBIDDEN)
    for key, value in data.items():
        short_text = type(value) is str and len(value) <= _SHORT
        if key == bad_key or not (short_text or _profile_value_ok(value)):
            return Violation(512, PROFILE_STRUCTURE_MESSAGE, str(key))
        if key in rules and not isinstance(value, dict) and not rules[key].check(value):
            return _violation(rules[key].code, key)
    return None


# a string this short is within the byte limit whatever it holds (UTF-8: at most 4 bytes a char)
_SHORT: Final = MAX_VALUE_BYTES // 4


@functools.lru_cache(maxsize=1024)
def _first_bad_key(keys: tuple[Any, ...], forbidden: frozenset[str]) -> Any:
    """The first key breaking a key rule, or None: one check per record shape, not per record."""
    return next((k for k in keys if not _key_ok(k, forbidden)), None)


# Fast path. Almost every record a sync sends is valid and shaped like the one before it, so
# the key rules are checked once per key tuple and the values with exact-type tests; anything
# the fast path is not sure of (a dict or long string value, another identity field, objectId,
# a rule that fails...) goes to the exact checks above, which alone decide what is reported.
_SIMPLE: Final = (int, float, bool, type(None))
_K = TypeVar("_K")
_V = TypeVar("_V")
# per rule field: (key, allowed strings or None, pattern's match or None, the full check)
_Rules = tuple[
    tuple[str, frozenset[str] | None, Callable[[str], Any] | None, Callable[[Any], bool]], ...
]
# the fast path calls the regex (or looks the value up in these sets) instead of the lambda
_FIELD_PATTERNS: Final[Mapping[str, Callable[[str], Any]]] = {
    "Email": _EMAIL_RE.match,
    "Phone": _PHONE_RE.match,
}
_SHAPES_MAX: Final = 4096
_profile_shapes: dict[tuple[Any, ...], _Rules | None] = {}
_event_shapes: dict[tuple[Any, ...], bool] = {}
_event_names: dict[str, tuple[str, bool]] = {}


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    if len(cache) >= _SHAPES_MAX:  # a client sending ever new keys must not grow memory
        cache.clear()
    cache[key] = value
    return value


def _profile_shape(keys: tuple[Any, ...]) -> _Rules | None:
    """The field rules that apply to a profileData key tuple, or None when a key breaks a rule."""
    if _first_bad_key(keys, _PROFILE_KEY_FORBIDDEN) is not None:
        return _remember(_profile_shapes, keys, None)
    rules = tuple(
        (k, _FIELD_CHOICES.get(k), _FIELD_PATTERNS.get(k), PROFILE_FIELD_RULES[k].check)
        for k in keys
        if k in PROFILE_FIELD_RULES
    )
    return _remember(_profile_shapes, keys, rules)


def _event_keys_ok(keys: tuple[Any, ...]) -> bool:
    ok = all(_key_ok(k, _EVENT_KEY_FORBIDDEN) for k in keys)
    return _remember(_event_shapes, keys, ok)


def _event_name(name: str) -> tuple[str, bool]:
    """``name`` normalized, and whether it passes 509, 513 and the 512 name checks."""
    norm = normalize_event_name(name)
    ok = (
        bool(name.strip())
        and norm not in _RESTRICTED_NORMALIZED
        and not _EVENT_KEY_FORBIDDEN.intersection(name)
        and len(name.encode()) <= MAX_KEY_LENGTH
    )
    return _remember(_event_names, name, (norm, ok))


def _fast_flat_ok(data: dict[Any, Any]) -> bool:
    """An event property dict (or Charged item) whose keys and values surely pass."""
    keys = tuple(data)
    ok = _event_shapes.get(keys)
    if not (_event_keys_ok(keys) if ok is None else ok):
        return False
    return _short_scalars(data.values())


def _short_scalars(values: Iterable[Any]) -> bool:
    """Every value is a string short enough for any encoding, or a plain scalar."""
    for value in values:
        kind = type(value)
        if kind is str:
            if len(value) > _SHORT:
                return False
        elif kind not in _SIMPLE:
            return False
    return True


def _fast_event_ok(record: dict[Any, Any], max_props: int, discarded: frozenset[str]) -> bool:
    name = record.get("evtName")
    if type(name) is not str:
        return False
    norm, ok = _event_names.get(name) or _event_name(name)
    if not ok or (discarded and norm in _normalized(discarded)):
        return False
    data = record.get("evtData", {})
    if type(data) is not dict or len(data) > max_props:
        return False
    keys = tuple(data)
    shape_ok = _event_shapes.get(keys)
    if not (_event_keys_ok(keys) if shape_ok is None else shape_ok):
        return False
    for key, value in data.items():
        kind = type(value)
        if kind is str:
            if len(value) > _SHORT:
                return False
        elif kind is list:
            if key != "Items" or norm != "charged" or len(value) > MAX_CHARGED_ITEMS:
                return False
            for item in value:
                if type(item) is not dict or not _fast_flat_ok(item):
                    return False
        elif kind not in _SIMPLE:
            return False
    return True


def _fast_profile_ok(data: Any) -> bool:
    if type(data) is not dict:
        return False
    keys = tuple(data)
    rules = _profile_shapes[keys] if keys in _profile_shapes else _profile_shape(keys)
    if rules is None or not _short_scalars(data.values()):
        return False
    for key, choices, match, check in rules:
        value = data[key]
        if choices is not None:
            if value not in choices:
                return False
        elif match is not None:
            if type(value) is not str or match(value) is None:
                return False
        elif not check(value):
            return False
    return True


def _fast_ok(
    record: dict[Any, Any], max_props: int, discarded: frozenset[str], now: float | None
) -> bool:
    """True only when the exact checks would find nothing (the common case, checked cheaply)."""
    identity = record.get("identity")
    if type(identity) is not str or "objectId" in record:
        return False
    text = identity.strip()
    if not 0 < len(text) < MAX_IDENTITY_LENGTH or text.lower() in FORBIDDEN_IDENTITIES:
        return False
    if "ts" in record:
        ts = record["ts"]
        if type(ts) is not int or not 1 <= ts < MS_THRESHOLD:
            return False
        if ts > (time.time() if now is None else now) + MAX_TS_AHEAD_SECONDS:
            return False
    kind = record.get("type")
    if kind == "profile":
        return _fast_profile_ok(record.get("profileData"))
    if kind == "event":
        return _fast_event_ok(record, max_props, discarded)
    return False


def validate_record(
    record: Mapping[str, Any],
    *,
    max_event_properties: int = 256,
    discarded_events: frozenset[str] = frozenset(),
    now: float | None = None,
) -> Violation | None:
    """The first rule ``record`` (one element of ``d``) breaks, in CleverTap's order, or None.

    ``max_event_properties`` is per account (256 legacy, 100 in 2026 docs); ``discarded_events``
    are names discarded in the dashboard; ``now`` (epoch seconds) bounds future timestamps.
    """
    if type(record) is dict and _fast_ok(record, max_event_properties, discarded_events, now):
        return None
    if not isinstance(record, Mapping):
        return _violation(524, "type")
    kind = record.get("type")
    if kind not in RECORD_TYPES:
        return _violation(524, "type")
    if not any(_identity_ok(record.get(k)) for k in IDENTITY_KEYS):
        return _violation(523, "identity")
    if "objectId" in record:
        oid = record["objectId"]
        if not isinstance(oid, str) or not _OBJECT_ID_RE.match(oid):
            return _violation(526, "objectId")
    if "ts" in record and not _ts_ok(record["ts"], time.time() if now is None else now):
        return _violation(525, "ts")
    if kind == "event":
        return _check_event(record, max_event_properties, discarded_events)
    if kind == "profile":
        return _check_profile(record)
    return None


def validate_records(
    records: Sequence[Any],
    *,
    max_event_properties: int = 256,
    discarded_events: frozenset[str] = frozenset(),
    now: float | None = None,
) -> dict[int, Violation]:
    """:func:`validate_record` over one upload's ``d``: ``{0-based position: violation}``.

    Valid records are absent, so the common answer is ``{}``; a server checking a thousand
    records an upload then pays one call instead of one per record.
    """
    found: dict[int, Violation] = {}
    for position, record in enumerate(records):
        if type(record) is dict and _fast_ok(record, max_event_properties, discarded_events, now):
            continue
        violation = validate_record(
            record,
            max_event_properties=max_event_properties,
            discarded_events=discarded_events,
            now=now,
        )
        if violation is not None:
            found[position] = violation
    return found
