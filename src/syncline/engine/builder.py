"""Arrow batches of a model → CleverTap records: one outcome (record or rejection) per row."""

from __future__ import annotations

import dataclasses
import functools
import gc
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa

from syncline.config.models import SyncConfig
from syncline.destinations.base import Record, RecordColumns, Rejection
from syncline.destinations.clevertap.multivalue import DELETE
from syncline.destinations.clevertap.records import to_string
from syncline.engine.convert import (
    Converter,
    Failures,
    convert_column,
    convert_list,
    converter,
    items_column,
    readable,
    timestamps,
)
from syncline.engine.diff.sql import KEY
from syncline.engine.mapping import FieldMap, ResolvedMapping
from syncline.engine.multivalue import multi_values

__all__ = ["BuiltBatch", "RecordBuilder"]


@dataclass
class BuiltBatch:
    """One Arrow batch turned into records: a record, or a rejection, per row.

    ``columns`` holds the same values by column, so the destination can check its rules once
    per column (``DestinationClient.suspects``) instead of once per record.
    """

    keys: list[str]
    records: list[Record | None]
    rejections: Failures
    columns: RecordColumns
    dropped: dict[int, list[tuple[str, Rejection]]] = dataclasses.field(default_factory=dict)
    """``on_invalid_field: drop_field``: row → (field, why) for values that could not be
    converted; the row's record is sent without them."""

    def rows(self) -> list[tuple[str, Record | None, Rejection | None]]:
        """``(key, record, None)`` or ``(key, None, rejection)`` per row, in order."""
        return [
            (k, r, self.rejections.get(i))
            for i, (k, r) in enumerate(zip(self.keys, self.records, strict=True))
        ]


