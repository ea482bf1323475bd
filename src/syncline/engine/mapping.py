"""Resolve a sync's mappings against the model's columns: which CleverTap field each column feeds.

The sync key of a profile sync becomes the record's identity field and is *not* also sent as a
property (unless mapped explicitly): CleverTap already stores the identity on the profile.
Turning rows into records is ``engine.builder``'s job; converting values is ``engine.convert``'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from syncline.config.models import ColumnMapping, FieldType, MultiValue, SyncConfig
from syncline.destinations.clevertap import rules
from syncline.destinations.clevertap.records import STANDARD_PROFILE_FIELDS, phone_region_error
from syncline.engine.column_types import ColumnKind, column_kind, infer_type
from syncline.errors import ConfigError, ModelError
from syncline.sources.base import Column

__all__ = ["FieldMap", "ResolvedMapping", "resolve_mapping", "standard_field"]

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


@dataclass(frozen=True)
class FieldMap:
    """One CleverTap field and where its value comes from."""

    field: str
    column: str | None
    constant: object
    type: FieldType
    clear: bool = False
    """A null removes the property (``on_null: clear``) instead of leaving it alone."""
    multi: MultiValue | None = None
    """Sent as a multi-value property, with this operation."""
    json: bool = False
    """The column holds JSON text: arrays become multi-values, objects are refused."""
    phone_region: str | None = None
    """The Phone field: the ISO country of numbers written without ``+`` (sent in E.164)."""


@dataclass(frozen=True)
class ResolvedMapping:
    """A sync's mapping resolved against the model's actual columns."""

    fields: tuple[FieldMap, ...]
    hash_columns: tuple[str, ...]
    fingerprint: str
    warnings: tuple[str, ...] = ()
    """Columns ``sync_all`` left out because Syncline cannot send them, one line each."""

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
    warnings: list[str] = []
    fields = _fields(sync_name, sync, types, need, set(special), warnings)
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
        "fields": [_fingerprinted(f) for f in fields],
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return ResolvedMapping(tuple(fields), hash_columns, digest, tuple(warnings))


def _fingerprinted(f: FieldMap) -> list[object]:
    # what existed before multi-values and JSON is listed exactly as it was, so upgrading
    # Syncline does not change a mapping's fingerprint (which would resend every row)
    extra = [f.multi or "", f.json] if f.multi or f.json else []
    region = [f.phone_region] if f.phone_region and f.field == "Phone" else []
    return [f.field, f.column, repr(f.constant), f.type, f.clear, *extra, *region]


def _fields(
    sync_name: str, sync: SyncConfig, types: dict[str, str], need: Callable[[str, str], str],
    special: set[str], warnings: list[str],
) -> list[FieldMap]:  # fmt: skip
    maps = sync.mappings
    out: dict[str, FieldMap] = {}
    explicit: set[str] = set()
    for i, entry in enumerate(maps.columns):
        column = need(entry.from_, f"mappings.columns[{i}].from") if entry.from_ else None
        region = entry.phone_region or sync.phone_region
        if column is None:
            out[entry.to] = FieldMap(entry.to, None, entry.constant, entry.type or "string",
                                     multi=entry.multi_value, phone_region=region)
            continue
        explicit.add(column)
        mapped = _explicit(sync_name, sync, entry, column, types[column])
        out[entry.to] = dataclasses.replace(mapped, phone_region=region)
    if maps.sync_all:
        skip = explicit | special | {need(c, "mappings.exclude") for c in maps.exclude}
        for column in types:
            if column not in skip:
                item = _implicit(sync, column, types[column], warnings)
                if item is not None and item.field not in out:
                    out[item.field] = dataclasses.replace(item, phone_region=sync.phone_region)
    return list(out.values())


def _explicit(
    sync_name: str, sync: SyncConfig, entry: ColumnMapping, column: str, type_name: str
) -> FieldMap:
    """The field a column mapping names; a column that cannot be sent so is a ConfigError."""
    profile = sync.object == "profile"
    kind = column_kind(type_name)
    if kind == "unsupported" or (not profile and (kind == "array" or (
            kind == "json" and entry.type != "string"))):  # fmt: skip
        raise ConfigError(_cannot_send(sync_name, column, type_name, profile))
    standard = STANDARD_PROFILE_FIELDS.get(entry.to) if profile else None
    if standard is not None and (kind == "array" or entry.multi_value):
        raise ConfigError(
            f"sync `{sync_name}`: `{entry.to}` is a CleverTap standard field with one value; "
            f"send column `{column}` as a multi-value under another name (e.g. `to: {entry.to}s`)"
        )
    clear = (entry.on_null or sync.on_null) == "clear" and entry.multi_value in (None, "set")
    if kind == "array":
        return FieldMap(entry.to, column, None, "string", clear, entry.multi_value or "set")
    inferred = cast(FieldType, standard) if standard else infer_type(type_name)
    field_type = entry.type or (inferred if kind == "scalar" else "string")
    # text sent as a multi-value may hold a JSON array (MariaDB and SQLite keep JSON as text)
    json_values = (kind == "json" and entry.type != "string") or (
        kind == "scalar" and entry.multi_value is not None and inferred == "string"
    )
    return FieldMap(entry.to, column, None, field_type, clear, entry.multi_value, json_values)


def _implicit(
    sync: SyncConfig, column: str, type_name: str, warnings: list[str]
) -> FieldMap | None:
    """The field ``sync_all`` makes of a column, or None (and a warning) when it cannot."""
    profile = sync.object == "profile"
    kind = column_kind(type_name)
    if kind == "unsupported" or kind == "json" or (kind == "array" and not profile):
        warnings.append(_skipped(column, type_name, kind))
        return None
    clear = sync.on_null == "clear"
    if kind == "array":  # standard fields hold one value: an array keeps its own name
        return FieldMap(column, column, None, "string", clear, "set")
    standard = profile and sync.mappings.match_standard_fields
    name = (standard_field(column) if standard else None) or column
    standard_type = STANDARD_PROFILE_FIELDS.get(name) if standard else None
    field_type = cast(FieldType, standard_type) if standard_type else infer_type(type_name)
    return FieldMap(name, column, None, field_type, clear)


def _cannot_send(sync_name: str, column: str, type_name: str, profile: bool) -> str:
    """A mapping names a column Syncline cannot send: say what to do instead."""
    kind = column_kind(type_name)
    if kind == "json":
        return (
            f"sync `{sync_name}`: column `{column}` is {type_name}; an event property must be a "
            f"scalar: map it with `type: string` to send the JSON text, or flatten it in the "
            f"model's SQL (e.g. `{column}->>'plan' AS plan` in PostgreSQL)"
        )
    if kind == "array":
        return (
            f"sync `{sync_name}`: column `{column}` is an array ({type_name}); arrays become "
            f"multi-value properties, which only profiles have. Join it to text in the model's "
            f"SQL (e.g. `array_to_string({column}, ',')`) or leave it out"
        )
    where = "" if profile else " as an event property"
    return (
        f"sync `{sync_name}`: column `{column}` has type {type_name}, which Syncline cannot "
        f"send{where}; cast it in the model's SQL (e.g. `CAST({column} AS TEXT)`) or remove "
        f"it from the mapping"
    )


def _skipped(column: str, type_name: str, kind: ColumnKind) -> str:
    """The warning for a column ``sync_all`` leaves out."""
    if kind == "json":
        return (
            f"column `{column}` ({type_name}) is not sent: map it explicitly, with "
            f"`multi_value: set` if it holds arrays or `type: string` for its JSON text, or "
            f"flatten it in the model's SQL (e.g. `{column}->>'plan' AS plan`)"
        )
    if kind == "array":
        return f"column `{column}` ({type_name}) is not sent: event properties are scalars"
    return (
        f"column `{column}` ({type_name}) is not sent: Syncline cannot send this type; cast "
        f"it in the model's SQL (e.g. `CAST({column} AS TEXT)`) or add it to `exclude`"
    )
