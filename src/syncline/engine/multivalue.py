"""Array and JSON columns → CleverTap multi-value operations (``$set``, ``$add``, ``$remove``).

A row's array becomes ``{"$set": [...]}`` (or ``$add``/``$remove``, as the mapping says): its
values as text, each once, in their order. An empty array is a null (the sync's ``on_null``
decides). JSON text is parsed: an array is a multi-value, a scalar is sent as one, an object is
refused with a hint to flatten it in SQL. ``$set`` and not a bare array: CleverTap's CSV docs
document ``$set`` as "replace the current value", and CleverTap's Android SDK lists the same
profile commands (``$set``, ``$add``, ``$remove``, ``$delete``: ``Constants.COMMAND_SET``...);
no CleverTap page says what the upload API does with a bare array.
"""

from __future__ import annotations

import json
from typing import Any

from syncline.destinations.base import Rejection
from syncline.destinations.clevertap.multivalue import multi_value_problem
from syncline.destinations.clevertap.records import to_string
from syncline.engine.convert import Converter, Failures
from syncline.engine.mapping import FieldMap

__all__ = ["multi_values"]


def multi_values(item: FieldMap, conv: Converter, values: list[Any]) -> tuple[list[Any], Failures]:
    """Each row's operator object (or scalar, from JSON), None for a null; bad rows fail."""
    where = item.column or item.field
    out: list[Any] = []
    failures: Failures = {}
    for i, value in enumerate(values):
        try:
            out.append(None if value is None else _value(item, conv, value))
        except (ValueError, TypeError) as exc:
            out.append(None)
            failures[i] = Rejection("bad_value", f"column `{where}`: {exc}", where)
    return out, failures


def _value(item: FieldMap, conv: Converter, value: Any) -> Any:
    if item.json:
        value = _parsed(value)
        if value is None:
            return None
        if not isinstance(value, list):
            if item.multi is None:
                return conv(value)  # a JSON scalar in a column of mostly arrays
            value = [value]
    elif not isinstance(value, list):
        value = [value]  # a scalar column sent as a multi-value: one value
    texts = list(dict.fromkeys(to_string(v) for v in value if v is not None))
    if not texts:
        return None
    problem = multi_value_problem(texts)
    if problem is not None:
        raise ValueError(problem)
    return {f"${item.multi or 'set'}": texts}


def _parsed(value: Any) -> Any:
    """A JSON column's value; text that is not JSON is a string (PostgreSQL hands JSON strings
    over already decoded)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, dict):
        raise ValueError(
            "holds a JSON object, and CleverTap takes none: flatten it in the model's SQL "
            "(e.g. `attributes->>'plan' AS plan` in PostgreSQL, `attributes->>'$.plan'` in "
            "DuckDB) or map the column with `type: string` to send the JSON text"
        )
    return parsed
