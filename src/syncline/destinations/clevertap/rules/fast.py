"""The fast path: is a record surely valid? Checked cheaply, for the common case.

Almost every record a sync sends is valid and shaped like the one before it, so the key rules
are checked once per key tuple and the values with exact-type tests; anything the fast path is
not sure of (a dict or long string value, another identity field, objectId, a rule that
fails...) goes to the exact checks (``checks``), which alone decide what is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from syncline.destinations.clevertap.rules.catalog import (
    EMAIL_RE,
    EVENT_KEY_FORBIDDEN,
    FIELD_CHOICES,
    FORBIDDEN_IDENTITIES,
    MAX_CHARGED_ITEMS,
    MAX_IDENTITY_LENGTH,
    MAX_KEY_LENGTH,
    MAX_TS_AHEAD_SECONDS,
    MS_THRESHOLD,
    PHONE_RE,
    PROFILE_KEY_FORBIDDEN,
)
from syncline.destinations.clevertap.rules.checks import (
    PROFILE_FIELD_RULES,
    RESTRICTED_NORMALIZED,
    SHORT,
    first_bad_key,
    key_ok,
    normalize_event_name,
    normalized,
)

__all__ = ["fast_ok"]

_SIMPLE: Final = (int, float, bool, type(None))
_K = TypeVar("_K")
_V = TypeVar("_V")
# per rule field: (key, allowed strings or None, pattern's match or None, the full check)
_Rules = tuple[
    tuple[str, frozenset[str] | None, Callable[[str], Any] | None, Callable[[Any], bool]], ...
]
# the fast path calls the regex (or looks the value up in these sets) instead of the lambda
_FIELD_PATTERNS: Final[Mapping[str, Callable[[str], Any]]] = {
    "Email": EMAIL_RE.match,
    "Phone": PHONE_RE.match,
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
    if first_bad_key(keys, PROFILE_KEY_FORBIDDEN) is not None:
        return _remember(_profile_shapes, keys, None)
    rules = tuple(
        (k, FIELD_CHOICES.get(k), _FIELD_PATTERNS.get(k), PROFILE_FIELD_RULES[k].check)
        for k in keys
        if k in PROFILE_FIELD_RULES
    )
    return _remember(_profile_shapes, keys, rules)


def _event_keys_ok(keys: tuple[Any, ...]) -> bool:
    ok = all(key_ok(k, EVENT_KEY_FORBIDDEN) for k in keys)
    return _remember(_event_shapes, keys, ok)


def _event_name(name: str) -> tuple[str, bool]:
    """``name`` normalized, and whether it passes 509, 513 and the 512 name checks."""
    norm = normalize_event_name(name)
    ok = (
        bool(name.strip())
        and norm not in RESTRICTED_NORMALIZED
        and not EVENT_KEY_FORBIDDEN.intersection(name)
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
            if len(value) > SHORT:
                return False
        elif kind not in _SIMPLE:
            return False
    return True


def _fast_event_ok(record: dict[Any, Any], max_props: int, discarded: frozenset[str]) -> bool:
    name = record.get("evtName")
    if type(name) is not str:
        return False
    norm, ok = _event_names.get(name) or _event_name(name)
    if not ok or (discarded and norm in normalized(discarded)):
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
            if len(value) > SHORT:
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


def fast_ok(
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
