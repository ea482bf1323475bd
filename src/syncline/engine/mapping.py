"""Resolve a sync's mappings against the model's columns, and turn Arrow batches into records.

The sync key of a profile sync becomes the record's identity field and is *not* also sent as a
property (unless mapped explicitly): CleverTap already stores the identity on the profile.
Converters are chosen once per field and applied per column, so a million rows map in seconds.
"""

from __future__ import annotations

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
from syncline.destinations.base import Record, Rejection
from syncline.destinations.clevertap import rules
from syncline.destinations.clevertap.records import (
    STANDARD_PROFILE_FIELDS,
    clevertap_date,
    epoch_seconds,
    normalise_standard,
    to_boolean,
    to_number,
    to_string,
)
from syncline.errors import ConfigError, ModelError
from syncline.sources.base import Column

__all__ = ["FieldMap", "RecordBuilder", "ResolvedMapping", "resolve_mapping", "standard_field"]

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
    hash_columns = tuple(dict.fromkeys([*special, *(f.column for f in fields if f.column)]))
    payload = {
        "object": sync.object, "identity_field": sync.identity_field,
        "sync_key": sync.sync_key, "user": sync.user_column, "event_name": sync.event_name,
        "event_name_column": sync.event_name_column, "ts": sync.timestamp_column,
        "items": sync.items_column,
        "fields": [[f.field, f.column, repr(f.constant), f.type, f.send_nulls] for f in fields],
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
        out[entry.to] = FieldMap(entry.to, column, entry.constant, kind, entry.send_nulls)  # type: ignore[arg-type]
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
            out[name] = FieldMap(name, column, None, kind, False)  # type: ignore[arg-type]
    return list(out.values())


Converter = Callable[[Any], Any]


def _converter(item: FieldMap, profile: bool) -> Converter:
    base: Converter = {
        "string": to_string, "number": to_number, "boolean": to_boolean, "date": clevertap_date,
    }[item.type]  # fmt: skip
    if profile and item.field in STANDARD_PROFILE_FIELDS:
        field = item.field
        if field in ("Gender", "Employed", "Married"):
            return lambda v: normalise_standard(field, v if isinstance(v, bool) else to_string(v))
    return base


class _Bad(Exception):
    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


class RecordBuilder:
    """Turns Arrow batches of a sync's model into CleverTap records, one outcome per row."""

    def __init__(self, sync: SyncConfig, mapping: ResolvedMapping) -> None:
        self._sync = sync
        self._mapping = mapping
        self._profile = sync.object == "profile"
        self._convs = [(f, _converter(f, self._profile)) for f in mapping.fields]
        self._fields = tuple(f.field for f in mapping.fields)
        self._send_nulls = frozenset(f.field for f in mapping.fields if f.send_nulls)

    def build(self, batch: pa.RecordBatch) -> list[tuple[str, Record | None, Rejection | None]]:
        """One ``(key, record, None)`` or ``(key, None, rejection)`` per row."""
        names = {n.lower(): n for n in batch.schema.names}

        def col(name: str) -> list[Any]:
            values: list[Any] = batch.column(names.get(name.lower(), name)).to_pylist()
            return values

        n = batch.num_rows
        keys = col(self._sync.sync_key)
        users = col(self._sync.user_column)
        values: list[list[Any]] = [
            _convert_column(f, conv, batch.column(names.get(f.column.lower(), f.column)))
            if f.column
            else _convert_list(f, conv, [f.constant] * n)
            for f, conv in self._convs
        ]
        s = self._sync
        names_col = col(s.event_name_column) if s.event_name_column else None
        ts_col = col(s.timestamp_column) if s.timestamp_column else None
        items_col = col(s.items_column) if s.items_column else None
        out: list[tuple[str, Record | None, Rejection | None]] = []
        rows = zip(*values, strict=True) if values else itertools.repeat((), n)
        for i, row in enumerate(rows):
            key = to_string(keys[i]) if keys[i] is not None else ""
            try:
                data = self._properties(row)
                record = self._record(users[i], data, names_col, ts_col, items_col, i)
                out.append((key, record, None))
            except _Bad as bad:
                out.append((key, None, bad.rejection))
        return out

    def _properties(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """One row's properties: nulls left out (unless sent on purpose), bad values raised."""
        if _Bad in map(type, row):
            raise next(v for v in row if type(v) is _Bad)
        data = {f: v for f, v in zip(self._fields, row, strict=True) if v is not None}
        if self._send_nulls:
            data.update((f, None) for f, v in zip(self._fields, row, strict=True)
                        if v is None and f in self._send_nulls)
        return data

    def _record(
        self, user: Any, data: dict[str, Any], names_col: list[Any] | None,
        ts_col: list[Any] | None, items_col: list[Any] | None, i: int,
    ) -> Record:  # fmt: skip
        s = self._sync
        identity = to_string(user) if user is not None else ""
        if self._profile:
            return {s.identity_field: identity, "type": "profile", "profileData": data}
        name = s.event_name if names_col is None else names_col[i]
        record: Record = {s.identity_field: identity, "type": "event", "evtName": name}
        if ts_col is not None and s.timestamp_column:
            try:
                record["ts"] = epoch_seconds(ts_col[i])
            except ValueError as exc:
                raise _Bad(
                    Rejection(
                        "bad_value", f"column `{s.timestamp_column}`: {exc}", s.timestamp_column
                    )
                ) from exc
        if items_col is not None and s.items_column and items_col[i] is not None:
            data["Items"] = _items(items_col[i], s.items_column)
        record["evtData"] = data
        return record


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


def _convert_column(item: FieldMap, conv: Converter, array: pa.Array) -> list[Any]:
    """Convert a whole column; Arrow types that already match skip per-value conversion."""
    kind = array.type
    if item.type == "date" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        if pa.types.is_date(kind):
            array = array.cast(pa.timestamp("s"))
        unit = pa.timestamp("s", tz=getattr(array.type, "tz", None))
        seconds = pc.cast(array, unit, safe=False).cast(pa.int64())
        return [None if v is None else f"$D_{v}" for v in seconds.to_pylist()]
    if item.type == "number" and pa.types.is_decimal(kind):
        # through text: Arrow's direct decimal → double cast is not correctly rounded
        # (3600.68 would arrive as 3600.6800000000003)
        array = array.cast(pa.int64()) if kind.scale == 0 else (
            array.cast(pa.string()).cast(pa.float64())
        )
        kind = array.type
    plain = (
        (item.type == "string" and pa.types.is_string(kind) and conv is to_string)
        or (item.type == "number" and (pa.types.is_integer(kind) or pa.types.is_floating(kind)))
        or (item.type == "boolean" and pa.types.is_boolean(kind))
    )
    values: list[Any] = array.to_pylist()
    return values if plain else _convert_list(item, conv, values)


def _convert_list(item: FieldMap, conv: Converter, values: list[Any]) -> list[Any]:
    try:
        return [None if v is None else conv(v) for v in values]
    except (ValueError, TypeError):
        pass
    out: list[Any] = []
    for value in values:
        try:
            out.append(None if value is None else conv(value))
        except (ValueError, TypeError) as exc:
            where = item.column or item.field
            out.append(_Bad(Rejection(
                "bad_value",
                f"column `{where}`: value {value!r} is not a valid {item.type} ({exc})", where,
            )))  # fmt: skip
    return out
