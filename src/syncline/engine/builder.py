"""Arrow batches of a model → CleverTap records: one outcome (record or rejection) per row."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

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


class BuiltRecords(Sequence[Record | None]):
    """A batch's records, each made a dict only when asked for: None for a row that failed.

    Requests are encoded from the columns (``DestinationClient.encode_rows``); a dict is made
    for the rows that need one (a suspect the exact rules check, a rejection, the preview).
    ``records[i] = record`` replaces a row's record (a field dropped): ``changed`` holds those.
    """

    def __init__(self, columns: RecordColumns, failed: Collection[int],
                 dropped: Mapping[int, list[tuple[str, Rejection]]]) -> None:  # fmt: skip
        self._columns, self._failed, self._dropped = columns, frozenset(failed), dropped
        self.changed: dict[int, Record] = {}
        self._made: dict[int, Record] = {}

    def __len__(self) -> int:
        return len(self._columns.identities)

    @overload
    def __getitem__(self, i: int) -> Record | None: ...

    @overload
    def __getitem__(self, i: slice) -> list[Record | None]: ...

    def __getitem__(self, i: int | slice) -> Record | list[Record | None] | None:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i in self._failed:
            return None
        if i in self.changed:
            return self.changed[i]
        record = self._made.get(i)
        if record is None:
            record = self._made[i] = _record(self._columns, i, self._dropped.get(i, ()))
        return record

    def __setitem__(self, i: int, record: Record) -> None:
        self.changed[i] = record


@dataclass
class BuiltBatch:
    """One Arrow batch turned into records: a record, or a rejection, per row.

    ``columns`` holds the values by column, so the destination can check its rules once
    per column (``DestinationClient.suspects``) instead of once per record, and encode the
    requests from them (``DestinationClient.encode_rows``).
    """

    keys: list[str]
    records: BuiltRecords
    rejections: Failures
    columns: RecordColumns
    dropped: dict[int, list[tuple[str, Rejection]]] = dataclasses.field(default_factory=dict)
    """``on_invalid_field: drop_field``: row → (field, why) for values that could not be
    converted; the row's record is sent without them."""

    def rows(self) -> list[tuple[str, Record | None, Rejection | None]]:
        """``(key, record, None)`` or ``(key, None, rejection)`` per row, in order."""
        return [(k, self.records[i], self.rejections.get(i)) for i, k in enumerate(self.keys)]

    def changed(self) -> dict[int, Record]:
        """Rows whose record is not the one the columns make (a field dropped): by dict."""
        out = {i: r for i in self.dropped if (r := self.records[i]) is not None}
        out.update(self.records.changed)
        return out


class RecordBuilder:
    """Turns Arrow batches of a sync's model into CleverTap records, one outcome per row.

    Work is done by column (one ``to_pylist`` and one converter per field); no record is
    assembled here: per-row Python code is what limits throughput, so requests are encoded
    from the columns by the destination and a record's dict is made only when asked for.
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
        arrays: dict[str, pa.Array] = {}  # fields sent exactly as Arrow holds them
        for f, conv in self._convs:
            column, bad, plain = _field_values(f, conv, array(f.column) if f.column else None, n)
            if plain is not None:
                arrays[f.field] = plain
            values.append(column)
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
        properties = dict(zip(self._fields, values, strict=True))
        if self._profile:
            columns = RecordColumns("profile", s.identity_field, identities, properties,
                                    arrays=arrays)  # fmt: skip
        else:
            columns = self._events(array, n, identities, properties, arrays, failures)
        records = BuiltRecords(columns, failures, dropped)
        return BuiltBatch(keys, records, failures, columns, dropped)

    def _events(
        self, array: Callable[[str], pa.Array], n: int, identities: list[str],
        properties: dict[str, list[Any]], arrays: dict[str, pa.Array], failures: Failures,
    ) -> RecordColumns:  # fmt: skip
        s = self._sync
        names: list[Any] = (
            array(s.event_name_column).to_pylist() if s.event_name_column else [s.event_name] * n
        )
        stamps: list[Any] | None = None
        if s.timestamp_column:
            stamps, bad = timestamps(array(s.timestamp_column), s.timestamp_column)
            _merge(failures, bad)
        items: list[Any] | None = None
        if s.items_column:
            items, bad = items_column(array(s.items_column), s.items_column)
            _merge(failures, bad)
        return RecordColumns("event", s.identity_field, identities, properties,
                             event_names=names, timestamps=stamps, items=items,
                             arrays=arrays)  # fmt: skip


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


def _record(
    columns: RecordColumns, i: int, dropped: Iterable[tuple[str, Rejection]]
) -> Record:
    """Row ``i``'s record as a dict, nulls left out (``on_null: clear`` turned them into
    ``$delete`` already): a JSON null is never sent, no CleverTap doc says what it does."""
    data = {name: v for name, column in columns.properties.items() if (v := column[i]) is not None}
    for name, _ in dropped:
        data.pop(name, None)  # a null sent on purpose would clear the property
    field = columns.identity_field
    if columns.object == "profile":
        return {field: columns.identities[i], "type": "profile", "profileData": data}
    if columns.items is not None and columns.items[i] is not None:
        data["Items"] = columns.items[i]
    names = columns.event_names
    record: Record = {field: columns.identities[i], "type": "event",
                      "evtName": names[i] if names is not None else None}  # fmt: skip
    if columns.timestamps is not None:
        record["ts"] = columns.timestamps[i]
    record["evtData"] = data
    return record
