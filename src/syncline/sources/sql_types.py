"""Database column types to Arrow: the schema of a model's batches, fixed before the first row.

Types come from the cursor (PostgreSQL OIDs, MySQL field codes), from SQLite's declared types
(through a temporary view, since a SQLite cursor has none), or, for warehouse drivers whose type
codes differ, from the first batch's values. Each column is then converted with its fixed type,
and a value that does not fit is a ``ModelError`` naming the column and the cast to add.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlglot import exp

from syncline.errors import ModelError

__all__ = ["arrow_type", "describe_cursor", "infer_type", "sqlite_describe", "to_arrow"]

_INT = {"int", "integer", "int2", "int4", "int8", "smallint", "bigint", "tinyint", "mediumint",
        "serial", "bigserial", "long", "longlong", "short", "tiny", "int24", "year"}
_FLOAT = {"float", "float4", "float8", "real", "double", "double precision"}
_BINARY = {"bytea", "blob", "binary", "varbinary", "bytes"}
_TEXT_LIST = pa.list_(pa.string())
# pymysql FIELD_TYPE codes -> a type name; blobs are also TEXT columns, so they map to text
_MYSQL_CODES = {0: "decimal", 1: "tinyint", 2: "smallint", 3: "int", 4: "float", 5: "double",
                6: "null", 7: "timestamp", 8: "bigint", 9: "mediumint", 10: "date", 11: "time",
                12: "datetime", 13: "year", 14: "date", 15: "varchar", 16: "bit", 245: "json",
                246: "decimal", 247: "enum", 248: "set", 249: "text", 250: "text", 251: "text",
                252: "text", 253: "varchar", 254: "char", 255: "geometry"}


def arrow_type(type_name: str, scale: int | None = None) -> pa.DataType:
    """Arrow type for a database type name: every type streams, arrays as lists of text."""
    name = type_name.lower().split("(")[0].strip()
    if name.endswith("[]") or name.startswith("_"):
        return _TEXT_LIST  # arrays: a multi-value property, each value as text
    if name in {"interval", "geometry", "bit"}:
        return pa.string()  # read as text so the model streams; the mapping refuses to send it
    if name in _INT:
        return pa.int64()
    if name in _FLOAT:
        return pa.float64()
    if name in {"numeric", "decimal", "number"}:
        return pa.decimal128(38, scale if scale is not None and 0 <= scale <= 38 else 10)
    if name in {"bool", "boolean"}:
        return pa.bool_()
    if name == "date":
        return pa.date32()
    if name in {"timestamp", "datetime", "timestamp without time zone"}:
        return pa.timestamp("us")
    if name in {"timestamptz", "timestamp with time zone"}:
        return pa.timestamp("us", tz="UTC")
    if name in _BINARY:
        return pa.binary()
    # enums, domains and other named types arrive as text
    return pa.string()


def _sqlite_type(declared: str) -> pa.DataType | None:
    """SQLite's type affinity rules (https://sqlite.org/datatype3.html), plus dates and bools."""
    d = declared.upper()
    if not d:
        return None
    if "INT" in d:
        return pa.int64()
    if any(k in d for k in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in d:
        return pa.binary()
    if "BOOL" in d:
        return pa.bool_()
    if "DATETIME" in d or "TIMESTAMP" in d:
        return pa.timestamp("us")
    if "DATE" in d:
        return pa.date32()
    return pa.float64()


def describe_cursor(
    dialect: str, dbapi: Any, description: Sequence[Any]
) -> list[tuple[str, str, pa.DataType | None]]:
    out: list[tuple[str, str, pa.DataType | None]] = []
    for d in description:
        name, code = d[0], d[1]
        if dialect == "postgresql":
            info = dbapi.adapters.types.get(code)
            type_name = "unknown" if info is None else info.name
            if info is not None and info.array_oid == code:
                type_name += "[]"
            scale = getattr(d, "scale", None)
        elif dialect == "mysql":
            type_name = _MYSQL_CODES.get(code, "unknown")
            scale = d[5]
            if type_name == "tinyint" and d[3] == 1:
                type_name = "boolean"
        else:  # warehouse drivers' type codes differ: the first batch's values decide
            out.append((name, str(code or "unknown"), None))
            continue
        out.append((name, type_name, arrow_type(type_name, scale)))
    return out


def sqlite_describe(
    dbapi: Any, model_sql: str, names: list[str]
) -> list[tuple[str, str, pa.DataType | None]]:
    """Declared types through a temporary view: SQLite has no column types on a cursor."""
    view = exp.to_identifier("_syncline_describe", quoted=True).sql("sqlite")
    cur = dbapi.cursor()
    try:
        cur.execute(f"DROP VIEW IF EXISTS temp.{view}")
        cur.execute(f"CREATE TEMP VIEW {view} AS {model_sql.strip().rstrip(';')}")
        declared = [row[2] for row in cur.execute(f"PRAGMA temp.table_info({view})")]
        cur.execute(f"DROP VIEW temp.{view}")
    except sqlite3.Error:
        declared = [""] * len(names)
    finally:
        cur.close()
    if len(declared) != len(names):
        declared = [""] * len(names)
    return [(n, d or "any", _sqlite_type(d)) for n, d in zip(names, declared, strict=True)]


def infer_type(values: list[Any]) -> pa.DataType:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return pa.bool_()
    if isinstance(sample, Decimal):
        return pa.decimal128(38, 10)
    if isinstance(sample, dt.datetime):
        return pa.timestamp("us", tz=None if sample.tzinfo is None else "UTC")
    if isinstance(sample, dt.date):
        return pa.date32()
    if isinstance(sample, int):
        return pa.int64()
    if isinstance(sample, float):
        return pa.float64()
    if isinstance(sample, bytes):
        return pa.binary()
    return pa.string()


def _as_text(value: object) -> object:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _as_bool(value: object) -> object:
    # SQLite and MySQL keep booleans as 0/1 integers
    if type(value) is int and value in (0, 1):
        return bool(value)
    return value


def _as_text_list(value: object) -> object:
    if isinstance(value, list | tuple):
        return [None if v is None else _as_text(v) for v in value]
    return value


_CONVERT: dict[pa.DataType, Callable[[object], object]] = {
    pa.string(): _as_text,
    pa.bool_(): _as_bool,
    _TEXT_LIST: _as_text_list,
}


def to_arrow(values: list[Any], field: pa.Field, source: str) -> pa.Array:
    """One column of a batch; a value that does not fit the column's type is a ModelError."""
    convert = _CONVERT.get(field.type)
    if convert is not None:
        values = [convert(v) for v in values]
    elif pa.types.is_decimal(field.type):
        # PostgreSQL's numeric NaN and ±Infinity: no Arrow decimal holds them, and JSON cannot
        # carry them either; they are nulls (issue #11)
        values = [None if isinstance(v, Decimal) and not v.is_finite() else v for v in values]
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        if all(v is None or isinstance(v, str) for v in values):
            try:  # SQLite keeps dates, timestamps and decimals as text
                return pa.array(values, type=pa.string()).cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        bad = next((v for v in values if not _fits(v, field.type)), None)
        raise ModelError(
            f"source `{source}`: column `{field.name}` holds {bad!r}, which does not fit its "
            f"type {field.type} ({exc}); the table may have changed shape or mixes types. "
            f'Cast the column in the model query, e.g. `CAST("{field.name}" AS TEXT)`'
        ) from exc


def _fits(value: object, typ: pa.DataType) -> bool:
    try:
        pa.array([value], type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    return True