class RecordBuilder:
    """Turns Arrow batches of a sync's model into CleverTap records, one outcome per row.

    Work is done by column (one ``to_pylist`` and one converter per field) and records are
    assembled with C-level ``dict(zip(...))``: per-row Python code is what limits throughput.
    """

    def __init__(self, sync: SyncConfig, mapping: ResolvedMapping) -> None:
        self._sync = sync
        self._mapping = mapping
        self._profile = sync.object == "profile"
        self._convs = [(f, converter(f, self._profile)) for f in mapping.fields]
        self._fields = tuple(f.field for f in mapping.fields)
        self._drop = sync.on_invalid_field == "drop_field"

    def build(self, batch: pa.RecordBatch) -> BuiltBatch:
        """Records (or rejections) for every row of ``batch``."""
        names = {n.lower(): n for n in batch.schema.names}

        def array(name: str) -> pa.Array:
            return batch.column(names.get(name.lower(), name))

        s, n = self._sync, batch.num_rows
        failures: Failures = {}
        dropped: dict[int, list[tuple[str, Rejection]]] = {}
        values: list[list[Any]] = []
        nulls: list[bool] = []  # does the column hold a None (Arrow knows, for its arrays)
        arrays: dict[str, pa.Array] = {}  # fields sent exactly as Arrow holds them
        for f, conv in self._convs:
            column, bad, plain = _field_values(f, conv, array(f.column) if f.column else None, n)
            if plain is not None:
                arrays[f.field] = plain
            values.append(column)
            nulls.append(plain.null_count > 0 if plain is not None else None in column)
            if self._drop and f.column:
                for i, rejection in bad.items():
                    dropped.setdefault(i, []).append((f.field, rejection))
            else:
                _merge(failures, bad)
        # the key as the diff wrote it (SQL text): the snapshot must hold exactly that text, or
        # the next diff would not find it (a TIMESTAMP key is '2024-01-02 03:04:05' in SQL)
        planned = KEY in names.values()
        keys = _texts(array(KEY if planned else s.sync_key))
        users = array(s.user_column)
        same = s.user_column.lower() == s.sync_key.lower() and pa.types.is_string(users.type)
        identities = keys if same else _texts(users)  # text keys are the same text in SQL
        identity_array = _text_array(array(KEY if planned else s.sync_key) if same else users)
        properties = dict(zip(self._fields, values, strict=True))
        records: list[Record | None]
        with _collector_paused():  # one collection per chunk, once its records exist
            if self._profile:
                field = s.identity_field
                records = _profile_maker(len(self._fields))(field, self._fields, identities, values)
                if dropped or any(nulls):
                    data = [cast(Record, r)["profileData"] for r in records]
                    _drop_nulls(data, self._fields, values, nulls)
                    _drop_faults(data, dropped)
                columns = RecordColumns("profile", field, identities, properties, arrays=arrays)
            else:
                data = _dicts(self._fields, values, n, nulls)
                _drop_faults(data, dropped)
                records, columns = self._events(
                    array, n, identities, data, properties, arrays, failures
                )
        for i in failures:
            records[i] = None
        columns = dataclasses.replace(columns, identities_array=identity_array)
        return BuiltBatch(keys, records, failures, columns, dropped)

    def _events(
        self, array: Callable[[str], pa.Array], n: int, identities: list[str],
        data: list[dict[str, Any]], properties: dict[str, list[Any]],
        arrays: dict[str, pa.Array], failures: Failures,
    ) -> tuple[list[Record | None], RecordColumns]:  # fmt: skip
        s = self._sync
        names: list[Any] = (
            array(s.event_name_column).to_pylist() if s.event_name_column else [s.event_name] * n
        )
        stamps: list[Any] | None = None
        if s.timestamp_column:
            stamps, bad = timestamps(array(s.timestamp_column), s.timestamp_column)
            _merge(failures, bad)
        items: list[Any] | None = None
        items_array: pa.Array | None = None
        if s.items_column:
            items, bad, items_array = items_column(array(s.items_column), s.items_column)
            _merge(failures, bad)
            for d, row_items in zip(data, items, strict=True):
                if row_items is not None:
                    d["Items"] = row_items
        field = s.identity_field
        # one comprehension per shape (keys in the order CleverTap's docs show them): no
        # per-row branch or append
        records: list[Record | None] = (
            [{field: user, "type": "event", "evtName": name, "evtData": d}
             for user, name, d in zip(identities, names, data, strict=True)]
            if stamps is None else
            [{field: user, "type": "event", "evtName": name, "ts": ts, "evtData": d}
             for user, name, ts, d in zip(identities, names, stamps, data, strict=True)]
        )  # fmt: skip
        columns = RecordColumns(
            "event",
            field,
            identities,
            properties,
            event_names=names,
            timestamps=stamps,
            items=items,
            arrays=arrays,
            items_array=items_array,
        )
        return records, columns


def _field_values(
    f: FieldMap, conv: Converter, array: pa.Array | None, n: int
) -> tuple[list[Any], Failures, pa.Array | None]:
    """One field's value per row, its rows that failed, and its Arrow array when sent as is.

    A null stays None (left out of the record) unless the field clears it (``$delete``).
    """
    plain: pa.Array | None = None
    if f.multi or f.json:
        source, unreadable = readable(array, f.column or f.field) if array is not None else (
            [f.constant] * n, {})  # fmt: skip
        column, bad = multi_values(f, conv, source)
        bad.update(unreadable)
    elif array is not None:
        column, bad, plain = convert_column(f, conv, array)
    else:
        column, bad = convert_list(f, conv, [f.constant] * n)
    if f.clear and None in column:
        column, plain = [DELETE if v is None else v for v in column], None
    return column, bad, plain


def _merge(failures: Failures, more: Failures) -> None:
    """Keep the first failure of each row (field order, then ts, then Items)."""
    for i, rejection in more.items():
        failures.setdefault(i, rejection)


def _texts(array: pa.Array) -> list[str]:
    """Keys and identities as text ("" for a null, which the rules then reject)."""
    values: list[Any] = array.to_pylist()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return values if array.null_count == 0 else [v if v is not None else "" for v in values]
    return [to_string(v) if v is not None else "" for v in values]


