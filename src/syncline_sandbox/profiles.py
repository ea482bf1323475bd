"""How an uploaded ``profileData`` changes a stored profile (docs/clevertap.md §2.4).

Keys not sent are kept; a plain value or array replaces; value operators ``$set``, ``$add``,
``$remove``, ``$incr``, ``$decr``, ``$delete`` change the stored value in place. ``$delete``
removes any property (the CSV docs' reading; the API page's sample says Name and Gender only,
and what CleverTap does for other properties is not documented there).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_MULTI_VALUES", "apply_profile_data", "plain_profile_data"]

MAX_MULTI_VALUES = 100


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [str(value)]


def _add(old: Any, items: Any) -> list[Any]:
    # a scalar is promoted to a multi-value; values stay unique; the oldest drop past 100
    result = _as_list(old)
    for item in _as_list(items):
        if item not in result:
            result.append(item)
    return result[-MAX_MULTI_VALUES:]


def _number(value: Any) -> float | int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list})


def plain_profile_data(update: dict[str, Any]) -> bool:
    """Whether ``update`` holds no value operator (no dict value at all): applied to a new
    profile it is then the profile itself, and the store can skip building a copy."""
    return _PLAIN_TYPES.issuperset(map(type, update.values()))


def apply_profile_data(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The profile after ``update``; ``current`` is not modified."""
    result = dict(current)
    for key, value in update.items():
        if not isinstance(value, dict) or len(value) != 1:
            result[key] = value
            continue
        ((op, arg),) = value.items()
        if op == "$set" and isinstance(arg, list):
            # multi-value: values unique (DOC-PLAT), an empty one removed
            values = list(dict.fromkeys(arg))
            if values:
                result[key] = values
            else:
                result.pop(key, None)
        elif op == "$set":
            result[key] = arg
        elif op == "$delete":
            result.pop(key, None)
        elif op == "$incr":
            result[key] = _number(result.get(key, 0)) + _number(arg)
        elif op == "$decr":
            result[key] = _number(result.get(key, 0)) - _number(arg)
        elif op == "$add":
            result[key] = _add(result.get(key), arg)
        elif op == "$remove":
            remaining = [v for v in _as_list(result.get(key)) if v not in _as_list(arg)]
            if remaining:
                result[key] = remaining
            else:
                result.pop(key, None)
        else:
            result[key] = value
    return result
