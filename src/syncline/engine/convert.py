"""Arrow columns → CleverTap values, a whole column at a time.

Converters are chosen once per field and applied per column, so a million rows map in seconds;
a value that cannot be converted becomes its row's failure (a ``Rejection``), never an error.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from syncline.destinations.base import Rejection
from syncline.destinations.clevertap.records import (
    STANDARD_PROFILE_FIELDS,
    epoch_seconds,
    standard_normaliser,
    to_boolean,
    to_number,
    to_string,
)
from syncline.engine.mapping import FieldMap
from syncline.lazy import lazy_module

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:  # loaded on first use (syncline/lazy.py): a run with nothing to send never needs it
    pc = lazy_module("pyarrow.compute")

__all__ = [
    "Converter", "Failures", "convert_column", "convert_list", "converter", "items_column",
    "readable", "timestamps",
]  # fmt: skip

MAX_ITEMS = 256
# dates Syncline sends (our choice, issue #11: no CleverTap doc states a range; a DuckDB
# `infinity` or a year-0001 placeholder is a data error, not a date anyone means to send)
FIRST_YEAR, LAST_YEAR = 1900, 2200
_LOW = int(dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.UTC).timestamp())
_HIGH = int(dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.UTC).timestamp())  # exclusive

Converter = Callable[[Any], Any]


def _finite_number(value: Any) -> int | float | None:
    """A number, or None (a null) for NaN and ±Infinity, which JSON cannot carry."""
    number = to_number(value)
    return number if isinstance(number, int) or math.isfinite(number) else None


def _date_in_range(value: Any) -> str:
    seconds = epoch_seconds(value)
    if not _LOW <= seconds < _HIGH:
        raise ValueError(_OUT_OF_RANGE)
    return f"$D_{seconds}"


_OUT_OF_RANGE = (
    f"outside the years {FIRST_YEAR}-{LAST_YEAR} Syncline sends as dates; fix the value "
    "in the model, or map the column with `type: string` to send it as text"
)


def converter(item: FieldMap, profile: bool) -> Converter:
    base: Converter = {
        "string": to_string, "number": _finite_number, "boolean": to_boolean,
        "date": _date_in_range,
    }[item.type]  # fmt: skip
    if profile and item.field in STANDARD_PROFILE_FIELDS:
        normalise = standard_normaliser(item.field, phone_region=item.phone_region)
        if normalise is not None:
            return normalise
    return base


Failures = dict[int, Rejection]
"""Row index → why that row's value could not be converted."""


def readable(array: pa.Array, where: str) -> tuple[list[Any], Failures]:
    """``array.to_pylist()``; a value Python cannot hold (DuckDB's ``infinity`` dates) is None
    and its row's failure, instead of an error that would stop the run."""
    try:
        return array.to_pylist(), {}
    except (OverflowError, ValueError):
        pass
    values: list[Any] = []
    failures: Failures = {}
    for i in range(len(array)):
        try:
            values.append(array[i].as_py())
        except (OverflowError, ValueError):
            values.append(None)
            failures[i] = Rejection(
                "bad_value", f"column `{where}`: a {array.type} value beyond what Syncline can "
                "read (DuckDB's infinity?); fix or filter it in the model", where,
            )  # fmt: skip
    return values, failures


def timestamps(array: pa.Array, column: str) -> tuple[list[Any], Failures]:
    """Epoch seconds per row; a null or unreadable value is that row's failure."""
    kind = array.type
    if (pa.types.is_timestamp(kind) or pa.types.is_date(kind)) and array.null_count == 0:
        return _epoch_seconds(array).to_pylist(), {}
    out: list[Any] = []
    values, failures = readable(array, column)
    for i, value in enumerate(values):
        if i in failures:
            out.append(None)
            continue
        try:
            out.append(epoch_seconds(value))
        except ValueError as exc:
            out.append(None)
            failures[i] = Rejection("bad_value", f"column `{column}`: {exc}", column)
    return out, failures


def _epoch_seconds(array: pa.Array) -> pa.Array:
    """Whole epoch seconds of a DATE or TIMESTAMP column (naive = UTC), computed by Arrow."""
    if pa.types.is_date(array.type):
        array = array.cast(pa.timestamp("s"))
    unit = pa.timestamp("s", tz=getattr(array.type, "tz", None))
    return pc.cast(array, unit, safe=False).cast(pa.int64())


def items_column(array: pa.Array, column: str) -> tuple[list[Any], Failures, pa.Array | None]:
    """Each row's ``Items`` (None where it has none); a row whose Items are unusable fails.

    The third element is ``array`` itself when its values are sent exactly as Arrow holds
    them (so a destination can screen them by column), else None.
    """
    if _plain_items(array):
        return array.to_pylist(), {}, array
    out: list[Any] = []
    failures: Failures = {}
    for i, value in enumerate(array.to_pylist()):
        try:
            out.append(None if value is None else _items(value, column))
        except _Bad as bad:
            out.append(None)
            failures[i] = bad.rejection
    return out, failures, None


def _plain_items(array: pa.Array) -> bool:
    """A LIST of STRUCT of text, numbers and booleans, no null inside, at most 256 per row:
    Arrow's own values are already valid Items, so no row needs checking one by one."""
    kind = array.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    struct = kind.value_type
    if not pa.types.is_struct(struct) or not all(
        pa.types.is_string(f.type) or pa.types.is_integer(f.type)
        or pa.types.is_floating(f.type) or pa.types.is_boolean(f.type) for f in struct
    ):  # fmt: skip
        return False
    items = array.flatten()
    if items.null_count or any(child.null_count for child in items.flatten()):
        return False
    longest = pc.max(pc.list_value_length(array)).as_py()
    return longest is None or longest <= MAX_ITEMS


