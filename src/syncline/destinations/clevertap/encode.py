"""CleverTap upload bodies built by column: each record's JSON text made by Arrow.

Building one Python dict per record and encoding the dicts was the largest Python cost of a
large sync (bench/PROFILING.md). Here each property becomes one Arrow column of JSON fragments
(``"Name":"Ada"``, null where the row leaves the property out), the fragments of a row are
joined by Arrow, and a request body is the chosen rows' texts joined once more. The records are
the ones ``CleverTapClient.encode`` would send for the engine's dicts, with the same JSON
semantics (``tests/destinations/clevertap/test_encode.py`` compares the two over generated
tables): same keys in the same order, same values and types; only a float may be spelled
differently (``1e+20`` where orjson writes ``1e20``, which parse to the same number).

Values the engine already converted in Python (multi-values, ``$delete``, normalised text) are
encoded with orjson one value at a time; text, numbers and booleans Arrow holds as they are sent
are formatted by Arrow. A record the engine changed after building it (a field dropped) is
given as a dict and encoded with orjson.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from syncline.destinations.base import Record, RecordColumns

__all__ = ["encode_body", "encode_rows"]

_CONTROL: Final = "[\\x00-\\x1f]"


def encode_rows(
    columns: RecordColumns, rows: Sequence[int], records: Mapping[int, Record]
) -> pa.Array | None:
    """The JSON text of each record of ``rows`` (positions in ``columns``), in that order.

    ``records`` holds the rows to encode from a dict instead (a record changed after it was
    built); the others are built from ``columns``. None for events with both an ``Items``
    column and a field mapped to ``Items`` (the dicts say which one a row sends).
    """
    profile = columns.object == "profile"
    if not profile and columns.items is not None and "Items" in columns.properties:
        return None
    parts: list[Any] = [
        "{" + _key(columns.identity_field) + ":",
        _texts(pa.array(columns.identities, pa.string())),
    ]
    if profile:
        parts.append(',"type":"profile","profileData":{')
    else:
        names = columns.event_names if columns.event_names is not None else []
        parts += [',"type":"event","evtName":', pc.fill_null(_python(names), "null")]
        if columns.timestamps is not None:
            parts += [',"ts":', pc.fill_null(_python(columns.timestamps), "null")]
        parts.append(',"evtData":{')
    parts += [_properties(columns), "}}"]
    whole = pc.binary_join_element_wise(*parts, "")
    every = isinstance(rows, range) and rows == range(len(whole))
    chosen = whole if every else whole.take(pa.array(rows, pa.int64()))
    if not records:
        return chosen
    texts = chosen.to_pylist()
    for j, i in enumerate(rows):
        if i in records:
            texts[j] = orjson.dumps(records[i]).decode()
    return pa.array(texts, pa.string())


def encode_body(rows: pa.Array) -> bytes:
    """The upload body ``{"d": [...]}`` from records encoded by ``encode_rows``."""
    if len(rows) == 0:
        return b'{"d":[]}'
    listed = pa.ListArray.from_arrays(pa.array([0, len(rows)], pa.int32()), rows)
    joined: bytes = pc.binary_join(listed, ",").cast(pa.binary())[0].as_py()
    return b'{"d":[' + joined + b"]}"


def _properties(columns: RecordColumns) -> pa.Array:
    """Each row's properties as ``"k":v`` fragments joined by commas (nulls left out).

    Every fragment carries a leading comma and the first is cut off: Arrow's own ``skip``
    handling of nulls in ``binary_join_element_wise`` loses rows whose values are all null.
    """
    n = len(columns.identities)
    fragments: list[pa.Array] = []
    for name, values in columns.properties.items():
        array = columns.arrays.get(name)
        text = _arrow(array) if array is not None else None
        if text is None:
            text = _python(values)
        fragments.append(pc.fill_null(
            pc.binary_join_element_wise("," + _key(name) + ":", text, ""), ""))  # fmt: skip
    if columns.object != "profile" and columns.items is not None:
        fragments.append(pc.fill_null(
            pc.binary_join_element_wise(',"Items":', _python(columns.items), ""), ""))  # fmt: skip
    if not fragments:
        return pa.array([""] * n, pa.string())
    joined = pc.binary_join_element_wise(*fragments, "") if len(fragments) > 1 else fragments[0]
    return pc.utf8_slice_codeunits(joined, 1)


def _key(name: str) -> str:
    return orjson.dumps(name).decode()


def _arrow(array: pa.Array) -> pa.Array | None:
    """JSON texts of an Arrow column of text, numbers or booleans (null stays null); None for
    other types."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _texts(array.cast(pa.string()))
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return array.cast(pa.string())
    if pa.types.is_floating(kind):
        text = array.cast(pa.float64()).cast(pa.string())
        # Arrow writes a whole float as `1` or `-0`; JSON readers would take an integer
        whole = pc.invert(pc.match_substring_regex(text, "[.eEna]"))
        return pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    return None


def _texts(array: pa.Array) -> pa.Array:
    """JSON strings of a text column: quotes and backslashes escaped, as orjson does; a column
    with control characters is left to orjson (rare, and each has its own escape)."""
    if pc.any(pc.match_substring_regex(array, _CONTROL)).as_py():
        return _dumped(array.to_pylist())
    escaped = pc.replace_substring(array, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    return pc.binary_join_element_wise('"', escaped, '"', "")


def _python(values: Sequence[Any]) -> pa.Array:
    """JSON texts of Python values (None stays null), one orjson call per value; a column of
    plain text or integers is handed to Arrow instead."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    try:
        if kinds == {str}:
            return _texts(pa.array(values, pa.string()))
        if kinds == {int}:
            return pa.array(values, pa.int64()).cast(pa.string())
    except (pa.ArrowInvalid, OverflowError):
        pass
    return _dumped(values)


def _dumped(values: Sequence[Any]) -> pa.Array:
    """JSON texts of Python values by orjson, one call per value (None stays null)."""
    dumped: list[bytes | None] = list(map(orjson.dumps, values))
    if None in values:
        for i, value in enumerate(values):
            if value is None:
                dumped[i] = None
    return pa.array(dumped, pa.binary()).cast(pa.string())
