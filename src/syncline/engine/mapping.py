"""Resolve a sync's mappings against the model's columns, and turn Arrow batches into records.

The sync key of a profile sync becomes the record's identity field and is *not* also sent as a
property (unless mapped explicitly): CleverTap already stores the identity on the profile.
Converters are chosen once per field and applied per column, so a million rows map in seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from syncline.config.models import FieldType, SyncConfig
from syncline.destinations.base import Record, RecordColumns, Rejection
from syncline.destinations.clevertap import rules
from syncline.destinations.clevertap.records import (
    STANDARD_PROFILE_FIELDS,
    clevertap_date,
    epoch_seconds,
    phone_region_error,
    standard_normaliser,
    to_boolean,
    to_number,
    to_string,
)
from syncline.engine.diff.sql import KEY
from syncline.errors import ConfigError, ModelError
from syncline.sources.base import Column

__all__ = [
    "BuiltBatch", "FieldMap", "RecordBuilder", "ResolvedMapping", "resolve_mapping",
    "standard_field",
]  # fmt: skip

MAX_ITEMS = 256
_STANDARD_NAMES: dict[str, str] = {
    "name": "Name", "fullname": "Name", "email": "Email", "emailaddress": "Email",
    "phone": "Phone", "mobile": "Phone", "phonenumber": "Phone", "gender": "Gender",
    "sex": "Gender", "dob": "DOB", "birthday": "DOB", "dateofbirth": "DOB", "birthdate": "DOB",
    "photo": "Photo", "avatar": "Photo", "photourl": "Photo", "employed": "Employed",
    "education": "Education", "married": "Married", "age": "Age",
    "msgemail": "MSG-email", "emailoptin": "MSG-email", "msgpush": "MSG-push",
    "pushoptin": "MSG-push", "msgsms": "MSG-sms", "smsoptin": "MSG-sms",
    "msgwhatsapp": "MSG-whatsapp", "whatsappoptin": "MSG-whatsapp",
    "msgdndphone": "MSG-dndPhone", "dndphone": "MSG-dndPhone", "msgdndemail": "MSG-dndEmail",
    "dndemail": "MSG-dndEmail", "timezone": "Timezone", "tz": "Timezone",
}  # fmt: skip
_SEPARATORS = re.compile(r"[_\-\s]+")


def standard_field(column: str) -> str | None:
    """The CleverTap standard field a column name commonly means, if any."""
    return _STANDARD_NAMES.get(_SEPARATORS.sub("", column).lower())


def _infer_type(source_type: str) -> FieldType:
    text = source_type.upper()
    if "DATE" in text or "TIMESTAMP" in text or text == "TIME":
        return "date"
    if "BOOL" in text:
        return "boolean"
    if any(w in text for w in ("INT", "DECIMAL", "NUMERIC", "FLOAT", "DOUBLE", "REAL")):
        return "number"
    return "string"


@dataclass(frozen=True)
class FieldMap:
    """One CleverTap field and where its value comes from."""

    field: str
    column: str | None
    constant: object
    type: FieldType
    send_nulls: bool
    phone_region: str | None = None


@dataclass(frozen=True)
class ResolvedMapping:
    """A sync's mapping resolved against the model's actual columns."""

    fields: tuple[FieldMap, ...]
    hash_columns: tuple[str, ...]
    fingerprint: str

    def column_for(self, field: str) -> str | None:
        """CleverTap key → source column, for rejection messages."""
        for item in self.fields:
            if item.field == field:
                return item.column
        return None


def _check_event_name(sync_name: str, name: str) -> None:
    """A constant event name CleverTap would refuse is a configuration error, not N rejections."""
    probe = {"identity": "probe", "type": "event", "evtName": name, "evtData": {}}
    violation = rules.validate_record(probe)
    if violation is not None:
        raise ConfigError(
            f"sync `{sync_name}`: event_name `{name}` would be refused by CleverTap "
            f"({violation.code}: {violation.message}); choose another name"
        )


def resolve_mapping(sync_name: str, sync: SyncConfig, columns: Sequence[Column]) -> ResolvedMapping:
    """Resolve ``sync.mappings`` against ``columns``; unknown columns raise ``ModelError``."""
    if sync.event_name is not None:
        _check_event_name(sync_name, sync.event_name)
    types = {c.name: c.type for c in columns}
    lowered = {c.name.lower(): c.name for c in columns}

    def need(column: str, key: str) -> str:
        if column in types:
            return column
        if column.lower() in lowered:
            return lowered[column.lower()]
        raise ModelError(
            f"sync `{sync_name}`: {key} names column `{column}`, which the model lacks; "
            f"its columns are: {', '.join(types) or 'none'}. Fix the mapping or the model."
        )

    special = [need(sync.sync_key, "sync_key"), need(sync.user_column, "identity_column")]
    for key in ("event_name_column", "timestamp_column", "items_column"):
        value = getattr(sync, key)
        if value is not None:
            special.append(need(value, key))
    fields = _fields(sync, types, need, set(special))
    for entry in sync.mappings.columns:
        if entry.phone_region and entry.to != "Phone":
            raise ConfigError(f"sync `{sync_name}`: `phone_region` is for the Phone field, not "
                              f"`{entry.to}`; move it to the mapping `to: Phone`")
    for f in fields:
        problem = phone_region_error(f.phone_region) if f.phone_region else None
        if problem is not None and f.field == "Phone":
            raise ConfigError(f"sync `{sync_name}`: {problem}")
    hash_columns = tuple(dict.fromkeys([*special, *(f.column for f in fields if f.column)]))
    payload = {
        "object": sync.object, "identity_field": sync.identity_field,
        "sync_key": sync.sync_key, "user": sync.user_column, "event_name": sync.event_name,
        "event_name_column": sync.event_name_column, "ts": sync.timestamp_column,
        "items": sync.items_column,
        "fields": [[f.field, f.column, repr(f.constant), f.type, f.send_nulls,
                    *([f.phone_region] if f.phone_region and f.field == "Phone" else [])]
                   for f in fields],
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return ResolvedMapping(tuple(fields), hash_columns, digest)


def _fields(
    sync: SyncConfig, types: dict[str, str], need: Callable[[str, str], str], special: set[str]
) -> list[FieldMap]:
    maps = sync.mappings
    standard = maps.match_standard_fields and sync.object == "profile"
    out: dict[str, FieldMap] = {}
    explicit_columns: set[str] = set()
    for i, entry in enumerate(maps.columns):
        column = need(entry.from_, f"mappings.columns[{i}].from") if entry.from_ else None
        if column:
            explicit_columns.add(column)
        std_type = STANDARD_PROFILE_FIELDS.get(entry.to) if sync.object == "profile" else None
        kind = entry.type or std_type or (_infer_type(types[column]) if column else "string")
        region = entry.phone_region or sync.phone_region
        out[entry.to] = FieldMap(entry.to, column, entry.constant, kind, entry.send_nulls,  # type: ignore[arg-type]
                                 region)
    if maps.sync_all:
        excluded = {need(c, "mappings.exclude") for c in maps.exclude}
        for column in types:
            if column in explicit_columns or column in excluded or column in special:
                continue
            name = (standard_field(column) if standard else None) or column
            if name in out:
                continue
            std_type = STANDARD_PROFILE_FIELDS.get(name) if standard else None
            kind = std_type or _infer_type(types[column])
            out[name] = FieldMap(name, column, None, kind, False, sync.phone_region)  # type: ignore[arg-type]
    return list(out.values())


Converter = Callable[[Any], Any]


def _converter(item: FieldMap, profile: bool) -> Converter:
    base: Converter = {
        "string": to_string, "number": to_number, "boolean": to_boolean, "date": clevertap_date,
    }[item.type]  # fmt: skip
    if profile and item.field in STANDARD_PROFILE_FIELDS:
        normalise = standard_normaliser(item.field, phone_region=item.phone_region)
        if normalise is not None:
            return normalise
    return base


Failures = dict[int, Rejection]
"""Row index → why that row's value could not be converted."""


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
        return [(k, r, self.rejections.get(i)) for i, (k, r) in
                enumerate(zip(self.keys, self.records, strict=True))]


