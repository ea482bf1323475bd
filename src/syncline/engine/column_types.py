"""What Syncline can send from a column, judged by the source's own type name.

Sources name types their own way (DuckDB ``VARCHAR[]``, ``STRUCT(a INTEGER)``; PostgreSQL
``text[]``, ``jsonb``, ``bytea``; MySQL ``json``), and the mapping is resolved from those names
before any row is read, so a column that cannot be sent is known at configuration time:
``sync_all`` then leaves it out with a warning, and a mapping naming it is a configuration error.
"""

from __future__ import annotations

import re
from typing import Literal

from syncline.config.models import FieldType

__all__ = ["ColumnKind", "column_kind", "element_type", "infer_type"]

ColumnKind = Literal["scalar", "array", "json", "unsupported"]
"""``array``: a list of scalars (a multi-value property); ``json``: JSON text whose values may
be scalars, arrays or objects; ``unsupported``: nothing CleverTap takes (binary, intervals,
geometry, structs, maps)."""

_ARRAY_SUFFIX = re.compile(r"\[\d*\]$")
_JSON = frozenset({"JSON", "JSONB"})
_UNSUPPORTED = frozenset({
    "STRUCT", "MAP", "UNION", "ROW", "INTERVAL", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB",
    "BYTEA", "BINARY", "VARBINARY", "BYTES", "BIT", "VARBIT", "BIT VARYING", "GEOMETRY",
    "GEOGRAPHY", "POINT", "LINE", "LSEG", "BOX", "PATH", "POLYGON", "CIRCLE", "TSVECTOR",
    "TSQUERY", "HSTORE",
})  # fmt: skip


def _base(type_name: str) -> str:
    return type_name.split("(")[0].strip().upper()


def element_type(type_name: str) -> str | None:
    """The element type of an array type (``VARCHAR[]`` → ``VARCHAR``), else None."""
    name = type_name.strip()
    if _ARRAY_SUFFIX.search(name):
        return _ARRAY_SUFFIX.sub("", name)
    if name.startswith("_") and len(name) > 1:  # PostgreSQL's internal array names: _text
        return name[1:]
    return None


def column_kind(type_name: str) -> ColumnKind:
    """How a column of this source type can be sent (see ``ColumnKind``)."""
    element = element_type(type_name)
    if element is not None:
        return "array" if column_kind(element) == "scalar" else "unsupported"
    base = _base(type_name)
    if base in _JSON:
        return "json"
    if base in _UNSUPPORTED:
        return "unsupported"
    return "scalar"


def infer_type(type_name: str) -> FieldType:
    """The CleverTap data type a scalar column's values are sent as."""
    text = type_name.upper()
    if "DATE" in text or "TIMESTAMP" in text or text == "TIME":
        return "date"
    if "BOOL" in text:
        return "boolean"
    if any(w in text for w in ("INT", "DECIMAL", "NUMERIC", "FLOAT", "DOUBLE", "REAL")):
        return "number"
    return "string"