def _text_array(array: pa.Array) -> pa.Array | None:
    """``array`` when ``_texts`` answers exactly its values (text, no null), else None."""
    kind = array.type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    return array if text and array.null_count == 0 else None


def _dicts(
    fields: tuple[str, ...], values: list[list[Any]], n: int, nulls: list[bool] | None = None
) -> list[dict[str, Any]]:
    """One properties dict per row, nulls left out (``on_null: clear`` turned them into
    ``$delete`` already): a JSON null is never sent, no CleverTap doc says what it does."""
    if not fields:
        return [{} for _ in range(n)]
    rows = list(map(dict, map(zip, itertools.repeat(fields), zip(*values, strict=True))))
    _drop_nulls(rows, fields, values, nulls)
    return rows


def _drop_nulls(
    rows: list[dict[str, Any]],
    fields: tuple[str, ...],
    values: list[list[Any]],
    nulls: list[bool] | None = None,
) -> None:
    """Leave each row's nulls out of its properties dict (see ``_dicts``).

    ``nulls`` says per column whether it holds a None (the builder knows: from its Arrow
    array's null count, else from one ``None in column``); None: look at every column here.
    ``None in column`` costs about 10 ns a value (a rich comparison per text), 0.1 CPU-s per
    1M rows of W1, so it is never done twice.
    """
    has_nulls = nulls if nulls is not None else [None in column for column in values]
    for field, column, has in zip(fields, values, has_nulls, strict=True):
        if not has:
            continue
        for i in [i for i, v in enumerate(column) if v is None]:
            del rows[i][field]


def _drop_faults(
    rows: list[dict[str, Any]], dropped: dict[int, list[tuple[str, Rejection]]]
) -> None:
    """``on_invalid_field: drop_field``: the fields that could not be converted leave the row."""
    for i, faults in dropped.items():
        for name, _ in faults:
            rows[i].pop(name, None)  # a null sent on purpose would clear the property


_MakeProfiles = Callable[[str, tuple[str, ...], list[str], list[list[Any]]], list[Record | None]]


@functools.cache
def _profile_maker(width: int) -> _MakeProfiles:
    """A function making a chunk's profile records, nulls included, in one comprehension.

    ``make(identity_field, fields, identities, columns)`` answers
    ``{identity_field: identity, "type": "profile", "profileData": {fields[0]: ..., ...}}`` per
    row, the properties in ``fields`` order: the same dicts as ``_dicts`` and a second pass
    wrapping them, at about half the CPU (a dict display per row instead of ``dict(zip(...))``
    and a second loop; bench/PROFILING.md, round two: W1 profiles by column). The code is made
    once per number of fields; field names are the function's arguments, never part of its
    source.
    """
    keys = "".join(f"k{i}, " for i in range(width))
    names = "".join(f"v{i}, " for i in range(width))
    pairs = ", ".join(f"k{i}: v{i}" for i in range(width))
    source = (
        "def make(field, fields, identities, columns):\n"
        f"    ({keys}) = fields\n"
        f"    return [{{field: u, 'type': 'profile', 'profileData': {{{pairs}}}}}\n"
        f"            for (u, {names}) in zip(identities, *columns, strict=True)]\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<profile records, {width} fields>", "exec"), namespace)
    return cast(_MakeProfiles, namespace["make"])


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic collector held off while a chunk's dicts and records are made.

    Each row allocates tracked objects (a row tuple, a zip, the record), so a chunk of 10,000
    rows set off a dozen young-generation collections that walked the records still alive in
    flight; a W1 run of 1M rows spent 0.57-0.70 CPU-s in the collector, 0.29-0.41 with this
    (bench/PROFILING.md). The records hold no cycles; the collector runs again as soon as the
    chunk is built. A collector someone else disabled stays disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