class RecordBuilder:
    """Turns Arrow batches of a sync's model into CleverTap records, one outcome per row.

    Work is done by column (one ``to_pylist`` and one converter per field) and records are
    assembled with C-level ``dict(zip(...))``: per-row Python code is what limits throughput.
    """

    def __init__(self, sync: SyncConfig, mapping: ResolvedMapping) -> None:
        self._sync = sync
        self._mapping = mapping
        self._profile = sync.object == "profile"
        self._convs = [(f, _converter(f, self._profile)) for f in mapping.fields]
        self._fields = tuple(f.field for f in mapping.fields)
        self._send_nulls = frozenset(f.field for f in mapping.fields if f.send_nulls)
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
            if f.column:
                column, bad, plain = _convert_column(f, conv, array(f.column))
                if plain is not None:
                    arrays[f.field] = plain
            else:
                column, bad = _convert_list(f, conv, [f.constant] * n)
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
        data = _dicts(self._fields, values, n, self._send_nulls)
        for i, faults in dropped.items():
            for name, _ in faults:
                data[i].pop(name, None)  # a null sent on purpose would clear the property
        properties = dict(zip(self._fields, values, strict=True))
        if self._profile:
            field = s.identity_field
            records: list[Record | None] = [
                {field: user, "type": "profile", "profileData": d}
                for user, d in zip(identities, data, strict=True)
            ]
            columns = RecordColumns("profile", field, identities, properties, self._send_nulls,
                                    arrays=arrays)
        else:
            records, columns = self._events(array, n, identities, data, properties, arrays,
                                            failures)
        for i in failures:
            records[i] = None
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
            stamps, bad = _timestamps(array(s.timestamp_column), s.timestamp_column)
            _merge(failures, bad)
        items: list[Any] | None = None
        if s.items_column:
            items, bad = _items_column(array(s.items_column), s.items_column)
            _merge(failures, bad)
            for d, row_items in zip(data, items, strict=True):
                if row_items is not None:
                    d["Items"] = row_items
        field = s.identity_field
        records: list[Record | None] = []
        for i, (user, name, d) in enumerate(zip(identities, names, data, strict=True)):
            record: Record = {field: user, "type": "event", "evtName": name}
            if stamps is not None:
                record["ts"] = stamps[i]
            record["evtData"] = d
            records.append(record)
        columns = RecordColumns("event", field, identities, properties, self._send_nulls,
                                event_names=names, timestamps=stamps, items=items,
                                arrays=arrays)
        return records, columns


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