class _Bad(Exception):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


def _items(value: Any, column: str) -> list[dict[str, Any]]:
    """Charged ``Items``: a list of at most 256 flat objects of scalars."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _Bad(
                Rejection("bad_value", f"column `{column}`: not valid JSON ({exc})", column)
            ) from exc
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Bad(
            Rejection(
                "bad_value",
                f"column `{column}`: Items must be a list of objects, got {value!r}",
                column,
            )
        )
    if len(value) > MAX_ITEMS:
        raise _Bad(
            Rejection(
                "bad_value",
                f"column `{column}`: {len(value)} items; CleverTap "
                f"takes at most {MAX_ITEMS} per Charged event",
                column,
            )
        )
    for item in value:
        for k, v in item.items():
            if isinstance(v, list | dict | tuple):
                raise _Bad(
                    Rejection(
                        "bad_value",
                        f"column `{column}`: item key `{k}` holds a "
                        f"nested value {v!r}; items must be flat",
                        column,
                    )
                )
    return [{k: _item_value(v) for k, v in item.items() if _sent(v)} for item in value]


def _sent(value: Any) -> bool:
    """Nulls, NaN and ±Infinity are left out of an item (no JSON number holds them)."""
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _item_value(value: Any) -> Any:
    """An item's value as JSON holds it: a DECIMAL price is a number (an int when whole), a
    DATE or TIMESTAMP its ISO text (our choice: CleverTap documents item values as scalars)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def convert_column(
    item: FieldMap, conv: Converter, array: pa.Array
) -> tuple[list[Any], Failures, pa.Array | None]:
    """Convert a whole column; Arrow types that already match skip per-value conversion.

    The third element is the Arrow array when its values are sent unchanged, else None.
    """
    kind = array.type
    if item.type == "date" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return _dates(item, array)
    if pa.types.is_floating(kind) and pc.all(pc.is_finite(array)).as_py() is False:
        array = pc.if_else(pc.is_finite(array), array, pa.scalar(None, kind))  # NaN, ±Inf: null
    if item.type == "number" and pa.types.is_decimal(kind):
        # through text: Arrow's direct decimal → double cast is not correctly rounded
        # (3600.68 would arrive as 3600.6800000000003)
        array = (
            array.cast(pa.int64())
            if kind.scale == 0
            else (array.cast(pa.string()).cast(pa.float64()))
        )
        kind = array.type
    by_column = getattr(conv, "by_column", None)  # a standard field's normaliser
    done = by_column(array) if by_column is not None else None
    if done is not None:
        return done.to_pylist(), {}, done
    plain = (
        (item.type == "string" and pa.types.is_string(kind) and conv is to_string)
        or (item.type == "number" and (pa.types.is_integer(kind) or pa.types.is_floating(kind)))
        or (item.type == "boolean" and pa.types.is_boolean(kind))
    )
    values, unreadable = readable(array, item.column or item.field)
    if plain and not unreadable:
        return values, {}, array
    converted, failures = convert_list(item, conv, values)
    return converted, {**failures, **unreadable}, None


def _dates(item: FieldMap, array: pa.Array) -> tuple[list[Any], Failures, pa.Array | None]:
    """``$D_<epoch seconds>`` computed by Arrow; dates outside the years we send fail their row."""
    seconds = _epoch_seconds(array)
    inside = pc.and_(pc.greater_equal(seconds, _LOW), pc.less(seconds, _HIGH))
    failures: Failures = {}
    if pc.any(pc.invert(inside)).as_py():
        where = item.column or item.field
        for i in pc.indices_nonzero(pc.invert(inside)).to_pylist():
            message = f"column `{where}`: {_shown(array, seconds, i)} is {_OUT_OF_RANGE}"
            failures[i] = Rejection("bad_value", message, where)
        seconds = pc.if_else(inside, seconds, pa.scalar(None, seconds.type))
    dates = pc.binary_join_element_wise("$D_", seconds.cast(pa.string()), "")
    return dates.to_pylist(), failures, None if failures else dates


def _shown(array: pa.Array, seconds: pa.Array, i: int) -> str:
    """One date of ``array`` as text; DuckDB's ``infinity`` is beyond what Python can hold."""
    try:
        return str(array[i].as_py())
    except (ValueError, OverflowError):
        return "infinity" if seconds[i].as_py() > 0 else "-infinity"


def convert_list(item: FieldMap, conv: Converter, values: list[Any]) -> tuple[list[Any], Failures]:
    """Convert values one by one; a value that fails becomes None and its row's failure.

    A column of few distinct values (genders, plans, flags) is converted once per value.
    """
    try:
        distinct = _few_distinct(values)
        if distinct is not None:
            converted = {v: None if v is None else conv(v) for v in distinct}
            return list(map(converted.__getitem__, values)), {}
        return [None if v is None else conv(v) for v in values], {}
    except (ValueError, TypeError):
        pass
    out: list[Any] = []
    failures: Failures = {}
    where = item.column or item.field
    for i, value in enumerate(values):
        try:
            out.append(None if value is None else conv(value))
        except (ValueError, TypeError) as exc:
            out.append(None)
            failures[i] = Rejection(
                "bad_value",
                f"column `{where}`: value {value!r} is not a valid {item.type} ({exc})", where,
            )  # fmt: skip
    return out, failures


def _few_distinct(values: list[Any]) -> set[Any] | None:
    """The distinct values when there are few (at most a quarter of the rows), else None.

    Only for values of one type: a set would merge ``1``, ``1.0`` and ``True``, which convert
    differently.
    """
    if len(set(map(type, values)) - {type(None)}) != 1:
        return None
    distinct = set(values)
    return distinct if len(distinct) * 4 <= len(values) else None
