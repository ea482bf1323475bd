"""SQL sources through SQLAlchemy 2: SQLite, PostgreSQL, MySQL/MariaDB and warehouse dialects.

Rows leave the database through a server-side cursor (``stream_results`` + ``yield_per``) and
become Arrow batches with a schema fixed from the column types before the first row, so memory
stays flat and every batch of a model has the same schema. Model queries run in a read-only
transaction where the database has one, so a model can never change the data it reads.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlglot import exp

from syncline.config.sources import (
    SnowflakeSourceConfig,
    SQLiteSourceConfig,
    SQLSourceConfig,
)
from syncline.errors import ConfigError, ModelError, SourceError
from syncline.sources._optional import require_for
from syncline.sources.base import Column, SourceCapabilities

__all__ = ["SQLSource", "SQLSourceConfig", "open_sql_source", "quote_table"]

# source type -> (SQLAlchemy driver name, sqlglot dialect)
_DIALECTS: dict[str, tuple[str, str]] = {
    "sqlite": ("sqlite+pysqlite", "sqlite"),
    "postgres": ("postgresql+psycopg", "postgres"),
    "mysql": ("mysql+pymysql", "mysql"),
    "mariadb": ("mysql+pymysql", "mysql"),
    "redshift": ("redshift+psycopg2", "redshift"),
    "snowflake": ("snowflake", "snowflake"),
    "bigquery": ("bigquery", "bigquery"),
    "databricks": ("databricks", "databricks"),
}
_SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
_BEGIN_READ_ONLY = {
    "postgresql": "SET TRANSACTION READ ONLY",
    "mysql": "START TRANSACTION READ ONLY",
}

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


def quote_table(dialect: str, schema: str | None, table: str) -> str:
    """``schema.table`` as SQL with both parts quoted for ``dialect`` (a sqlglot name)."""
    return exp.table_(table, db=schema, quoted=True).sql(dialect=dialect)


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


class SQLSource:
    """A SQLAlchemy-backed source; see ``open_sql_source``."""

    def __init__(self, name: str, engine: sa.Engine, dialect: str, writable: bool) -> None:
        self.name = name
        self.capabilities = SourceCapabilities(dialect=dialect, writable=writable)
        self._engine = engine

    def check(self) -> None:
        """Connect and run ``SELECT 1``."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "connecting") from exc

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine: the planner runs the pushed-down diff through it."""
        return self._engine

    def schemas(self) -> list[str]:
        """Schemas (databases on MySQL) that are not the engine's own catalogs."""
        try:
            names = sa.inspect(self._engine).get_schema_names()
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "listing schemas") from exc
        # Syncline's own snapshot schema (diff pushed down) is not a place to pick models from
        return sorted(n for n in names if n.lower() not in _SYSTEM_SCHEMAS | {"syncline"})

    def tables(self, schema: str) -> list[str]:
        """Tables and views of ``schema``."""
        if schema not in self.schemas():
            raise ModelError(
                f"source `{self.name}`: schema `{schema}` does not exist "
                f"(known: {', '.join(self.schemas()) or 'none'})"
            )
        try:
            insp = sa.inspect(self._engine)
            found = {*insp.get_table_names(schema), *insp.get_view_names(schema)}
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, f"listing tables of `{schema}`") from exc
        return sorted(t for t in found if not t.startswith("syncline_"))  # SQLite snapshots

    def columns(self, model_sql: str) -> list[Column]:
        """Columns of a model with the database's type names (runs it with LIMIT 0)."""
        return [Column(name, type_name) for name, type_name, _ in self._describe(model_sql)]

    def stream(self, model_sql: str, batch_rows: int = 10_000) -> Iterator[pa.RecordBatch]:
        """Stream a model through a server-side cursor as Arrow batches of ``batch_rows``."""
        # every column streams, whatever its type: whether it can be sent is the mapping's call,
        # and a column the mapping leaves out must never stop the model
        described = self._describe(model_sql)
        try:
            with self._engine.connect() as conn:
                self._begin_read_only(conn)
                result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(
                    _text(_select_all(model_sql))
                )
                try:
                    yield from self._batches(result, described, batch_rows)
                finally:
                    # a reader that stops early leaves rows on an unbuffered MySQL cursor
                    result.close()
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "reading the model") from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def _describe(self, model_sql: str) -> list[tuple[str, str, pa.DataType | None]]:
        sql = f"{_select_all(model_sql)} LIMIT 0"
        try:
            with self._engine.connect() as conn:
                self._begin_read_only(conn)
                result = conn.execute(_text(sql))
                description = result.cursor.description
                dbapi = conn.connection.dbapi_connection
                result.close()
                if self.capabilities.dialect == "sqlite":
                    return _sqlite_describe(dbapi, model_sql, [d[0] for d in description])
                return _describe_cursor(self._engine.dialect.name, dbapi, description)
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(exc, "reading the model's columns") from exc

    def _batches(
        self,
        result: sa.CursorResult[Any],
        described: list[tuple[str, str, pa.DataType | None]],
        batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        self._same_shape(list(result.keys()), [n for n, _, _ in described])
        partitions = result.partitions(batch_rows)
        first = next(partitions, None)
        if first is None:
            return
        # SQLite expressions and warehouse drivers give no usable type: the values decide
        schema = pa.schema([
            (n, t or _infer([row[i] for row in first])) for i, (n, _, t) in enumerate(described)
        ])
        yield self._batch(first, schema)
        for rows in partitions:
            yield self._batch(rows, schema)

    def _same_shape(self, got: list[str], expected: list[str]) -> None:
        # the columns were read by an earlier query; an ALTER TABLE in between changes them
        if got != expected:
            raise ModelError(
                f"source `{self.name}`: the model's columns changed while it was being read "
                f"(expected {expected}, got {got}); run the sync again once the table's shape "
                f"is settled, and update its mappings if columns were renamed or dropped"
            )

    def _begin_read_only(self, conn: sa.Connection) -> None:
        statement = _BEGIN_READ_ONLY.get(self._engine.dialect.name)
        if statement is not None:
            conn.exec_driver_sql(statement)

    def _batch(self, rows: Sequence[sa.Row[Any]], schema: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for i, field in enumerate(schema):
            values = [row[i] for row in rows]
            arrays.append(_to_arrow(values, field, self.name))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _error(self, exc: sa.exc.SQLAlchemyError, doing: str) -> SourceError:
        return map_sql_error(exc, f"source `{self.name}` ({self.capabilities.dialect})", doing)


def _select_all(model_sql: str) -> str:
    """A SELECT over the model: a bare query is wrapped, a relation (``"s"."t"`` or
    ``(query) AS alias``, as ``sources.registry.model_sql`` renders them) is selected from."""
    body = model_sql.strip().rstrip(";").strip()
    if body.upper().startswith(("SELECT", "WITH")):
        return f"SELECT * FROM ({body}) AS _syncline_model"
    return f"SELECT * FROM {body}"


def _text(sql: str) -> sa.TextClause:
    # a colon in user SQL ('10:30', ::casts) must not become a bind parameter
    return sa.text(sql.replace(":", "\\:"))


def _describe_cursor(
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


def _sqlite_describe(
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


def _infer(values: list[Any]) -> pa.DataType:
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


def _to_arrow(values: list[Any], field: pa.Field, source: str) -> pa.Array:
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


_MESSAGES: list[tuple[tuple[str, ...], type[SourceError], str]] = [
    (("password authentication failed", "access denied for user", "role \"",
      "authentication failed"), SourceError,
     "the database refused the credentials; check `user` and `password` (or the env var "
     "the password comes from)"),
    (("connection refused", "could not translate host name", "can't connect",
      "name or service not known", "timeout expired", "could not connect", "unknown mysql server"),
     SourceError, "the database server cannot be reached; check `host` and `port`, and that "
     "the server is running and accepts connections from this machine"),
    (("unable to open database file",), SourceError,
     "the SQLite file cannot be opened; check `path`"),
    (("database \"", "unknown database"), SourceError,
     "the database does not exist; check `database` (or the URL's path)"),
    (("no such table", "does not exist", "doesn't exist", "unknown table"), ModelError,
     "a table in the model does not exist; check the schema and table names "
     "(identifiers are case-sensitive when quoted)"),
    (("syntax error", "error in your sql syntax", "incomplete input"), ModelError,
     "the model's SQL has a syntax error; fix the query"),
    (("no such column", "unknown column", "column \""), ModelError,
     "a column in the model does not exist; check its name"),
    (("read-only", "read only", "readonly"), ModelError,
     "the model tried to write; a model must be a SELECT"),
]


def map_sql_error(exc: sa.exc.SQLAlchemyError, where: str, doing: str) -> SourceError:
    """A driver error as a ``SourceError``/``ModelError`` that says what to fix."""
    orig = getattr(exc, "orig", None) or exc
    detail = " ".join(str(orig).split())
    low = detail.lower()
    for needles, cls, advice in _MESSAGES:
        if any(n in low for n in needles):
            return cls(f"{where}: error while {doing}: {advice} ({detail})")
    return SourceError(f"{where}: error while {doing}: {detail}")


def _url(config: SQLSourceConfig, driver: str) -> sa.URL | str:
    if isinstance(config, SQLiteSourceConfig):
        raise TypeError("SQLite sources are opened from a path")
    if config.url is not None:
        return config.url.get_secret_value()
    query = dict(config.query)
    if isinstance(config, SnowflakeSourceConfig):
        query |= {k: v for k, v in (("warehouse", config.warehouse), ("role", config.role)) if v}
    return sa.URL.create(
        driver,
        username=config.user,
        password=None if config.password is None else config.password.get_secret_value(),
        host=config.host,
        port=config.port,
        database=config.database,
        query=query,
    )


def _sqlite_engine(name: str, config: SQLiteSourceConfig, root: Path) -> sa.Engine:
    path = Path(config.path)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise ConfigError(
            f"source `{name}`: SQLite file `{path}` does not exist; check `path` "
            f"(relative paths start at the project folder `{root}`)"
        )
    # models only read: the file is opened read-only whatever `read_only` says
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    return sa.create_engine(
        "sqlite+pysqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=sa.NullPool
    )


def open_sql_source(name: str, config: SQLSourceConfig, root: Path) -> SQLSource:
    """Open a SQL source; a missing driver is a ``ConfigError`` naming the extra to install.

    Args:
        name: the source's name in ``syncline.yml`` (used in every message).
        config: its validated config.
        root: the project folder, against which a relative SQLite path resolves.
    """
    driver, dialect = _DIALECTS[config.type]
    if isinstance(config, SQLiteSourceConfig):
        return SQLSource(name, _sqlite_engine(name, config, root), dialect, not config.read_only)
    require_for(config.type, source=name)
    try:
        engine = sa.create_engine(_url(config, driver), pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            f"source `{name}`: `url` is not a valid SQLAlchemy URL for {config.type} ({exc}); "
            f"expected e.g. `{driver}://user:${{PASSWORD}}@host:port/database`"
        ) from exc
    return SQLSource(name, engine, dialect, not config.read_only)
