"""Resolve a sync's mappings against the model's columns: which CleverTap field each column feeds.

The sync key of a profile sync becomes the record's identity field and is *not* also sent as a
property (unless mapped explicitly): CleverTap already stores the identity on the profile.
Turning rows into records is ``engine.builder``'s job; converting values is ``engine.convert``'s.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from syncline.config.models import FieldType, SyncConfig
from syncline.destinations.clevertap import rules
from syncline.destinations.clevertap.records import STANDARD_PROFILE_FIELDS
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
