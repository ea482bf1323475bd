"""CleverTap's multi-value profile properties and the value operators that change a property.

Shared, through ``rules``, by our client's local validator and the sandbox. What each rule rests
on (see the README, "Multi-value properties and clearing a property"):

* documented, CleverTap "Platform Considerations" and the SDK references: values are strings,
  at most 512 characters each, unique per property, at most 100 per property ("on reaching 100
  cap, oldest value(s) will be removed"); setting a multi-value overwrites what was there;
  ``$add`` on a missing property creates it and on a scalar promotes it to a multi-value;
  a multi-value left empty is removed.
* documented, Upload User Profiles sample payload: ``{"$add": [...]}``, ``{"$remove": [...]}``
  and ``{"$delete": 1}``, the last with the comment "applicable only to name and gender
  fields". CleverTap's CSV upload docs list ``$set`` (replace the value) and ``$delete``
  ("remove the property entirely") for any property.
* our choice: more than 100 values, a value over 512 bytes or a non-string value is refused
  with 512 "Invalid profile structure" instead of being trimmed, so a sync never loses values
  without saying so. The sandbox applies the same rule: it is stricter than CleverTap here.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "DELETE",
    "MAX_MULTI_VALUES",
    "MAX_MULTI_VALUE_BYTES",
    "MULTI_VALUE_OPERATORS",
    "multi_value_problem",
    "operator_ok",
]

MAX_MULTI_VALUES: Final = 100
MAX_MULTI_VALUE_BYTES: Final = 512
MULTI_VALUE_OPERATORS: Final = frozenset({"$set", "$add", "$remove"})
VALUE_OPERATORS: Final = frozenset({*MULTI_VALUE_OPERATORS, "$incr", "$decr", "$delete"})
DELETE: Final = {"$delete": 1}
"""The value that removes a property (``on_null: clear``)."""


def multi_value_problem(values: Any) -> str | None:
    """Why ``values`` cannot be a multi-value property's values, or None when they can.

    A single string is accepted too: ``$add``/``$remove`` take one value (SDK references).
    """
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return f"{type(values).__name__} is not a list of strings"
    if len(values) > MAX_MULTI_VALUES:
        return f"{len(values)} values; a multi-value property holds at most {MAX_MULTI_VALUES}"
    for value in values:
        if not isinstance(value, str):
            return f"value {value!r} is not a string"
        if len(value) > MAX_MULTI_VALUE_BYTES // 4 and len(value.encode()) > MAX_MULTI_VALUE_BYTES:
            return (
                f"value {value[:40]!r}… is {len(value.encode())} bytes; a multi-value holds "
                f"values of at most {MAX_MULTI_VALUE_BYTES} bytes"
            )
    return None


def operator_ok(value: dict[Any, Any]) -> bool:
    """A profile value that is one operator object CleverTap takes, with a usable argument."""
    if len(value) != 1:
        return False
    ((op, arg),) = value.items()
    if op not in VALUE_OPERATORS:
        return False
    if op == "$set" and isinstance(arg, str | int | float | bool):
        return True  # CSV docs: `$set` replaces a single value too
    if op in MULTI_VALUE_OPERATORS:
        return multi_value_problem(arg) is None
    return True  # `$delete`, `$incr`, `$decr`: their argument is not checked