def _dicts(fields: tuple[str, ...], values: list[list[Any]], n: int,
           send_nulls: frozenset[str]) -> list[dict[str, Any]]:
    """One properties dict per row; nulls left out unless the field sends them on purpose."""
    if not fields:
        return [{} for _ in range(n)]
    rows = list(map(dict, map(zip, itertools.repeat(fields), zip(*values, strict=True))))
    for field, column in zip(fields, values, strict=True):
        if field in send_nulls or None not in column:
            continue
        for i in [i for i, v in enumerate(column) if v is None]:
            del rows[i][field]
    return rows


def _timestamps(array: pa.Array, column: str) -> tuple[list[Any], Failures]:
    """Epoch seconds per row; a null or unreadable value is that row's failure."""
    kind = array.type
    if (pa.types.is_timestamp(kind) or pa.types.is_date(kind)) and array.null_count == 0:
        return _epoch_seconds(array).to_pylist(), {}
    out: list[Any] = []
    failures: Failures = {}
    for i, value in enumerate(array.to_pylist()):
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


def _items_column(array: pa.Array, column: str) -> tuple[list[Any], Failures]:
    """Each row's ``Items`` (None where it has none); a row whose Items are unusable fails."""
    if _plain_items(array):
        return array.to_pylist(), {}
    out: list[Any] = []
    failures: Failures = {}
    for i, value in enumerate(array.to_pylist()):
        try:
            out.append(None if value is None else _items(value, column))
        except _Bad as bad:
            out.append(None)
            failures[i] = bad.rejection
    return out, failures


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
    return [{k: v for k, v in item.items() if v is not None} for item in value]


def _convert_column(
    item: FieldMap, conv: Converter, array: pa.Array
) -> tuple[list[Any], Failures, pa.Array | None]:
    """Convert a whole column; Arrow types that already match skip per-value conversion.

    The third element is the Arrow array when its values are sent unchanged, else None.
    """
    kind = array.type
    if item.type == "date" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        seconds = _epoch_seconds(array).cast(pa.string())
        dates = pc.binary_join_element_wise("$D_", seconds, "")  # $D_<epoch seconds>
        return dates.to_pylist(), {}, dates
    if item.type == "number" and pa.types.is_decimal(kind):
        # through text: Arrow's direct decimal → double cast is not correctly rounded
        # (3600.68 would arrive as 3600.6800000000003)
        array = array.cast(pa.int64()) if kind.scale == 0 else (
            array.cast(pa.string()).cast(pa.float64())
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
    values: list[Any] = array.to_pylist()
    if plain:
        return values, {}, array
    return (*_convert_list(item, conv, values), None)


def _convert_list(item: FieldMap, conv: Converter, values: list[Any]) -> tuple[list[Any], Failures]:
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
